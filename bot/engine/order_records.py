"""Writing what became of an order: the fill, the refusal, the unknown, each with its alert and
its books (`settlement`) in one transaction, exactly once whoever learns it first (the live
answer, a look-up, start-up or periodic reconciliation).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.config import Carry
from bot.engine import settlement
from bot.engine.context import Engine
from bot.engine.fill_context import fill_context
from bot.exchanges.base import BelowMinimum, Fill
from bot.exchanges.markets import gold_symbol
from storage import orders, outbox, s4
from storage.models import Order, OrderFee

log = logging.getLogger(__name__)
SEND_BUDGET = timedelta(minutes=2)  # from an intent's write to its first request, at most
FeeValues = dict[str, Decimal | None]


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What happened to an order; `repeated` is True when the cause had been handled before."""

    client_order_id: str
    status: str
    side: str
    symbol: str
    exchange: str
    mode: str
    fill: Fill | None
    error: str | None = None
    repeated: bool = False
    requested_quote: Decimal | None = None
    partial: bool = False
    cause: str = ""  # what the order was for (schedule, deploy, buy_now, ...)


def outcome_of(order: Order, fill: Fill | None, *, repeated: bool = False) -> OrderOutcome:
    return OrderOutcome(
        client_order_id=order.client_order_id,
        status=order.status,
        side=order.side,
        symbol=order.symbol,
        exchange=order.exchange,
        mode=order.mode,
        fill=fill,
        error=order.error,
        repeated=repeated,
        requested_quote=order.requested_quote,
        partial=order.partial,
        cause=order.cause,
    )


def fill_payload(order: Order, fill: Fill) -> dict[str, Any]:
    return {
        "side": fill.side,
        "symbol": fill.symbol,
        "exchange": order.exchange,
        "mode": order.mode,
        "cause": order.cause,
        "amount": fill.amount,
        "cost": fill.cost,
        "price": fill.price,
        "fee": fill.fee,
        "fee_asset": fill.fee_asset,
        "fees": [[asset, amount] for asset, amount in fill.fees],
        "partial": not fill.complete,
        "simulated": fill.simulated_price,
        "requested_quote": order.requested_quote,
        "requested_base": order.requested_base,
        "client_order_id": fill.client_order_id,
        "requested_by": order.requested_by,
        "cause_key": orders.base_key(order.cause_key),
    }


def record_fill(
    engine: Engine, client_id: str, fill: Fill, fee_values: FeeValues | None = None
) -> OrderOutcome:
    """Write a fill, every currency of its fee, its books and its alert, exactly once.

    A fill for an order already recorded as never placed contradicts the deadline rule; it is
    booked anyway (the exchange's fill is the truth), its refund taken back, and said loudly."""
    now = engine.clock()
    with engine.db.transaction() as session:
        order = orders.by_client_id(session, client_id, lock=True)
        assert order is not None, "an intent is always written before its order is sent"
        if order.status == orders.FILLED:
            return outcome_of(order, fill, repeated=True)
        if order.status != orders.SENDING:
            log.error("order %s was recorded %s, but it filled", client_id, order.status)
            settlement.undo_failure(session, order, now)
        order.status, order.partial = orders.FILLED, not fill.complete
        order.filled_base, order.filled_quote = fill.amount, fill.cost
        order.price, order.fee, order.fee_asset = fill.price, fill.fee, fill.fee_asset
        order.exchange_order_id = fill.exchange_order_id
        order.updated_at = now
        for asset, amount in fill.fees or ((fill.fee_asset, fill.fee),):
            value = (fee_values or {}).get(asset)
            session.add(OrderFee(order_id=order.id, asset=asset, amount=amount, quote_value=value))
        kind = settlement.on_fill(
            session,
            order,
            fill,
            engine.settings.quote_asset,
            now,
            engine.settings.partial_rest.value,
        )
        if kind is not None:
            payload = fill_payload(order, fill)
            payload.update(fill_context(session, engine, order))
            markets = (engine.symbol, gold_symbol(order.exchange))
            payload.update(s4.fill_context(session, order, markets))
            outbox.enqueue(session, kind=kind, payload=payload, now=now, urgent=True)
        return outcome_of(order, fill)


def mark_failed(engine: Engine, client_id: str, error: str) -> OrderOutcome:
    """The order was never placed: a look-up after its deadline did not find it. The deadline
    is read again under the row's lock, as a sender may have just moved it (`save_deadline`)."""
    return record_failure(engine, client_id, orders.FAILED, error, deadline_checked=True)


