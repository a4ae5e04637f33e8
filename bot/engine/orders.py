"""Placing an order so that one cause is one order, whatever the network or a restart does.

1. The intent (status `sending`) is committed with a client order id derived from the cause.
2. The order is sent. 3. The outcome is written with its ledger rows and alert, in one transaction.
If the same cause comes again, step 1 finds the row: a fill is returned as it was; an intent left
`sending` is looked up on the exchange by its client id before anything is sent again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from bot.engine import settlement
from bot.engine.context import Engine
from bot.engine.errors import UserError
from bot.engine.funds import (
    BalanceReading,
    NotEnoughFree,
    funds_under_lock,
    require,
    under_account_lock,
)
from bot.engine.order_ids import client_order_id
from bot.exchanges.base import (
    BelowMinimum,
    ExchangeError,
    ExchangeUnavailable,
    Fill,
    OrderRejected,
    UnknownMarket,
)
from bot.exchanges.quantize import fmt_plain
from storage import holds, orders, outbox
from storage.models import Order


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


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order the engine wants: spend `quote_amount` (buy) or sell `base_amount`."""

    cause: str
    cause_key: str
    side: str
    quote_amount: Decimal | None = None
    base_amount: Decimal | None = None
    requested_by: str | None = None
    symbol: str | None = None  # the engine's symbol unless said (S4 trades gold too)


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
        "client_order_id": fill.client_order_id,
        "requested_by": order.requested_by,
    }


def _outcome(order: Order, fill: Fill | None, *, repeated: bool = False) -> OrderOutcome:
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
    )


def record_fill(engine: Engine, client_id: str, fill: Fill) -> OrderOutcome:
    """Write a fill, its ledger rows and run status (`settlement`) and its alert, exactly once."""
    now = engine.clock()
    with engine.db.transaction() as session:
        order = orders.by_client_id(session, client_id, lock=True)
        assert order is not None, "an intent is always written before its order is sent"
        if order.status == orders.FILLED:
            return _outcome(order, fill, repeated=True)
        order.status = orders.FILLED
        order.filled_base, order.filled_quote = fill.amount, fill.cost
        order.price, order.fee, order.fee_asset = fill.price, fill.fee, fill.fee_asset
        order.exchange_order_id = fill.exchange_order_id
        order.updated_at = now
        kind = settlement.on_fill(session, order, fill, engine.settings.quote_asset, now)
        outbox.enqueue(session, kind=kind, payload=fill_payload(order, fill), now=now, urgent=True)
        return _outcome(order, fill)


def mark_failed(engine: Engine, client_id: str, error: str) -> OrderOutcome:
    """The order was never placed (e.g. not found on the exchange after a restart)."""
    return _record_failure(engine, client_id, orders.FAILED, error)


def _record_failure(
    engine: Engine, client_id: str, status: str, error: str, below: BelowMinimum | None = None
) -> OrderOutcome:
    """Record a refusal with its alert: `below_minimum` for the market's minimum, else
    `order_failed`."""
    now = engine.clock()
    with engine.db.transaction() as session:
        order = orders.by_client_id(session, client_id, lock=True)
        assert order is not None
        order.status, order.error, order.updated_at = status, error, now
        settlement.on_failure(session, order, error, now)
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
            },
        )
        return _outcome(order, None)


def _write_intent(
    session: Session,
    reading: BalanceReading,
    engine: Engine,
    request: OrderRequest,
    client_id: str,
    symbol: str,
) -> tuple[Order, bool]:
    """The intent and its hold, in one transaction under the account lock (`funds`); the
    flag is False when the cause's intent was already there (written by another task)."""
    found = orders.by_client_id(session, client_id, lock=True)
    if found is not None:
        return found, False
    base, quote = symbol.split("/")
    asset, amount = (
        (quote, request.quote_amount) if request.side == "buy" else (base, request.base_amount)
    )
    assert amount is not None
    from_reserve = request.cause in settlement.HOLDS_RESERVE
    funds = funds_under_lock(session, engine, reading, asset)
    if from_reserve:
        spendable = min(funds.reserve, funds.balance - funds.held)
        if amount > spendable:
            raise NotEnoughFree(
                f"The reserve holds {fmt_plain(funds.reserve)} {asset} and "
                f"{fmt_plain(max(spendable, Decimal(0)))} of it is on the exchange; "
                f"cannot spend {fmt_plain(amount)}",
                max(spendable, Decimal(0)),
            )
    else:
        require(funds, amount, "to spend" if request.side == "buy" else "to sell")
    exchange, now = engine.exchange, engine.clock()
    order = orders.write_intent(
        session,
        client_order_id=client_id,
        cause=request.cause,
        cause_key=request.cause_key,
        side=request.side,
        symbol=symbol,
        exchange=exchange.name,
        mode=exchange.mode,
        requested_quote=request.quote_amount,
        requested_base=request.base_amount,
        requested_by=request.requested_by,
        now=now,
    )
    if from_reserve:
        settlement.hold_reserve(session, order, amount, now)
    holds.take(
        session,
        exchange=exchange.name,
        mode=exchange.mode,
        asset=asset,
        amount=amount,
        order_id=order.id,
        now=now,
    )
    return order, True


async def place_order(engine: Engine, request: OrderRequest) -> OrderOutcome:
    """Place the order `request` asks for, once per cause, and record what became of it.

    What the order will spend is held when its intent is written (`funds`). Before that,
    nothing is written and nothing sent when the market does not exist (`UserError`), the money
    is not free (`NotEnoughFree`) or the exchange cannot be asked (`ExchangeUnavailable`); the
    caller records what that means for its cause. Once the intent exists, every outcome is
    recorded on the order and this never raises for the exchange's refusals.
    """
    client_id = client_order_id(request.cause, request.cause_key)
    exchange = engine.exchange
    symbol = request.symbol or engine.symbol
    with engine.db.transaction() as session:
        existing = orders.by_client_id(session, client_id)
    if existing is None:
        try:
            await exchange.market_rules(symbol)
        except UnknownMarket as exc:
            raise UserError(str(exc)) from None
        order, written = await under_account_lock(
            engine,
            lambda session, reading: _write_intent(
                session, reading, engine, request, client_id, symbol
            ),
        )
        if not written:
            existing = order
    if existing is not None and existing.status != orders.SENDING:
        return _outcome(existing, None, repeated=True)
    if existing is not None:  # an intent from an earlier attempt: never send before looking
        try:
            found = await exchange.find_order(symbol, client_id)
        except ExchangeError as exc:  # cannot tell: stays `sending`, nothing is sent
            return replace(_outcome(existing, None), error=str(exc))
        if found is not None:
            return record_fill(engine, client_id, found)
    try:
        if request.side == "buy":
            assert request.quote_amount is not None
            fill = await exchange.buy_with_quote(symbol, request.quote_amount, client_id)
        else:
            assert request.base_amount is not None
            fill = await exchange.sell_base(symbol, request.base_amount, client_id)
    except OrderRejected as exc:
        below = exc if isinstance(exc, BelowMinimum) else None
        return _record_failure(engine, client_id, orders.REJECTED, str(exc), below)
    except ExchangeUnavailable as exc:
        return _record_failure(engine, client_id, orders.FAILED, str(exc))
    except ExchangeError as exc:  # uncertain: stays `sending` until reconciled
        with engine.db.transaction() as session:
            pending = orders.by_client_id(session, client_id)
            assert pending is not None
            pending.error = str(exc)
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
                    "error": str(exc),
                    "status": "unknown, will be reconciled",
                },
            )
            return _outcome(pending, None)
    return record_fill(engine, client_id, fill)
