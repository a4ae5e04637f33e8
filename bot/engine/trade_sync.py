"""`dcabot sync` and `/sync`: the account's trade list from the exchange, in the books.

Each order the exchange lists since the last sync is matched to the bot's own (by exchange order
id, or by client order id, asked of the exchange when its trade list does not carry it):

- an order of the bot still waiting for its answer, or recorded as never placed, is booked as
  the exchange says (`record_fill`, exactly as reconciliation would, loudly for the latter);
- an order of the bot recorded with other amounts is corrected to the exchange's, and the owner
  is told what changed (the reserve is not re-booked: the alert says so);
- an order the bot did not make (a trade by hand) is recorded as `external`: it counts in the
  holdings' average cost and in P&L, and is listed as such.

Booking is idempotent (an external order's id is derived from the exchange's), so a repeated or
overlapping sync changes nothing; the cursor is saved after the orders it covered.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from bot.engine.context import Engine
from bot.engine.order_records import record_fill
from bot.engine.orders import fee_values
from bot.exchanges.base import Fill
from bot.exchanges.markets import gold_symbol
from bot.exchanges.trade_history import ExchangeOrder
from storage import orders as order_rows
from storage import outbox
from storage.models import Order, OrderFee, TradeSync

EXTERNAL = "external"


@dataclass
class SyncResult:
    exchange: str
    mode: str
    linked: int = 0
    added: int = 0
    corrected: list[str] = field(default_factory=list)


def _cursor(engine: Engine, symbol: str) -> str:
    with engine.db.transaction() as session:
        row = session.get(TradeSync, (engine.exchange.name, engine.exchange.mode, symbol))
        return row.cursor if row is not None else ""


def _save_cursor(engine: Engine, symbol: str, cursor: str) -> None:
    key = (engine.exchange.name, engine.exchange.mode, symbol)
    with engine.db.transaction() as session:
        row = session.get(TradeSync, key, with_for_update=True)
        if row is None:
            session.add(TradeSync(exchange=key[0], mode=key[1], symbol=symbol, cursor=cursor,
                                  synced_at=engine.clock()))
        else:
            row.cursor, row.synced_at = cursor, engine.clock()


def _mine(engine: Engine, fill: Fill) -> Order | None:
    name, mode = engine.exchange.name, engine.exchange.mode
    match = Order.exchange_order_id == fill.exchange_order_id
    if fill.client_order_id:
        match = or_(match, Order.client_order_id == fill.client_order_id)
    with engine.db.transaction() as session:
        return session.scalars(select(Order).where(
            Order.exchange == name, Order.mode == mode, match)).first()


def external_id(engine: Engine, fill: Fill) -> str:
    return f"ext-{engine.exchange.name}-{engine.exchange.mode}-{fill.exchange_order_id}"[:64]


async def _record_external(engine: Engine, listed: ExchangeOrder) -> bool:
    fill, name, mode = listed.fill, engine.exchange.name, engine.exchange.mode
    values = await fee_values(engine, fill)
    try:
        with engine.db.transaction() as session:
            order = Order(
                client_order_id=external_id(engine, fill), cause=EXTERNAL, cause_key="",
                side=fill.side, symbol=fill.symbol, exchange=name, mode=mode,
                status=order_rows.FILLED, requested_quote=None, requested_base=None,
                filled_base=fill.amount, filled_quote=fill.cost, price=fill.price,
                fee=fill.fee, fee_asset=fill.fee_asset,
                exchange_order_id=fill.exchange_order_id, requested_by="on the exchange",
                created_at=listed.at, updated_at=listed.at,
            )
            session.add(order)
            session.flush()
            for asset, amount in fill.fees or ((fill.fee_asset, fill.fee),):
                session.add(OrderFee(order_id=order.id, asset=asset, amount=amount,
                                     quote_value=values.get(asset)))
    except IntegrityError:  # booked by an earlier (or concurrent) sync
        return False
    return True


def _correct(engine: Engine, mine: Order, fill: Fill) -> str | None:
    """Make a filled order say what the exchange says; what changed, or None."""
    was = (mine.filled_base or Decimal(0), mine.filled_quote or Decimal(0))
    if was == (fill.amount, fill.cost):
        return None
    with engine.db.transaction() as session:
        row = session.get(Order, mine.id, with_for_update=True)
        assert row is not None
        row.filled_base, row.filled_quote, row.price = fill.amount, fill.cost, fill.price
        row.fee, row.fee_asset = fill.fee, fill.fee_asset  # its time stays when it filled
    return (f"{mine.client_order_id}: {was[0]} for {was[1]} -> {fill.amount} for {fill.cost} "
            f"{fill.symbol}")


async def _book(engine: Engine, listed: ExchangeOrder, result: SyncResult) -> None:
    fill = listed.fill
    mine = _mine(engine, fill)
    if mine is None and not fill.client_order_id:
        asked = await engine.exchange.client_order_id_of(fill.symbol, fill.exchange_order_id)
        if asked:
            fill = replace(fill, client_order_id=asked)
            mine = _mine(engine, fill)
    if mine is None:
        result.added += await _record_external(engine, listed)
        return
    result.linked += 1
    if mine.status == order_rows.FILLED:
        changed = _correct(engine, mine, fill)
        if changed:
            result.corrected.append(changed)
    elif mine.cause != EXTERNAL:  # waiting for its answer, or recorded as never placed
        record_fill(engine, mine.client_order_id, fill, await fee_values(engine, fill))


def _markets(engine: Engine) -> list[str]:
    gold = gold_symbol(engine.exchange.name)
    with engine.db.transaction() as session:
        traded_gold = session.scalar(select(Order.id).where(
            Order.exchange == engine.exchange.name, Order.symbol == gold).limit(1))
    return [engine.symbol] + ([gold] if traded_gold is not None else [])


async def sync_trades(engine: Engine) -> SyncResult:
    result = SyncResult(engine.exchange.name, engine.exchange.mode)
    for symbol in _markets(engine):
        page = await engine.exchange.trade_history(symbol, _cursor(engine, symbol))
        for listed in page.orders:
            await _book(engine, listed, result)
        _save_cursor(engine, symbol, page.cursor)
    if result.added or result.corrected:
        with engine.db.transaction() as session:
            outbox.enqueue(session, kind="trades_synced", now=engine.clock(), urgent=bool(
                result.corrected), payload={
                    "exchange": result.exchange, "mode": result.mode, "linked": result.linked,
                    "added": result.added, "corrected": result.corrected[:10]})
    return result
