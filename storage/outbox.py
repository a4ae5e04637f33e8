"""The alert outbox: alerts are written with the event they report and delivered later."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import OutboxAlert


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
        status="pending",
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
        session.scalar(select(func.count(OutboxAlert.id)).where(OutboxAlert.status == "pending"))
        or 0
    )
