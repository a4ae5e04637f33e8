"""Holds on an account's money: what orders in flight will spend, until they settle.

A hold is written in the order intent's transaction, under the account row's lock, after the
availability check; it is released in the transaction that records the order's outcome. Every
release bumps the account's `epoch`, which tells a balance read before the lock whether an order
settled (and the exchange balance moved) since it was read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import ledger
from storage.models import FundHold


def active(session: Session, exchange: str, mode: str) -> Sequence[FundHold]:
    return session.scalars(
        select(FundHold).where(
            FundHold.exchange == exchange, FundHold.mode == mode, FundHold.released_at.is_(None)
        )
    ).all()


def held(session: Session, exchange: str, mode: str) -> dict[str, Decimal]:
    """The total held per asset on the account."""
    totals: dict[str, Decimal] = {}
    for row in active(session, exchange, mode):
        totals[row.asset] = totals.get(row.asset, Decimal(0)) + row.amount
    return totals


def take(
    session: Session,
    *,
    exchange: str,
    mode: str,
    asset: str,
    amount: Decimal,
    order_id: int,
    now: datetime,
) -> FundHold:
    hold = FundHold(
        exchange=exchange,
        mode=mode,
        asset=asset,
        amount=amount,
        order_id=order_id,
        created_at=now,
        released_at=None,
    )
    session.add(hold)
    session.flush()
    return hold


def release(session: Session, order_id: int, now: datetime) -> FundHold | None:
    """Release the order's hold, if it has one still active, and bump the account's epoch."""
    hold = session.scalar(
        select(FundHold)
        .where(FundHold.order_id == order_id, FundHold.released_at.is_(None))
        .with_for_update()
    )
    if hold is None:
        return None
    account = ledger.account(session, hold.exchange, hold.mode, now)
    account.epoch += 1
    account.updated_at = now
    hold.released_at = now
    session.flush()
    return hold


def hold_again(
    session: Session, *, order_id: int, asset: str, amount: Decimal, now: datetime
) -> FundHold:
    """Hold `amount` of `asset` on an order whose own hold was released (an S4 sell's
    proceeds, kept for the rotation's buy); an order has one hold row, so it is reused."""
    hold = session.scalar(select(FundHold).where(FundHold.order_id == order_id).with_for_update())
    assert hold is not None, "the order held what it spent before it settled"
    hold.asset, hold.amount, hold.created_at, hold.released_at = asset, amount, now, None
    session.flush()
    return hold
