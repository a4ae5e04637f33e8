"""Placing an order so that one cause is one order, whatever the network or a restart does.

1. The intent (status `sending`) is committed with a client order id derived from the cause.
2. The order is sent. 3. The outcome is written with its ledger rows and alert, in one transaction.
If the same cause comes again, step 1 finds the row: a fill is returned as it was; an intent left
`sending` is looked up on the exchange by its client id before anything is sent again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.engine import settlement
from bot.engine.context import Engine
from bot.engine.errors import UserError, recorded_in_english
from bot.engine.funds import (
    BalanceReading,
    Funds,
    NotEnoughFree,
    funds_under_lock,
    require,
    under_account_lock,
)
from bot.engine.order_ids import client_order_id
from bot.engine.order_records import (
    FeeValues,
    OrderOutcome,
    SendCancelled,
    claim_resend,
    deadline_passed,
    outcome_of,
    record_failure,
    record_fill,
    record_unknown,
    save_deadline,
    send_deadline,
)
from bot.engine.pause import refuse_if_paused
from bot.exchanges.base import (
    BelowMinimum,
    ExchangeError,
    ExchangeUnavailable,
    Fill,
    OrderRejected,
    UnknownMarket,
)
from bot.exchanges.quantize import fmt_plain
from bot.i18n import _
from storage import carry, holds, orders
from storage.models import Order

__all__ = ["CarryChanged", "OrderOutcome", "OrderRequest", "fee_values", "place_order"]


class CarryChanged(UserError):
    """The schedule's carry was spent or freed between a run's plan and its order: plan again."""


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
    # the client id of an order whose held proceeds this order spends (an S4 rotation's buy)
    spends_hold_of: str | None = None
    # a scheduled buy that also spends its schedule's carry (`storage.carry`): how much, whose
    from_carry: Decimal = Decimal(0)
    carry_of: int | None = None


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
    refuse_if_paused(session, request.cause, request.side)
    base, quote = symbol.split("/")
    asset, amount = (
        (quote, request.quote_amount) if request.side == "buy" else (base, request.base_amount)
    )
    assert amount is not None
    from_reserve = request.cause in settlement.HOLDS_RESERVE
    exchange, now = engine.exchange, engine.clock()
    funds = funds_under_lock(session, engine, reading, asset)
    if from_reserve:
        spendable = min(funds.reserve, funds.balance - funds.held - funds.carried)
        if amount > spendable:
            raise NotEnoughFree(
                _("The reserve holds {reserve} {asset} and {there} of it is on the exchange; "
                  "cannot spend {amount}").format(
                    reserve=fmt_plain(funds.reserve), asset=asset,
                    there=fmt_plain(max(spendable, Decimal(0))), amount=fmt_plain(amount)),
                max(spendable, Decimal(0)),
            )
    else:
        if request.spends_hold_of is not None:
            funds = _take_over_hold(session, funds, request.spends_hold_of, now)
        if request.from_carry and request.carry_of is not None:  # its own carry is its own
            left = carry.of_schedule(session, exchange.name, exchange.mode, request.carry_of)
            if not carry.schedule_active(session, request.carry_of) or left < request.from_carry:
                raise CarryChanged(f"the carry of schedule #{request.carry_of} changed while "
                                   "this run was planned; nothing was sent")
            funds = replace(funds, carried=funds.carried - request.from_carry)
        require(funds, amount, "to spend" if request.side == "buy" else "to sell")
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
    order.deadline_at = send_deadline(engine)  # no look-up proves it absent before this
    if from_reserve:
        settlement.hold_reserve(session, order, amount, now)
    if request.from_carry and request.carry_of is not None:
        carry.append(session, exchange=exchange.name, mode=exchange.mode,
                     schedule_id=request.carry_of, amount=-request.from_carry,
                     reason=carry.SPENT, note=client_id, order_id=order.id, now=now)
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


def _take_over_hold(session: Session, funds: Funds, client_id: str, now: datetime) -> Funds:
    """Release the hold of the order `client_id` (proceeds kept for this order) and count it
    as free for this order's check; the new intent then holds it again."""
    source = orders.by_client_id(session, client_id)
    hold = holds.release(session, source.id, now) if source is not None else None
    if hold is None or hold.asset != funds.asset:
        return funds
    return replace(funds, held=funds.held - hold.amount)


