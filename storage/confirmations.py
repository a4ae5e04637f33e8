"""Pending confirmations, kept where every process sees them.

Asking writes a row; answering is one conditional UPDATE (`pending` → `taken` or `cancelled`,
only by the asker, only before it expires) that returns the row, so of any number of taps,
on any number of workers, exactly one wins. A restart between the question and the tap loses
nothing. Rows are purged some time after they expire, answered or not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy import delete, select, update

from storage.db import Database
from storage.models import PendingConfirmation

PENDING, TAKEN, CANCELLED = "pending", "taken", "cancelled"


@dataclass(frozen=True, slots=True)
class Asked:
    """What was asked: the action (`kind`, `params`) and how to talk about it."""

    token: str
    kind: str
    params: dict[str, str]
    asker: str
    summary: str
    retry_hint: str
    expires_at: datetime


class Miss(Enum):
    """Why an answer took nothing."""

    UNKNOWN = "unknown"  # never asked, or purged long after it expired
    NOT_YOURS = "not_yours"
    ANSWERED = "answered"
    EXPIRED = "expired"


def remember(db: Database, asked: Asked, now: datetime) -> None:
    with db.transaction() as session:
        session.add(
            PendingConfirmation(
                token=asked.token,
                kind=asked.kind,
                params=json.dumps(asked.params, sort_keys=True),
                asker=asked.asker,
                summary=asked.summary,
                retry_hint=asked.retry_hint,
                asked_at=now,
                expires_at=asked.expires_at,
                state=PENDING,
            )
        )


def _asked(row: PendingConfirmation) -> Asked:
    params = json.loads(row.params)
    return Asked(row.token, row.kind, dict(params), row.asker, row.summary, row.retry_hint,
                 row.expires_at)


def answer(
    db: Database, token: str, asker: str, now: datetime, *, accept: bool
) -> Asked | tuple[Miss, Asked | None]:
    """Take (or cancel) the confirmation: the `Asked` when this call won it; else why not, with
    the row when there is one (its retry hint, its summary)."""
    with db.transaction() as session:
        won = session.execute(
            update(PendingConfirmation)
            .where(
                PendingConfirmation.token == token,
                PendingConfirmation.asker == asker,
                PendingConfirmation.state == PENDING,
                PendingConfirmation.expires_at > now,
            )
            .values(state=TAKEN if accept else CANCELLED, answered_at=now)
            .returning(PendingConfirmation)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if won is not None:
            return _asked(won)
        row = session.get(PendingConfirmation, token)
        if row is None:
            return Miss.UNKNOWN, None
        asked = _asked(row)
        if row.asker != asker:
            return Miss.NOT_YOURS, asked
        if row.state != PENDING:
            return Miss.ANSWERED, asked
        return Miss.EXPIRED, asked


def asker_of(db: Database, token: str) -> str | None:
    """Who may answer the confirmation `token` (None when there is no such row)."""
    with db.transaction() as session:
        return session.scalar(
            select(PendingConfirmation.asker).where(PendingConfirmation.token == token)
        )


def forget_expired_before(db: Database, cutoff: datetime) -> int:
    """Drop confirmations that expired before `cutoff`, answered or not."""
    with db.transaction() as session:
        result = session.execute(
            delete(PendingConfirmation).where(PendingConfirmation.expires_at < cutoff)
        )
        return int(getattr(result, "rowcount", 0) or 0)
