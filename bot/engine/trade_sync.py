"""`dcabot sync` and `/sync`: the account's trade list from the exchange, in the books.

Each order the exchange lists since the last sync is matched to the bot's own (by exchange order
id, or by client order id, asked of the exchange when its trade list does not carry it):

- an order of the bot still waiting for its answer, or recorded as never placed, is booked as
  the exchange says (`record_fill`, exactly as reconciliation would, loudly for the latter);
- an order of the bot recorded with other amounts is corrected to the exchange's, and the owner
  is told what changed (the reserve is not re-booked: the alert says so);
- an order the bot did not make (a trade by hand) is recorded as `external`: it counts in the
  holdings' average cost and in P&L, and is listed as such; one still executing (a resting
  order part filled) is not booked yet, and the cursor stays before its first trade, so the
  next sync reads all of it once it is done.

Booking is idempotent (an external order's id is derived from the exchange's and its market),
so a repeated or overlapping sync changes nothing; the cursor is saved after what it covered.
A correction compares the base amount exactly and the quote to a millionth of a USDT (an
order's cost and the sum of its trades may round differently), and rewrites its fee rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from bot.engine import carry_settlement
from bot.engine.context import Engine
from bot.engine.order_records import FeeValues, record_fill
from bot.engine.orders import fee_values
from bot.exchanges.base import Fill
from bot.exchanges.markets import gold_symbol
from bot.exchanges.trade_history import ExchangeOrder
from storage import ledger, outbox
from storage import orders as order_rows
from storage.models import Order, OrderFee, TradeSync

EXTERNAL = "external"
QUOTE_TOLERANCE = Decimal("0.000001")


@dataclass
class SyncResult:
    exchange: str
    mode: str
    linked: int = 0
    added: int = 0
    corrected: list[str] = field(default_factory=list)
    waiting: int = 0  # orders of the list still executing: booked once they are done


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
    match = Order.exchange_order_id == fill.exchange_order_id  # ids are per market (Binance)
    if fill.client_order_id:
        match = or_(match, Order.client_order_id == fill.client_order_id)
    with engine.db.transaction() as session:
        return session.scalars(select(Order).where(
            Order.exchange == name, Order.mode == mode, Order.symbol == fill.symbol,
            match)).first()


def external_id(engine: Engine, fill: Fill) -> str:
    market = fill.symbol.replace("/", "")
    return (f"ext-{engine.exchange.name}-{engine.exchange.mode}-{market}-"
            f"{fill.exchange_order_id}")[:64]


async def _record_external(engine: Engine, listed: ExchangeOrder) -> bool:
    values = await fee_values(engine, listed.fill)
    return await engine.db.run(_insert_external, engine, listed, values)


def _insert_external(engine: Engine, listed: ExchangeOrder, values: FeeValues) -> bool:
    fill, name, mode = listed.fill, engine.exchange.name, engine.exchange.mode
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


def _correct(engine: Engine, mine: Order, fill: Fill, values: dict[str, Decimal | None]
             ) -> str | None:
    """Make a filled order say what the exchange says; what changed, or None."""
    was = (mine.filled_base or Decimal(0), mine.filled_quote or Decimal(0))
    if was[0] == fill.amount and abs(was[1] - fill.cost) <= QUOTE_TOLERANCE:
        return None
    with engine.db.transaction() as session:
        ledger.account(session, mine.exchange, mine.mode, engine.clock())  # carry moves under it
        row = session.get(Order, mine.id, with_for_update=True)
        assert row is not None
        booked = row.filled_quote or Decimal(0)  # as locked: another sync may have corrected it
        if row.filled_base == fill.amount and abs(booked - fill.cost) <= QUOTE_TOLERANCE:
            return None
        row.filled_base, row.filled_quote, row.price = fill.amount, fill.cost, fill.price
        row.fee, row.fee_asset = fill.fee, fill.fee_asset  # its time stays when it filled
        session.execute(delete(OrderFee).where(OrderFee.order_id == row.id))
        for asset, amount in fill.fees or ((fill.fee_asset, fill.fee),):
            session.add(OrderFee(order_id=row.id, asset=asset, amount=amount,
                                 quote_value=values.get(asset)))
        carry_settlement.correct(session, row, booked, engine.clock())
    return (f"{mine.client_order_id}: {was[0]} for {was[1]} -> {fill.amount} for {fill.cost} "
            f"{fill.symbol}")


async def _book(engine: Engine, listed: ExchangeOrder, result: SyncResult) -> bool:
    """Book one listed order; False when it is still executing (not booked: read again)."""
    fill, db = listed.fill, engine.db
    mine = await db.run(_mine, engine, fill)
    if mine is None:
        asked, done = await engine.exchange.order_status(fill.symbol, fill.exchange_order_id)
        if asked and not fill.client_order_id:
            fill = replace(fill, client_order_id=asked)
            mine = await db.run(_mine, engine, fill)
        if mine is None and not done:
            return False
    if mine is None:
        result.added += await _record_external(engine, replace(listed, fill=fill))
        return True
    result.linked += 1
    if mine.status == order_rows.FILLED:
        changed = await db.run(_correct, engine, mine, fill, await fee_values(engine, fill))
        if changed:
            result.corrected.append(changed)
    elif mine.cause != EXTERNAL:  # waiting for its answer, or recorded as never placed
        fees = await fee_values(engine, fill)
        await db.run(record_fill, engine, mine.client_order_id, fill, fees)
    return True


def _markets(engine: Engine) -> list[str]:
    gold = gold_symbol(engine.exchange.name)
    with engine.db.transaction() as session:
        traded_gold = session.scalar(select(Order.id).where(
            Order.exchange == engine.exchange.name, Order.symbol == gold).limit(1))
    return [engine.symbol] + ([gold] if traded_gold is not None else [])


async def sync_trades(engine: Engine) -> SyncResult:
    result, db = SyncResult(engine.exchange.name, engine.exchange.mode), engine.db
    for symbol in await db.run(_markets, engine):
        page = await engine.exchange.trade_history(symbol, await db.run(_cursor, engine, symbol))
        cursor = page.cursor
        for listed in page.orders:
            if not await _book(engine, listed, result):  # still executing: read it all later
                result.waiting += 1
                cursor = str(min(int(cursor or 0), listed.first_key - 1))
        await db.run(_save_cursor, engine, symbol, cursor)
    if result.added or result.corrected:
        await db.transact(outbox.enqueue, kind="trades_synced", now=engine.clock(), urgent=bool(
            result.corrected), payload={
                "exchange": result.exchange, "mode": result.mode, "linked": result.linked,
                "added": result.added, "corrected": result.corrected[:10]})
    return result
