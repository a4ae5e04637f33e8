"""Runs that fell due while no bot was leading: the newest is run if still within the grace,
the rest are recorded as missed and the owner is told (`catch_up`, at every new leader)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.engine.context import Engine
from bot.engine.dca_run import RunResult, run_key, run_schedule
from bot.engine.schedule_spec import ScheduleSpec
from storage import outbox, schedules
from storage.models import Schedule

MAX_MISSED_LISTED = 52


def _spec(schedule: Schedule) -> ScheduleSpec:
    return ScheduleSpec(schedule.days, schedule.local_time)


def _record_missed(engine: Engine, schedule: Schedule, due_at: datetime) -> None:
    now = engine.clock()
    key = run_key(schedule.id, due_at)
    with engine.db.transaction() as session:
        if (
            schedules.claim_run(session, schedule.id, key, due_at, now, status=schedules.MISSED)
            is not None
        ):
            outbox.enqueue(
                session,
                kind="schedule_missed",
                now=now,
                urgent=True,
                payload={
                    "schedule_id": schedule.id,
                    "due_at": due_at,
                    "amount": schedule.amount,
                    "exchange": schedule.exchange,
                    "mode": engine.exchange.mode,
                    "reason": "the bot was not running at that time",
                },
            )


def _active_since(
    session: Session, exchange: str
) -> tuple[list[Schedule], dict[int, datetime]]:
    """The active schedules, and when each last fell due (or was made)."""
    active = [s for s in schedules.active(session, exchange) if not s.paused]
    return active, {s.id: schedules.last_due(session, s.id) or s.created_at for s in active}


async def catch_up(engine: Engine, grace: timedelta) -> list[RunResult]:
    """Runs due while the bot was down: the newest runs once if within `grace`, the rest (and
    it, if older) are recorded as missed and the owner is told. Never silent."""
    now, zone, db = engine.clock(), engine.settings.zone, engine.db
    active, since = await db.transact(_active_since, engine.exchange.name)
    results: list[RunResult] = []
    for schedule in active:
        due = _spec(schedule).due_between(zone, since[schedule.id], now)[-MAX_MISSED_LISTED:]
        if not due:
            continue
        *older, newest = due
        for when in older:
            await db.run(_record_missed, engine, schedule, when)
        if now - newest <= grace:
            results.append(await run_schedule(engine, schedule.id, newest))
        else:
            await db.run(_record_missed, engine, schedule, newest)
            results.append(RunResult(run_key(schedule.id, newest), "missed", "past the grace"))
    return results