def record_failure(
    engine: Engine,
    client_id: str,
    status: str,
    error: str,
    below: BelowMinimum | None = None,
    *,
    deadline_checked: bool = False,
) -> OrderOutcome:
    """Record a refusal with its alert: `below_minimum` for the market's minimum, else
    `order_failed`."""
    now = engine.clock()
    with engine.db.transaction() as session:
        order = orders.by_client_id(session, client_id, lock=True)
        assert order is not None
        if order.status != orders.SENDING:  # settled meanwhile (reconciliation): it stands
            return outcome_of(order, None, repeated=True)
        if deadline_checked and not deadline_passed(engine, order.deadline_at):
            return outcome_of(order, None)  # a sender moved the deadline: not proof yet
        order.status, order.error, order.updated_at = status, error, now
        carry_small = below is not None and engine.settings.carry is Carry.ON
        carried = settlement.on_failure(session, order, error, now, below_minimum=carry_small)
        if status == orders.FAILED and order.cause in settlement.RETRIED_CAUSES:
            return outcome_of(order, None)  # its run or flip is retried and says so itself
        if order.cause in settlement.TOLD_BY_CAUSE:
            return outcome_of(order, None)
        outbox.enqueue(
            session,
            kind="order_failed" if below is None else "below_minimum",
            now=now,
            urgent=True,
            payload={
                "amount": order.requested_quote,
                "minimum": below.minimum_cost if below is not None else None,
                "side": order.side,
                "symbol": order.symbol,
                "exchange": order.exchange,
                "mode": order.mode,
                "cause": order.cause,
                "error": error,
                "requested_quote": order.requested_quote,
                "requested_base": order.requested_base,
                "status": status,
                "cause_key": orders.base_key(order.cause_key),
                "carried": carried,
            },
        )
        return outcome_of(order, None)


def record_unknown(engine: Engine, client_id: str, error: str) -> OrderOutcome:
    """The order may or may not exist: it stays `sending` (holding its money) until a look-up
    after its deadline settles it; the owner is told now."""
    with engine.db.transaction() as session:
        pending = orders.by_client_id(session, client_id, lock=True)
        assert pending is not None
        pending.error = error
        outbox.enqueue(
            session,
            kind="order_failed",
            now=engine.clock(),
            urgent=True,
            payload={
                "side": pending.side,
                "symbol": pending.symbol,
                "exchange": pending.exchange,
                "mode": pending.mode,
                "cause": pending.cause,
                "error": error,
                "status": "unknown, will be reconciled",
                "cause_key": orders.base_key(pending.cause_key),
            },
        )
        return outcome_of(pending, None)


class SendCancelled(Exception):
    """The order was settled elsewhere (proven never placed after its deadline) before this
    task sent it: it must not be sent."""


def send_deadline(engine: Engine) -> datetime:
    """The deadline an intent carries until its first request: no look-up proves it absent
    before the sender has had `SEND_BUDGET` to read prices and the clock and send."""
    return engine.exchange.server_now() + SEND_BUDGET


def save_deadline(engine: Engine, client_id: str, deadline: datetime) -> None:
    """Before a request that may place the order: after `deadline` (exchange clock) it can
    no longer land. Written first, so a restart knows when "not found" becomes proof.
    `SendCancelled` when the order was settled meanwhile (another process proved it absent)."""
    with engine.db.transaction() as session:
        order = orders.by_client_id(session, client_id, lock=True)
        if order is None or order.status != orders.SENDING:
            raise SendCancelled(client_id)
        order.deadline_at = deadline


def claim_resend(engine: Engine, client_id: str, seen: datetime | None) -> bool:
    """Claim sending an intent proven absent (its deadline `seen` passed): only the task whose
    look-up saw that very deadline may send, and it gives the intent a new one first."""
    with engine.db.transaction() as session:
        order = orders.by_client_id(session, client_id, lock=True)
        if order is None or order.status != orders.SENDING or order.deadline_at != seen:
            return False
        order.deadline_at = send_deadline(engine)
        return True


def deadline_passed(engine: Engine, deadline: datetime | None) -> bool:
    """Whether "not found" proves "never placed": no request was ever sent (no deadline was
    written), or the last one's deadline has passed on the exchange's clock."""
    return deadline is None or engine.exchange.server_now() > deadline
