"""The reserve: an append-only ledger of USDT set aside, per exchange, and its recorded balance.

Every ledger row updates the exchange's `ReserveAccount` row in the same transaction, so the
recorded balance always equals the sum of the ledger. Spending locks that account row first
(`FOR UPDATE` on PostgreSQL; SQLite callers use an exclusive transaction): a lock on ledger rows
could not stop a concurrent insert, a lock on the one account row does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import ReserveAccount, ReserveEntry


class ReserveTooSmall(ValueError):
    """Spending more than the reserve holds."""


def account(session: Session, exchange: str, now: datetime, *, lock: bool = True) -> ReserveAccount:
    """The exchange's account row, created at zero the first time, locked for update."""
    query = select(ReserveAccount).where(ReserveAccount.exchange == exchange)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        row = ReserveAccount(exchange=exchange, balance=Decimal(0), updated_at=now)
        session.add(row)
        session.flush()
        if lock:  # another transaction may have created it first: take the lock on that row
            row = session.scalars(query.with_for_update()).one()
    return row


def balance(session: Session, exchange: str) -> Decimal:
    row = session.get(ReserveAccount, exchange)
    return row.balance if row is not None else Decimal(0)


def ledger_sum(session: Session, exchange: str) -> Decimal:
    """The sum of the ledger rows, in Python (SQLite has no exact decimal SUM)."""
    amounts = session.scalars(select(ReserveEntry.amount).where(ReserveEntry.exchange == exchange))
    return sum(amounts.all(), Decimal(0))


def append(
    session: Session,
    *,
    exchange: str,
    amount: Decimal,
    reason: str,
    now: datetime,
    note: str = "",
    order_id: int | None = None,
) -> ReserveEntry:
    """Add a ledger row (negative to spend) and move the recorded balance with it."""
    row = account(session, exchange, now)
    if row.balance + amount < 0:
        raise ReserveTooSmall(f"the reserve holds {row.balance}; cannot take {-amount}")
    row.balance = row.balance + amount
    row.updated_at = now
    entry = ReserveEntry(
        exchange=exchange,
        amount=amount,
        reason=reason,
        note=note,
        order_id=order_id,
        created_at=now,
    )
    session.add(entry)
    session.flush()
    return entry


def latest(session: Session, exchange: str, limit: int) -> Sequence[ReserveEntry]:
    return session.scalars(
        select(ReserveEntry)
        .where(ReserveEntry.exchange == exchange)
        .order_by(ReserveEntry.id.desc())
        .limit(limit)
    ).all()
