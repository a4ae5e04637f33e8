"""S4 decisions of one account (exchange and mode), oldest first: the baseline, then rotations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage import orders, schedules
from storage.models import Order, S4Rotation, StrategySettings

BASELINE, SHADOW, STARTED, RETRYING = "baseline", "shadow", "started", "retrying"
DONE, MISSED, REFUSED = "done", "missed", "refused"
OPEN = (STARTED, RETRYING)


def decisions(session: Session, exchange: str, mode: str) -> Sequence[S4Rotation]:
    return session.scalars(
        select(S4Rotation)
        .where(S4Rotation.exchange == exchange, S4Rotation.mode == mode)
        .order_by(S4Rotation.candle_time, S4Rotation.id)
    ).all()


def by_key(session: Session, key: str, *, lock: bool = False) -> S4Rotation | None:
    query = select(S4Rotation).where(S4Rotation.decision_key == key)
    return session.scalar(query.with_for_update() if lock else query)


def record(
    session: Session,
    *,
    key: str,
    exchange: str,
    mode: str,
    candle_time: datetime,
    from_asset: str,
    to_asset: str,
    shadow: bool,
    status: str,
    legs: dict[str, Any],
    now: datetime,
) -> S4Rotation | None:
    """Insert the decision; None when its key exists (decided before, here or elsewhere)."""
    row = S4Rotation(
        decision_key=key,
        exchange=exchange,
        mode=mode,
        candle_time=candle_time,
        from_asset=from_asset,
        to_asset=to_asset,
        shadow=shadow,
        status=status,
        legs=dumps(legs),
        outcome="",
        attempts=0,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def dumps(legs: dict[str, Any]) -> str:
    return json.dumps(legs, default=str)


def legs_of(row: S4Rotation) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(row.legs or "{}")
    return data


def open_rotations(session: Session, exchange: str, mode: str) -> Sequence[S4Rotation]:
    return session.scalars(
        select(S4Rotation)
        .where(
            S4Rotation.exchange == exchange,
            S4Rotation.mode == mode,
            S4Rotation.status.in_(OPEN),
        )
        .order_by(S4Rotation.candle_time)
    ).all()


def fill_context(session: Session, order: Order, symbols: Sequence[str]) -> dict[str, Any]:
    """For the card of a scheduled buy of an `s4` schedule: what S4 holds, since when, whether
    it executes, and the account's position in BTC and gold (empty for any other order)."""
    if order.cause != "schedule":
        return {}
    run = schedules.by_key(session, orders.base_key(order.cause_key))
    schedule = schedules.find(session, run.schedule_id) if run is not None else None
    if schedule is None or schedule.mode != "s4":
        return {}
    rows = decisions(session, order.exchange, order.mode)
    settings = session.scalar(
        select(StrategySettings).where(StrategySettings.exchange == order.exchange)
    )
    since = legs_of(rows[-1]).get("since") if rows and rows[-1].status == BASELINE else None
    return {
        "strategy": "s4",
        "s4_holds": rows[-1].to_asset if rows else "btc",
        "s4_since": since or (rows[-1].candle_time if rows else None),
        "s4_execute": bool(settings and settings.s4_execute),
        "position": orders.position(session, order.exchange, order.mode, symbols),
    }
