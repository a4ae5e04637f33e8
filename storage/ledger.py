"""The reserve: an append-only ledger of USDT set aside, per account, and its recorded balance.

An account is an exchange in one mode (`binance` live and `binance` paper are different money).
Every ledger row updates the account's `ReserveAccount` row in the same transaction, so the
recorded balance always equals the sum of the ledger. Spending locks that account row first
(`FOR UPDATE` on PostgreSQL; SQLite transactions take the write lock at BEGIN): a lock on ledger
rows could not stop a concurrent insert, a lock on the one account row does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import ReserveAccount, ReserveEntry


class ReserveTooSmall(ValueError):
    """Spending more than the reserve holds."""


def account(
    session: Session, exchange: str, mode: str, now: datetime, *, lock: bool = True
) -> ReserveAccount:
    """The account's row, created at zero the first time, locked for update."""
    query = select(ReserveAccount).where(
        ReserveAccount.exchange == exchange, ReserveAccount.mode == mode
    )
    row = session.scalar(query.with_for_update() if lock else query)
    if row is not None:
        return row
    try:
        with session.begin_nested():  # another transaction may create it at the same moment
            row = ReserveAccount(
                exchange=exchange, mode=mode, balance=Decimal(0), epoch=0, updated_at=now
            )
            session.add(row)
    except IntegrityError:
        pass
    return session.scalars(query.with_for_update() if lock else query).one()


def balance(session: Session, exchange: str, mode: str) -> Decimal:
    row = session.get(ReserveAccount, (exchange, mode))
    return row.balance if row is not None else Decimal(0)


def epoch(session: Session, exchange: str, mode: str) -> int:
    row = session.get(ReserveAccount, (exchange, mode))
    return row.epoch if row is not None else 0


def ledger_sum(session: Session, exchange: str, mode: str) -> Decimal:
    """The sum of the ledger rows, in Python (SQLite has no exact decimal SUM)."""
    amounts = session.scalars(
        select(ReserveEntry.amount).where(
            ReserveEntry.exchange == exchange, ReserveEntry.mode == mode
        )
    )
    return sum(amounts.all(), Decimal(0))


def append(
    session: Session,
    *,
    exchange: str,
    mode: str,
    amount: Decimal,
    reason: str,
    now: datetime,
    note: str = "",
    order_id: int | None = None,
) -> ReserveEntry:
    """Add a ledger row (negative to spend) and move the recorded balance with it."""
    row = account(session, exchange, mode, now)
    if row.balance + amount < 0:
        raise ReserveTooSmall(f"the reserve holds {row.balance}; cannot take {-amount}")
    row.balance = row.balance + amount
    row.updated_at = now
    entry = ReserveEntry(
        exchange=exchange,
        mode=mode,
        amount=amount,
        reason=reason,
        note=note[:200],
        order_id=order_id,
        created_at=now,
    )
    session.add(entry)
    session.flush()
    return entry


def latest(session: Session, exchange: str, mode: str, limit: int) -> Sequence[ReserveEntry]:
    return session.scalars(
        select(ReserveEntry)
        .where(ReserveEntry.exchange == exchange, ReserveEntry.mode == mode)
        .order_by(ReserveEntry.id.desc())
        .limit(limit)
    ).all()
