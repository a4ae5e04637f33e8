"""What a fill or a failure means for the books, by the order's cause, in the order's transaction.

Live runs and start-up reconciliation both settle through here, so an order found after a crash
moves the reserve and finishes its schedule run exactly as it would have at once.

* Every order: the hold on what it was to spend (`storage.holds`) is released.
* `deploy`, `flip_buy`: the reserve was debited into the hold before sending; change that the
  market's step left unspent, or the whole amount on a failure, goes back to the reserve.
* `flip_sell`, `sell_now`: the proceeds (after the fee) go into the reserve.
* `schedule`: a fill or a refusal finishes the run with the outcome; an order proven never
  placed (the exchange was unreachable) leaves the run `retrying`, due at once, for
  `run_outcomes` to retry or record as missed.
* `rotation` (an S4 leg): a sell's proceeds stay held on the sell order until the buy leg's
  intent takes them over (`s4_rotation`); a buy never placed holds them again. The rotation
  tells the owner about both legs at its end, so its orders have no alert of their own.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.engine import carry_settlement as carried
from bot.exchanges.base import Fill
from storage import holds, ledger, orders, schedules
from storage.models import FlipEvent, Order

ALERT_KIND = {
    "buy_now": "order_filled",
    "schedule": "dca_bought",
    "flip_sell": "sold_on_red",
    "sell_now": "sold_to_reserve",
    "flip_buy": "reserve_deployed",
    "deploy": "reserve_deployed",
}
HOLDS_RESERVE = {"deploy", "flip_buy"}
FLIP_CAUSES = {"flip_sell", "flip_buy"}
RETRIED_CAUSES = {"schedule", *FLIP_CAUSES}  # never placed: retried, reported by the cause
REST_SUFFIX = "#rest"  # the cause key of a scheduled run's second try at a partial fill's rest
SELLS_TO_RESERVE = {"flip_sell", "sell_now"}
ROTATION = "rotation"
TOLD_BY_CAUSE = {ROTATION}  # no alert per order: the cause's own alert carries its orders


def on_fill(
    session: Session,
    order: Order,
    fill: Fill,
    quote_asset: str,
    now: datetime,
    partial_rest: str = "reserve",
) -> str | None:
    """Book the fill; returns the alert kind (None when the cause tells of it itself)."""
    holds.release(session, order.id, now)
    if order.cause == ROTATION:
        if order.side == "sell":
            _hold_proceeds(session, order, fill.net_quote(quote_asset), now)
        return None
    if order.cause in HOLDS_RESERVE and order.requested_quote is not None:
        change = order.requested_quote - fill.cost
        if change > 0:
            ledger.append(
                session,
                exchange=order.exchange,
                mode=order.mode,
                amount=change,
                reason="deploy_change",
                note=order.client_order_id,
                order_id=order.id,
                now=now,
            )
    if order.cause in SELLS_TO_RESERVE:
        ledger.append(
            session,
            exchange=order.exchange,
            mode=order.mode,
            amount=fill.net_quote(quote_asset),
            reason=order.cause,
            note=order.client_order_id,
            order_id=order.id,
            now=now,
        )
    if order.cause == "schedule":
        taken = carried.spent(session, order)
        if taken is not None:
            carried.finish_filled(session, order, fill, taken[0], now)
        else:
            _finish_run(session, order, fill, partial_rest, now)
    if order.cause in FLIP_CAUSES:
        _flip(session, order, "done", f"{fill.side} filled")
    return ALERT_KIND.get(order.cause, "order_filled")


def _finish_run(
    session: Session, order: Order, fill: Fill, partial_rest: str, now: datetime
) -> None:
    """A scheduled buy filled: the run is done, unless a partial fill leaves a rest to buy once
    more (`DCABOT_PARTIAL_REST=retry`); a rest not bought goes to the reserve, never dropped."""
    run = orders.base_key(order.cause_key)
    bought = f"bought {fill.amount} for {fill.cost}"
    rest = (order.requested_quote or fill.cost) - fill.cost
    if fill.complete or rest <= 0:
        schedules.finish(session, run, schedules.DONE, bought, now)
        return
    if partial_rest == "retry" and not order.cause_key.endswith(REST_SUFFIX):
        schedules.retry_at(session, run, now, f"partly filled: {rest} to buy once more")
        return
    _rest_to_reserve(session, order, rest, "", now, bought)


def _rest_to_reserve(session: Session, order: Order, rest: Decimal, why: str, now: datetime,
                     bought: str = "bought part of it") -> None:
    """What a partly filled run did not buy goes to the reserve, and the run is done."""
    ledger.append(
        session,
        exchange=order.exchange,
        mode=order.mode,
        amount=rest,
        reason="partial_rest",
        note=order.client_order_id,
        order_id=order.id,
        now=now,
    )
    outcome = f"{bought} (partly filled; {rest} to the reserve{why})"
    schedules.finish(session, orders.base_key(order.cause_key), schedules.DONE, outcome, now)


def undo_failure(session: Session, order: Order, now: datetime) -> None:
    """An order recorded as never placed turned out to have filled: take back what its failure
    gave back, so the fill can be booked as any other (a contradiction; logged by the caller).
    If the reserve was spent since, it goes to zero and the shortfall is told: the fill is
    always booked, whatever the reserve holds."""
    carried.undo_give_back(session, order, now)  # what its failure carried is spent after all
    if order.cause not in HOLDS_RESERVE or order.requested_quote is None:
        return
    held = ledger.balance(session, order.exchange, order.mode)
    taken = min(order.requested_quote, max(held, Decimal(0)))
    if taken > 0:
        ledger.append(
            session,
            exchange=order.exchange,
            mode=order.mode,
            amount=-taken,
            reason="late_fill",
            note=order.client_order_id,
            order_id=order.id,
            now=now,
        )
    short = order.requested_quote - taken
    if short > 0:
        carried.tell_books(session, f"order {order.client_order_id} was recorded never placed "
                           f"but filled; the reserve had been spent since and is short by "
                           f"{short}: check /reserve", now)


def on_failure(session: Session, order: Order, error: str, now: datetime,
               below_minimum: bool = False) -> bool:
    """Undo what was set aside for an order that was not placed."""
    holds.release(session, order.id, now)
    if order.cause in HOLDS_RESERVE and order.requested_quote is not None:
        ledger.append(
            session,
            exchange=order.exchange,
            mode=order.mode,
            amount=order.requested_quote,
            reason="deploy_refund",
            note=order.client_order_id,
            order_id=order.id,
            now=now,
        )
    if order.cause == "schedule":
        run = orders.base_key(order.cause_key)
        rest = order.cause_key.endswith(REST_SUFFIX)  # a partial fill's rest: to the reserve
        if carried.give_back(session, order, carried.spent(session, order), error,
                             below_minimum and not rest, now):
            return True  # carried, and the run is done (the causes below are not schedules)
        if order.status == orders.FAILED:  # never placed: the run is tried again
            schedules.retry_at(session, run, now, error)
        elif order.cause_key.endswith(REST_SUFFIX) and order.requested_quote:
            _rest_to_reserve(session, order, order.requested_quote, f" ({error})", now)
        else:
            schedules.finish(session, run, schedules.DONE, f"failed: {error}", now)
    if order.cause == ROTATION and order.side == "buy" and order.status == orders.FAILED:
        sell_key = orders.base_key(order.cause_key).removesuffix(":buy") + ":sell"
        sold = [o for o in orders.for_cause(session, ROTATION, sell_key) if o.filled_quote]
        if sold and order.requested_quote is not None:
            _hold_proceeds(session, sold[0], order.requested_quote, now)
    if order.cause in FLIP_CAUSES:
        if order.status == orders.FAILED:
            _flip(session, order, "retrying", f"retrying: {error}", retry_at=now)
        else:
            _flip(session, order, "done", f"refused: {error}")
    return False


def _flip(
    session: Session, order: Order, status: str, outcome: str, retry_at: datetime | None = None
) -> None:
    """The flip an order was for: finished with its outcome, or due to be tried again."""
    event = session.scalar(
        select(FlipEvent)
        .where(FlipEvent.flip_key == orders.base_key(order.cause_key))
        .with_for_update()
    )
    if event is not None and event.status not in ("done", "missed"):
        event.status, event.outcome, event.next_attempt_at = status, outcome[:200], retry_at


def _hold_proceeds(session: Session, sell: Order, amount: Decimal, now: datetime) -> None:
    """Keep an S4 sell's proceeds for the rotation's buy leg (on the sell order's hold)."""
    holds.hold_again(
        session, order_id=sell.id, asset=sell.symbol.split("/")[1], amount=amount, now=now
    )


def hold_reserve(session: Session, order: Order, amount: Decimal, now: datetime) -> None:
    """Move `amount` out of the reserve for `order`, about to be sent (see `on_failure`)."""
    ledger.append(
        session,
        exchange=order.exchange,
        mode=order.mode,
        amount=-amount,
        reason="deploy_hold",
        note=order.client_order_id,
        order_id=order.id,
        now=now,
    )
