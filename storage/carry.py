"""The carry ledger (`storage.models_carry`): what small schedules set aside until their total
reaches the exchange's minimum order. Sums are taken in Python (SQLite has no exact decimal SUM);
a schedule has a handful of rows between buys."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import CarryEntry, Order, Schedule

CARRIED, SPENT, CHANGE, RETURNED, RELEASED = (
    "carried", "carry_spent", "carry_change", "carry_returned", "carry_released"
)


def append(
    session: Session,
    *,
    exchange: str,
    mode: str,
    schedule_id: int,
    amount: Decimal,
    reason: str,
    now: datetime,
    note: str = "",
    order_id: int | None = None,
) -> CarryEntry:
    """A movement of the schedule's carry; its carry never goes below zero."""
    if amount < 0 and of_schedule(session, exchange, mode, schedule_id) + amount < 0:
        raise ValueError(f"schedule {schedule_id} carries less than {-amount}")
    entry = CarryEntry(exchange=exchange, mode=mode, schedule_id=schedule_id, amount=amount,
                       reason=reason, note=note[:200], order_id=order_id, created_at=now)
    session.add(entry)
    session.flush()
    return entry


def schedule_active(session: Session, schedule_id: int) -> bool:
    """Whether the schedule still exists, its row locked until the transaction ends: a removal
    (which updates the row) and a carry written for it are then one after the other."""
    schedule = session.get(Schedule, schedule_id, with_for_update=True)
    return schedule is not None and not schedule.removed


def credit(
    session: Session,
    *,
    exchange: str,
    mode: str,
    schedule_id: int,
    amount: Decimal,
    reason: str,
    now: datetime,
    note: str = "",
    order_id: int | None = None,
) -> bool:
    """Carry `amount` (change, a refund) for the schedule when it still exists; False when it
    was removed meanwhile: the money is then simply free, never carried for nobody."""
    if amount <= 0 or not schedule_active(session, schedule_id):
        return False
    append(session, exchange=exchange, mode=mode, schedule_id=schedule_id, amount=amount,
           reason=reason, now=now, note=note, order_id=order_id)
    return True


def modes_of(session: Session, exchange: str, schedule_id: int) -> dict[str, Decimal]:
    """What the schedule carries in each mode of the exchange (paper and live apart)."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    rows = session.execute(
        select(CarryEntry.mode, CarryEntry.amount).where(
            CarryEntry.exchange == exchange, CarryEntry.schedule_id == schedule_id
        )
    )
    for mode, amount in rows:
        totals[mode] += amount
    return {k: v for k, v in totals.items() if v}


def spent_by_filled(session: Session) -> Decimal:
    """The carry that filled orders spent (for the replay's `invested`)."""
    rows = session.scalars(
        select(CarryEntry.amount).join(Order, Order.id == CarryEntry.order_id).where(
            CarryEntry.reason == SPENT, Order.status == "filled"
        )
    )
    return -sum(rows.all(), Decimal(0))


def of_schedule(session: Session, exchange: str, mode: str, schedule_id: int) -> Decimal:
    amounts = session.scalars(
        select(CarryEntry.amount).where(
            CarryEntry.exchange == exchange, CarryEntry.mode == mode,
            CarryEntry.schedule_id == schedule_id,
        )
    )
    return sum(amounts.all(), Decimal(0))


def by_schedule(session: Session, exchange: str, mode: str) -> dict[int, Decimal]:
    """Every schedule's carry on the account (only those carrying something)."""
    totals: dict[int, Decimal] = defaultdict(Decimal)
    rows = session.execute(
        select(CarryEntry.schedule_id, CarryEntry.amount).where(
            CarryEntry.exchange == exchange, CarryEntry.mode == mode
        )
    )
    for schedule_id, amount in rows:
        totals[schedule_id] += amount
    return {k: v for k, v in totals.items() if v}


def total(session: Session, exchange: str, mode: str) -> Decimal:
    """All the account's carried money: set aside, not free to spend."""
    return sum(by_schedule(session, exchange, mode).values(), Decimal(0))


def credited(session: Session, order_id: int, reason: str) -> Decimal:
    """What rows of `reason` credited for `order_id` (a refused buy's own amount, carried)."""
    rows = session.scalars(
        select(CarryEntry.amount).where(CarryEntry.order_id == order_id,
                                        CarryEntry.reason == reason)
    )
    return sum(rows.all(), Decimal(0))


def spent_by(session: Session, order_id: int) -> tuple[int, Decimal] | None:
    """The schedule and the carry an order took, when it took some."""
    row = session.scalar(
        select(CarryEntry).where(CarryEntry.order_id == order_id, CarryEntry.reason == SPENT)
    )
    return (row.schedule_id, -row.amount) if row is not None else None
