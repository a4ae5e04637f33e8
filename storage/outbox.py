"""The alert outbox: alerts are written with the event they report and delivered later.

A row's life: the engine writes it `pending` with no recipient (everyone); the dispatcher fans it
out into one `pending` row per person (the original becomes `routed`), claims each person's
oldest row (`sending`, under a lease), and settles it: `delivered`, `muted`, `failed` (no channel
can ever take it), or back to `pending` with a later `next_attempt_at`.

Claims take `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several dispatchers share one database
without taking the same row; SQLite transactions are serialised already (`BEGIN IMMEDIATE`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    Text,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from storage.models import OutboxAlert
from storage.types import UtcDateTime

PENDING, SENDING, DELIVERED = "pending", "sending", "delivered"
ROUTED, MUTED, FAILED = "routed", "muted", "failed"
UNDELIVERED = (PENDING, SENDING)
FAN_OUT_BATCH = 500


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in an alert")


def enqueue(
    session: Session,
    *,
    kind: str,
    payload: Mapping[str, Any],
    now: datetime,
    urgent: bool = False,
    recipient: str | None = None,
) -> OutboxAlert:
    """Add an alert; it commits (or not) with the caller's transaction."""
    alert = OutboxAlert(
        kind=kind,
        recipient=recipient,
        payload=json.dumps(payload, default=_encode),
        urgent=urgent,
        status=PENDING,
        attempts=0,
        created_at=now,
    )
    session.add(alert)
    session.flush()
    return alert


def payload_of(alert: OutboxAlert) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(alert.payload)
    return data


def pending_count(session: Session) -> int:
    return int(
        session.scalar(select(func.count(OutboxAlert.id)).where(OutboxAlert.status == PENDING)) or 0
    )


def fan_out(session: Session, people: Sequence[str], limit: int = FAN_OUT_BATCH) -> int:
    """Copy alerts written for everyone into one row per person, oldest first.

    The lock waits (no SKIP LOCKED): fan-outs run one at a time, so each person's copies are
    numbered in the order the alerts were written. Returns how many alerts were fanned out.
    """
    rows = session.scalars(
        select(OutboxAlert)
        .where(OutboxAlert.recipient.is_(None), OutboxAlert.status == PENDING)
        .order_by(OutboxAlert.id)
        .limit(limit)
        .with_for_update()
    ).all()
    copies = [
        {
            "kind": row.kind,
            "recipient": person,
            "payload": row.payload,
            "urgent": row.urgent,
            "status": PENDING,
            "attempts": 0,
            "created_at": row.created_at,
        }
        for row in rows
        for person in people
    ]
    if copies:
        session.execute(insert(OutboxAlert), copies)
    for row in rows:
        row.status = ROUTED
        row.last_error = None if people else "nobody can be reached"
    return len(rows)


def _due(now: datetime) -> ColumnElement[bool]:
    """Pending and due, or `sending` under a lease that ran out (its dispatcher died)."""
    return or_(
        and_(
            OutboxAlert.status == PENDING,
            or_(OutboxAlert.next_attempt_at.is_(None), OutboxAlert.next_attempt_at <= now),
        ),
        and_(OutboxAlert.status == SENDING, OutboxAlert.claimed_until < now),
    )


def _take(rows: Sequence[OutboxAlert], now: datetime, lease: timedelta) -> None:
    for row in rows:
        row.status = SENDING
        row.claimed_until = now + lease
        row.attempts += 1


def claim_due(
    session: Session,
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    skip_recipients: Iterable[str] = (),
    only_recipients: Iterable[str] | None = None,
) -> list[OutboxAlert]:
    """Claim the oldest undelivered row of each person, if it is due; at most `limit` rows.

    A person's next row is never claimed while an earlier one is undelivered, so each person
    gets alerts in order, and a person whose alert waits holds up nobody else.
    """
    heads = (
        select(func.min(OutboxAlert.id))
        .where(OutboxAlert.recipient.is_not(None), OutboxAlert.status.in_(UNDELIVERED))
        .group_by(OutboxAlert.recipient)
    )
    if only_recipients is not None:
        heads = heads.where(OutboxAlert.recipient.in_(list(only_recipients)))
    query = select(OutboxAlert).where(OutboxAlert.id.in_(heads), _due(now))
    skipped = list(skip_recipients)
    if skipped:
        query = query.where(OutboxAlert.recipient.not_in(skipped))
    rows = list(
        session.scalars(
            query.order_by(OutboxAlert.id).limit(limit).with_for_update(skip_locked=True)
        ).all()
    )
    _take(rows, now, lease)
    return rows


@dataclass(frozen=True, slots=True)
class Settlement:
    """What became of one claimed row: `delivered` (on `channel`), `muted`, `failed`, or
    `pending` again until `next_attempt_at`. `error` replaces the row's last error if given."""

    alert_id: int
    status: str
    channel: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None


_SETTLE = (
    update(OutboxAlert)
    .where(OutboxAlert.id == bindparam("p_id"), OutboxAlert.status == SENDING)
    .values(
        status=bindparam("p_status"),
        claimed_until=None,
        next_attempt_at=bindparam("p_next", type_=UtcDateTime()),
        last_error=func.coalesce(bindparam("p_error", type_=Text()), OutboxAlert.last_error),
        channel_used=func.coalesce(
            bindparam("p_channel", type_=String()), OutboxAlert.channel_used
        ),
        delivered_at=func.coalesce(
            bindparam("p_delivered", type_=UtcDateTime()), OutboxAlert.delivered_at
        ),
    )
)


def settle_many(session: Session, settlements: Sequence[Settlement], now: datetime) -> None:
    """Record what became of claimed rows, in one statement. A row no longer `sending` (its
    lease ran out and another dispatcher settled it) is left as it is."""
    if not settlements:
        return
    delivered = {DELIVERED}
    params = [
        {
            "p_id": s.alert_id,
            "p_status": s.status,
            "p_next": s.next_attempt_at if s.status == PENDING else None,
            "p_error": s.error[:2000] if s.error is not None else None,
            "p_channel": s.channel if s.status in delivered else None,
            "p_delivered": now if s.status in delivered else None,
        }
        for s in settlements
    ]
    session.connection().execute(_SETTLE, params)


def backlog(session: Session) -> tuple[int, datetime | None]:
    """How many alerts wait for delivery, and when the oldest of them happened."""
    count, oldest = session.execute(
        select(func.count(OutboxAlert.id), func.min(OutboxAlert.created_at)).where(
            OutboxAlert.status.in_(UNDELIVERED)
        )
    ).one()
    return int(count or 0), oldest


def told(session: Session, kind: str, field: str, value: str, *, within: int = 50) -> bool:
    """Whether one of the newest `within` alerts of `kind` carries `field` = `value` (an alert
    said once per day, per shortfall: its key in its payload)."""
    rows = session.scalars(
        select(OutboxAlert).where(OutboxAlert.kind == kind)
        .order_by(OutboxAlert.id.desc()).limit(within)
    )
    return any(payload_of(row).get(field) == value for row in rows)
