"""Trading an S4 rotation: sell all of the asset S4 leaves, buy the other with the proceeds.

The legs are two orders of cause `rotation` whose cause keys derive from the decision
(`<key>:sell`, `<key>:buy`, attempts `#2`...), so their client order ids do too: a crash between
the legs resumes with the buy leg once and never repeats the sell (`orders.place_order` looks an
intent up before sending). The sell's proceeds stay held (`storage.holds`, on the sell order)
until the buy leg's intent spends them, so no other order can take them in between.

Each call looks at what the legs' orders say and does the next step; it is called by the watch,
and again every minute (`keep_settling`) while the rotation is open. When the exchange cannot be
reached the rotation waits (`retrying`) with backoff within `DCABOT_MISSED_RUN_GRACE` of its
decision, then is recorded `missed`. It ends `done` or `refused` (the exchange refused a leg, or
there was nothing to sell) with one `s4_rotation` alert carrying both legs and the holdings.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.engine.context import Engine
from bot.engine.errors import UserError, recorded_in_english
from bot.engine.funds import funds_now, read_balances
from bot.engine.orders import OrderRequest, place_order
from bot.engine.pause import SKIPPED, TradingPaused, paused
from bot.engine.run_outcomes import backoff, grace
from bot.exchanges.base import ExchangeError, ExchangeUnavailable, UnknownMarket
from bot.exchanges.markets import gold_symbol
from bot.exchanges.quantize import fmt_plain, quantize_amount
from storage import holds, orders, outbox, s4
from storage.models import Order, S4Rotation
from strategies.s4 import Asset

log = logging.getLogger(__name__)
CAUSE = "rotation"
SELL, BUY = ":sell", ":buy"


def symbol_of(engine: Engine, asset: Asset) -> str:
    return engine.symbol if asset is Asset.BTC else gold_symbol(engine.exchange.name)


def _legs(engine: Engine, key: str) -> tuple[S4Rotation | None, list[Order], list[Order]]:
    with engine.db.transaction() as session:
        row = s4.by_key(session, key)
        sells = list(orders.for_cause(session, CAUSE, key + SELL))
        buys = list(orders.for_cause(session, CAUSE, key + BUY))
    return row, sells, buys


def _filled(placed: list[Order]) -> Order | None:
    return next((o for o in placed if o.status == orders.FILLED), None)


@recorded_in_english
async def carry_out(engine: Engine, key: str) -> str:
    """Take the rotation `key` one step further; returns where it stands."""
    if key in engine.in_flight:
        return "in progress"
    engine.in_flight.add(key)
    try:
        return await _step(engine, key)
    except UnknownMarket as exc:  # a leg's market is not trading now: try again
        return await _retry(engine, key, str(exc))
    except Exception as exc:  # a failure nobody foresaw: retried and told, never left open
        log.exception("rotation %s failed", key)
        return await _retry(engine, key, f"unexpected error: {type(exc).__name__}: {exc}"[:160])
    finally:
        engine.in_flight.discard(key)


async def _step(engine: Engine, key: str) -> str:
    row, sells, buys = await engine.db.run(_legs, engine, key)
    if row is None or row.status not in s4.OPEN:
        return row.outcome if row is not None else "no such rotation"
    if any(o.status == orders.SENDING for o in sells + buys):
        return "waiting: a leg's order awaits its answer"
    if engine.clock() >= row.created_at + grace(engine):  # found after the grace: too late
        return await _finish(engine, key, s4.MISSED, "missed: not finished within the grace")
    if not sells and await engine.db.run(paused, engine) is not None:
        return await _finish(engine, key, s4.MISSED, f"{SKIPPED}: /resume to trade again")
    to_asset = Asset(row.to_asset)
    try:
        sold = _filled(sells)
        if sold is None:
            if sells and sells[-1].status == orders.REJECTED:
                refused = f"the sell was refused: {sells[-1].error}"
                return await _finish(engine, key, s4.REFUSED, refused)
            placed = await _sell(engine, row, len(sells) + 1)
            if isinstance(placed, str):
                return placed
            sold = placed
        if _filled(buys) is not None:
            return await _finish(engine, key, s4.DONE, "rotated")
        if buys and buys[-1].status == orders.REJECTED:
            return await _finish(engine, key, s4.REFUSED, f"the buy was refused: {buys[-1].error}")
        proceeds = _net_quote(sold, engine.settings.quote_asset)
        outcome = await place_order(
            engine,
            OrderRequest(
                cause=CAUSE,
                cause_key=orders.attempt_key(key + BUY, len(buys) + 1),
                side="buy",
                quote_amount=proceeds,
                symbol=symbol_of(engine, to_asset),
                spends_hold_of=sold.client_order_id,
            ),
        )
    except TradingPaused:  # paused while the sale was on its way: nothing was sent
        return await _finish(engine, key, s4.MISSED, f"{SKIPPED}: /resume to trade again")
    except UserError as exc:
        return await _finish(engine, key, s4.REFUSED, str(exc))
    except ExchangeUnavailable as exc:
        return await _retry(engine, key, str(exc))
    return await _after(engine, key, outcome.status, outcome.error, "rotated")


async def _sell(engine: Engine, row: S4Rotation, attempt: int) -> Order | str:
    """The sell leg: all of the asset left that is free; the order, or where things stand."""
    key = row.decision_key
    symbol = symbol_of(engine, Asset(row.from_asset))
    base = symbol.split("/")[0]
    reading = await read_balances(engine)
    held = (await engine.db.transact(funds_now, engine, reading, base)).spendable
    rules = await engine.exchange.market_rules(symbol)
    if quantize_amount(held, rules) < max(rules.min_amount, rules.amount_step):
        note = f"nothing to rotate: {fmt_plain(held)} {base} held"
        return await _finish(engine, key, s4.DONE, note)
    outcome = await place_order(
        engine,
        OrderRequest(
            cause=CAUSE,
            cause_key=orders.attempt_key(key + SELL, attempt),
            side="sell",
            base_amount=held,
            symbol=symbol,
        ),
    )
    if outcome.status != orders.FILLED:
        return await _after(engine, key, outcome.status, outcome.error, "")
    _, sells, _ = await engine.db.run(_legs, engine, key)
    sold = _filled(sells)
    assert sold is not None
    return sold


async def _after(engine: Engine, key: str, status: str, error: str | None, done: str) -> str:
    if status == orders.FILLED:
        return await _finish(engine, key, s4.DONE, done)
    if status == orders.FAILED:
        return await _retry(engine, key, error or "not placed")
    if status == orders.REJECTED:
        return await _finish(engine, key, s4.REFUSED, f"refused: {error}")
    return "waiting: a leg's outcome is unknown; reconciliation settles it"


def _net_quote(order: Order, quote: str) -> Decimal:
    """What a filled sell brought in, after the part of its fee taken in the quote asset."""
    with_fees = order.filled_quote or Decimal(0)
    fee = order.fee if order.fee_asset == quote and order.fee is not None else Decimal(0)
    return with_fees - fee


async def _retry(engine: Engine, key: str, reason: str) -> str:
    waiting = await engine.db.run(_wait_again, engine, key, reason)
    if waiting is not None:
        return waiting
    return await _finish(engine, key, s4.MISSED, f"missed: {reason}")


def _wait_again(engine: Engine, key: str, reason: str) -> str | None:
    """Set the rotation to be retried and say so; None when its grace is over."""
    now = engine.clock()
    with engine.db.transaction() as session:
        row = s4.by_key(session, key, lock=True)
        assert row is not None
        give_up_at = row.created_at + grace(engine)
        if now < give_up_at:
            wait = backoff(row.attempts)
            row.status, row.next_attempt_at = s4.RETRYING, min(now + wait, give_up_at)
            row.attempts += 1
            row.outcome = f"retrying: {reason}"[:200]
            if row.attempts == 1:
                payload = _told(row, retry_until=give_up_at, reason=reason)
                outbox.enqueue(session, kind="s4_rotation", now=now, urgent=True, payload=payload)
            return row.outcome
    return None


async def _finish(engine: Engine, key: str, status: str, outcome: str) -> str:
    """End the rotation with its outcome and one alert with both legs and the holdings after;
    what a sell brought in and no buy spent is no longer held (it is free on the account)."""
    holdings = await holdings_after(engine)
    return await engine.db.run(_end, engine, key, status, outcome, holdings)


def _end(
    engine: Engine, key: str, status: str, outcome: str, holdings: dict[str, Decimal]
) -> str:
    now = engine.clock()
    with engine.db.transaction() as session:
        row = s4.by_key(session, key, lock=True)
        assert row is not None
        if row.status not in s4.OPEN:  # ended meanwhile (another task): it was told then
            return row.outcome
        sells = orders.for_cause(session, CAUSE, key + SELL)
        buys = orders.for_cause(session, CAUSE, key + BUY)
        for order in sells:
            holds.release(session, order.id, now)
        row.status, row.outcome, row.next_attempt_at = status, outcome[:200], None
        row.legs = s4.dumps({"sell": _leg(sells), "buy": _leg(buys)})
        payload = _told(row, reason=outcome, holdings=holdings)
        outbox.enqueue(session, kind="s4_rotation", now=now, urgent=True, payload=payload)
    return outcome


def _leg(placed: Sequence[Order]) -> dict[str, Any]:
    order = _filled(list(placed)) or (placed[-1] if placed else None)
    if order is None:
        return {}
    return {
        "symbol": order.symbol,
        "status": order.status,
        "amount": order.filled_base,
        "cost": order.filled_quote,
        "price": order.price,
        "fee": order.fee,
        "fee_asset": order.fee_asset,
        "partial": order.partial,
        "error": order.error,
    }


def _told(row: S4Rotation, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "exchange": row.exchange,
        "mode": row.mode,
        "from": row.from_asset,
        "to": row.to_asset,
        "candle": row.candle_time,
        "shadow": row.shadow,
        "status": row.status,
        "legs": s4.legs_of(row),
    }
    payload.update(extra)
    return payload


async def holdings_after(engine: Engine) -> dict[str, Decimal]:
    """BTC and gold on the account now, for the rotation's card (empty if unreadable)."""
    try:
        balances = await engine.exchange.balances()
    except ExchangeError:
        return {}
    assets = [s.split("/")[0] for s in (engine.symbol, gold_symbol(engine.exchange.name))]
    return {asset: balances.get(asset, Decimal(0)) for asset in assets}


def due_rotations(engine: Engine, now: datetime) -> list[str]:
    """Open rotations of this account to take further now: started ones (a process died
    carrying them out, or a leg settled since), and waiting ones whose retry time has come."""
    with engine.db.transaction() as session:
        rows = s4.open_rotations(session, engine.exchange.name, engine.exchange.mode)
        return [
            r.decision_key
            for r in rows
            if r.status == s4.STARTED
            or (r.next_attempt_at is not None and r.next_attempt_at <= now)
        ]


async def settle_rotations(engine: Engine) -> list[str]:
    """Take every due rotation one step further (start-up and the scheduler's minute)."""
    due = await engine.db.run(due_rotations, engine, engine.clock())
    return [await carry_out(engine, key) for key in due]
