"""Settling a scheduled buy that spent its schedule's carry (`carry_run`): what it did not spend
is carried again, so every scheduled cent is bought or carried, unless the schedule was removed
meanwhile (then the money is simply free). Called by `settlement` in the outcome's transaction.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from bot.exchanges.base import Fill
from storage import carry, orders, outbox, schedules
from storage.models import Order


def spent(session: Session, order: Order) -> tuple[int, Decimal] | None:
    """The schedule and the carry `order` took, when it is a scheduled buy that took some."""
    return carry.spent_by(session, order.id) if order.cause == "schedule" else None


def _credit(session: Session, order: Order, schedule_id: int, amount: Decimal, reason: str,
            now: datetime) -> bool:
    return carry.credit(session, exchange=order.exchange, mode=order.mode,
                        schedule_id=schedule_id, amount=amount, reason=reason,
                        note=order.client_order_id, order_id=order.id, now=now)


def finish_filled(session: Session, order: Order, fill: Fill, schedule_id: int,
                  now: datetime) -> None:
    """The buy filled: its change (the market's step, a partial fill's rest) is carried."""
    change = (order.requested_quote or fill.cost) - fill.cost
    outcome = f"bought {fill.amount} for {fill.cost}"
    if change > 0 and _credit(session, order, schedule_id, change, carry.CHANGE, now):
        outcome += f" ({change} carried to the next run)"
    schedules.finish(session, orders.base_key(order.cause_key), schedules.DONE, outcome, now)


def give_back(session: Session, order: Order, taken: tuple[int, Decimal] | None, error: str,
              below_minimum: bool, now: datetime) -> bool:
    """The scheduled buy was not made: the carry it took is carried again. Refused as below
    the minimum (the price moved since it was planned) while runs carry, the run's own amount is
    carried too and the run is done (True); otherwise the run goes on as any refused or never
    placed run (False)."""
    schedule_id = taken[0] if taken is not None else _schedule_of(order)
    if taken is not None:
        _credit(session, order, taken[0], taken[1], carry.RETURNED, now)
    if (not below_minimum or order.status == orders.FAILED or order.requested_quote is None
            or schedule_id is None):
        return False
    own = order.requested_quote - (taken[1] if taken is not None else Decimal(0))
    kept = _credit(session, order, schedule_id, own, carry.CARRIED, now)
    what = f"carried {own}" if kept else "not carried (the schedule was removed)"
    schedules.finish(session, orders.base_key(order.cause_key), schedules.DONE,
                     f"{what}: the exchange refused {order.requested_quote} as below its "
                     f"minimum ({error})", now)
    return True


def _schedule_of(order: Order) -> int | None:
    """The schedule of a scheduled buy, from its cause key (`schedule:<id>:<due>#n`)."""
    parts = order.cause_key.split(":")
    if order.cause != "schedule" or len(parts) < 3 or not parts[1].isdigit():
        return None
    return int(parts[1])


def undo_give_back(session: Session, order: Order, now: datetime) -> None:
    """An order recorded as never placed filled after all: the carry its failure gave back is
    spent; what was spent again since is a shortfall, told at once (the fill is still booked)."""
    taken = spent(session, order)
    schedule_id = taken[0] if taken is not None else _schedule_of(order)
    # what its failure carried: the carry it took back, and its own amount when refused small
    amount = carry.credited(session, order.id, carry.RETURNED) + carry.credited(
        session, order.id, carry.CARRIED)
    if schedule_id is None or amount <= 0:
        return
    left = carry.of_schedule(session, order.exchange, order.mode, schedule_id)
    back = min(amount, max(left, Decimal(0)))
    if back > 0:
        carry.append(session, exchange=order.exchange, mode=order.mode, schedule_id=schedule_id,
                     amount=-back, reason="late_fill", note=order.client_order_id,
                     order_id=order.id, now=now)
    if amount > back:
        _short(session, order, schedule_id, amount - back,
               "it was recorded never placed but filled", now)


def _short(session: Session, order: Order, schedule_id: int, short: Decimal, why: str,
           now: datetime) -> None:
    """The carry cannot give back what it should (it was spent since): told at once."""
    tell_books(session, f"order {order.client_order_id}: {why}; the carry of schedule "
               f"#{schedule_id} had been spent since and is short by {short}: check /status", now)


def tell_books(session: Session, reason: str, now: datetime) -> None:
    """An urgent alert that the books disagree with the exchange (the fill is still booked)."""
    outbox.enqueue(session, kind="task_failed", now=now, urgent=True,
                   payload={"task": "books", "reason": reason})


def correct(session: Session, order: Order, booked: Decimal, now: datetime) -> None:
    """The exchange's trade list says the buy cost `order.filled_quote`, not `booked`: the
    change carried moves by the difference (never below nothing)."""
    taken = spent(session, order)
    if taken is None or order.filled_quote is None:
        return
    schedule_id, _ = taken
    difference = booked - order.filled_quote  # what is carried back more (or less)
    if difference > 0:
        _credit(session, order, schedule_id, difference, "carry_corrected", now)
    elif difference < 0:
        left = carry.of_schedule(session, order.exchange, order.mode, schedule_id)
        back = min(-difference, max(left, Decimal(0)))
        if back > 0:
            carry.append(session, exchange=order.exchange, mode=order.mode,
                         schedule_id=schedule_id, amount=-back, reason="carry_corrected",
                         note=order.client_order_id, order_id=order.id, now=now)
        if -difference > back:
            _short(session, order, schedule_id, -difference - back,
                   "the exchange says it cost more than booked", now)