async def place_order(engine: Engine, request: OrderRequest) -> OrderOutcome:
    """Place the order `request` asks for, once per cause, and record what became of it.

    What the order will spend is held when its intent is written (`funds`). Before that,
    nothing is written and nothing sent when the market does not exist (`UserError`), the money
    is not free (`NotEnoughFree`) or the exchange cannot be asked (`ExchangeUnavailable`); the
    caller records what that means for its cause. Once the intent exists, every outcome is
    recorded on the order and this never raises for the exchange's refusals.
    """
    client_id = client_order_id(request.cause, request.cause_key)
    exchange, db = engine.exchange, engine.db
    symbol = request.symbol or engine.symbol
    existing = await engine.db.transact(orders.by_client_id, client_id)
    if existing is None:
        try:
            await exchange.market_rules(symbol)
        except UnknownMarket as exc:
            raise UserError(str(exc)) from None
        try:
            order, written = await under_account_lock(
                engine,
                lambda session, reading: _write_intent(
                    session, reading, engine, request, client_id, symbol
                ),
            )
        except IntegrityError:  # another task wrote the same intent at the same moment
            raced = await engine.db.transact(orders.by_client_id, client_id)
            assert raced is not None
            order, written = raced, False
        if not written:
            existing = order
    if existing is not None and existing.status != orders.SENDING:
        return outcome_of(existing, None, repeated=True)
    if existing is not None:  # an intent from an earlier attempt: never send before looking
        try:
            await exchange.measure_clock()  # its deadline is judged on the exchange's clock
            found = await exchange.find_order(symbol, client_id)
        except UnknownMarket as exc:  # listed as not trading: a look-up tells nothing
            return replace(outcome_of(existing, None), error=str(exc))
        except OrderRejected as exc:  # it existed and ended with nothing filled
            return await db.run(record_failure, engine, client_id, orders.REJECTED, str(exc))
        except ExchangeError as exc:  # cannot tell: stays `sending`, nothing is sent
            return replace(outcome_of(existing, None), error=str(exc))
        if found is not None:
            fees = await fee_values(engine, found)
            return await db.run(record_fill, engine, client_id, found, fees)
        if not deadline_passed(engine, existing.deadline_at) or not await db.run(
            claim_resend, engine, client_id, existing.deadline_at
        ):
            return replace(
                outcome_of(existing, None),
                error="not found yet, but its request may still land; looked up again later",
            )
    engine.in_flight.add(client_id)
    try:
        return await _send(engine, request, client_id, symbol)
    finally:
        engine.in_flight.discard(client_id)


@recorded_in_english  # what the exchange refused is kept, and alerted, as everyone reads it
async def _send(
    engine: Engine, request: OrderRequest, client_id: str, symbol: str
) -> OrderOutcome:
    exchange, db = engine.exchange, engine.db

    async def on_attempt(deadline: datetime) -> None:
        await db.run(save_deadline, engine, client_id, deadline)

    try:
        if request.side == "buy":
            assert request.quote_amount is not None
            fill = await exchange.buy_with_quote(
                symbol, request.quote_amount, client_id, on_attempt=on_attempt
            )
        else:
            assert request.base_amount is not None
            fill = await exchange.sell_base(
                symbol, request.base_amount, client_id, on_attempt=on_attempt
            )
    except SendCancelled:  # settled by another process before it was sent: it stands
        settled = await db.transact(orders.by_client_id, client_id)
        assert settled is not None
        return outcome_of(settled, None, repeated=True)
    except OrderRejected as exc:
        below = exc if isinstance(exc, BelowMinimum) else None
        return await db.run(record_failure, engine, client_id, orders.REJECTED, str(exc), below)
    except ExchangeUnavailable as exc:
        return await db.run(record_failure, engine, client_id, orders.FAILED, str(exc))
    except ExchangeError as exc:  # uncertain: stays `sending` until reconciled
        return await db.run(record_unknown, engine, client_id, str(exc))
    fees = await fee_values(engine, fill)
    return await db.run(record_fill, engine, client_id, fill, fees)


async def fee_values(engine: Engine, fill: Fill) -> FeeValues:
    """Every currency of a fill's fee valued in the quote currency: the quote as it is, the
    base at the fill's price, another (BNB) at its market price when it can be read."""
    quote = fill.symbol.split("/")[1]
    base = fill.symbol.split("/")[0]
    values: FeeValues = {}
    for asset, amount in fill.fees or ((fill.fee_asset, fill.fee),):
        if asset == quote:
            values[asset] = amount
        elif asset == base:
            values[asset] = amount * fill.price
        else:
            try:
                values[asset] = amount * (await engine.exchange.price(f"{asset}/{quote}")).price
            except ExchangeError:
                values[asset] = None  # not priced: the amount itself is still recorded
    return values
