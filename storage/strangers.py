"""Strangers' refusals, shared by every web worker: who heard the refusal when.

Claiming a refusal is one statement per stranger (insert, or move `refused_at` forward only when
the last refusal is older than the interval), so two workers never both refuse the same id within
the interval; the minute's budget for all strangers is counted from the same rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.db import Database
from storage.models import StrangerRefusal

MINUTE = timedelta(minutes=1)


def claim_refusal(
    db: Database, user_key: str, now: datetime, interval: timedelta, budget: int
) -> bool:
    """True when `user_key` is to hear the refusal now (and it is recorded); False when they
    heard it within `interval`, or all strangers together had `budget` in the last minute."""
    dialect = sqlite if db.is_sqlite else postgresql
    with db.transaction() as session:
        lately = session.scalar(
            select(func.count()).where(StrangerRefusal.refused_at > now - MINUTE)
        )
        if int(lately or 0) >= budget:
            return False
        statement = (
            dialect.insert(StrangerRefusal)
            .values(user_key=user_key, refused_at=now)
            .on_conflict_do_update(
                index_elements=[StrangerRefusal.user_key],
                set_={"refused_at": now},
                where=StrangerRefusal.refused_at <= now - interval,
            )
            .returning(StrangerRefusal.user_key)
        )
        return session.execute(statement).first() is not None


def forget_refused_before(db: Database, cutoff: datetime) -> int:
    """Drop refusals older than `cutoff` (the interval): they hold nothing back any more."""
    with db.transaction() as session:
        result = session.execute(
            delete(StrangerRefusal).where(StrangerRefusal.refused_at < cutoff)
        )
        return int(getattr(result, "rowcount", 0) or 0)
