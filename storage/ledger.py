"""The reserve: an append-only ledger of USDT set aside, per exchange. Balance = sum of rows.

Sums are taken in Python with `Decimal` (SQLite has no exact decimal SUM). Spending locks the
exchange's rows first (`FOR UPDATE` on PostgreSQL; SQLite serialises writers) so two commands
cannot spend the same reserve.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import ReserveEntry


def balance(session: Session, exchange: str, *, lock: bool = False) -> Decimal:
    query = select(ReserveEntry.amount).where(ReserveEntry.exchange == exchange)
    if lock:
        query = query.with_for_update()
    return sum(session.scalars(query).all(), Decimal(0))


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
