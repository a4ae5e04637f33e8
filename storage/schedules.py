"""Schedules and their runs. The schedules table is the source of truth for the scheduler."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import Schedule, ScheduleRun

STARTED, RETRYING, DONE, MISSED = "started", "retrying", "done", "missed"
FINAL = (DONE, MISSED)


def active(session: Session, exchange: str | None = None) -> Sequence[Schedule]:
    """Schedules not removed (each leg of a split one is a row), of `exchange` when given."""
    query = select(Schedule).where(Schedule.removed.is_(False)).order_by(Schedule.id)
    if exchange is not None:
        query = query.where(Schedule.exchange == exchange)
    return session.scalars(query).all()


def legs(session: Session, schedule_id: int) -> Sequence[Schedule]:
    """Every active leg of the schedule `schedule_id` belongs to (itself when it is not split)."""
    row = find(session, schedule_id)
    if row is None:
        return []
    first = row.leg_of or row.id
    query = select(Schedule).where(
        Schedule.removed.is_(False), (Schedule.id == first) | (Schedule.leg_of == first)
    )
    return session.scalars(query.order_by(Schedule.id)).all()


def _of_exchange(query: Select[ScheduleRun], exchange: str | None
                 ) -> Select[ScheduleRun]:
    if exchange is None:
        return query
    return query.join(Schedule, Schedule.id == ScheduleRun.schedule_id).where(
        Schedule.exchange == exchange
    )


def find(session: Session, schedule_id: int) -> Schedule | None:
    row = session.get(Schedule, schedule_id)
    return row if row is not None and not row.removed else None


def claim_run(session: Session, schedule_id: int, run_key: str, due_at: datetime,
              now: datetime, status: str = STARTED) -> ScheduleRun | None:
    """Insert the run's row; None when the key exists already (someone ran or is running it)."""
    run = ScheduleRun(run_key=run_key, schedule_id=schedule_id, due_at=due_at, status=status,
                      outcome="", created_at=now)
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return None
    return run


def by_key(session: Session, run_key: str) -> ScheduleRun | None:
    return session.scalar(select(ScheduleRun).where(ScheduleRun.run_key == run_key))


def finish(session: Session, run_key: str, status: str, outcome: str, now: datetime) -> None:
    run = session.scalar(select(ScheduleRun).where(ScheduleRun.run_key == run_key)
                         .with_for_update())
    assert run is not None
    run.status, run.outcome, run.finished_at = status, outcome[:200], now
    run.next_attempt_at = None


def retry_at(session: Session, run_key: str, when: datetime, error: str) -> ScheduleRun:
    """Mark the run to be tried again at `when`; returns it (its `attempts` not yet counted)."""
    run = session.scalar(select(ScheduleRun).where(ScheduleRun.run_key == run_key)
                         .with_for_update())
    assert run is not None
    run.status, run.next_attempt_at, run.last_error = RETRYING, when, error[:2000]
    return run


def due_retries(session: Session, now: datetime, exchange: str | None = None
                ) -> Sequence[ScheduleRun]:
    query = select(ScheduleRun).where(
        ScheduleRun.status == RETRYING, ScheduleRun.next_attempt_at <= now
    )
    return session.scalars(
        _of_exchange(query, exchange).order_by(ScheduleRun.next_attempt_at)
    ).all()


def last_due(session: Session, schedule_id: int) -> datetime | None:
    return session.scalar(
        select(ScheduleRun.due_at).where(ScheduleRun.schedule_id == schedule_id)
        .order_by(ScheduleRun.due_at.desc()).limit(1)
    )


def unfinished(session: Session, exchange: str | None = None) -> Sequence[ScheduleRun]:
    """Runs claimed and not finished: started (a process may have died) or waiting to retry."""
    query = select(ScheduleRun).where(ScheduleRun.status.in_((STARTED, RETRYING)))
    return session.scalars(_of_exchange(query, exchange)).all()
