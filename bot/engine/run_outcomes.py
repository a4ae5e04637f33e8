"""How a scheduled run ends, and what the owner hears: exactly one final outcome per due run.

* bought / saved to the reserve: written with the fill or the ledger row (settlement, dca_run).
* skipped (nothing could be done: not enough free money, below the minimum) or failed (the
  exchange refused): `finish_unrun`, with an urgent alert saying why.
* the exchange or the network was down: `retry_later` keeps the run `retrying` with backoff
  while it is within `DCABOT_MISSED_RUN_GRACE` of its due time, and records it `missed` after
  that. The owner hears it once when the first attempt fails ("retrying until ...") and once
  at the end (the buy, or the miss), never once per retry.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.engine.context import Engine
from bot.exchanges.quantize import exchange_title
from storage import outbox, schedules

FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(minutes=30)


def backoff(attempts: int) -> timedelta:
    """The wait before the next try: doubling from a minute, at most half an hour (the
    exponent is capped, so a week of retries never overflows)."""
    return min(FIRST_RETRY * (1 << min(attempts, 16)), LONGEST_RETRY)


def finish_unrun(engine: Engine, key: str, outcome: str) -> None:
    """Finish a run that could not buy or save, with the urgent alert that says why."""
    now = engine.clock()
    with engine.db.transaction() as session:
        schedules.finish(session, key, schedules.DONE, outcome, now)
        outbox.enqueue(
            session,
            kind="order_failed",
            now=now,
            urgent=True,
            payload={
                "exchange": engine.exchange.name,
                "mode": engine.exchange.mode,
                "cause": "schedule",
                "error": outcome,
                "run": key,
            },
        )


def grace(engine: Engine) -> timedelta:
    return timedelta(hours=engine.settings.missed_run_grace_h)


def retry_later(engine: Engine, key: str, due_at: datetime, reason: str) -> tuple[str, str]:
    """The exchange could not be reached for this run: try again later, or record it missed.

    Returns the run's status and outcome text."""
    now = engine.clock()
    give_up_at = due_at + grace(engine)
    with engine.db.transaction() as session:
        run = schedules.by_key(session, key)
        assert run is not None
        if now >= give_up_at:
            told = (
                f"{_exchange_name(engine)} could not be reached before the {_hours(engine)} "
                f"grace ran out ({reason})"
            )
            return _missed(session, engine, key, due_at, reason, told, run.attempts + 1)
        wait = backoff(run.attempts)
        retry = min(now + wait, give_up_at)
        schedules.retry_at(session, key, retry, reason)
        run.attempts += 1
        if run.attempts == 1:
            outbox.enqueue(
                session,
                kind="run_delayed",
                now=now,
                urgent=True,
                payload={
                    "schedule_id": run.schedule_id,
                    "due_at": due_at,
                    "exchange": engine.exchange.name,
                    "mode": engine.exchange.mode,
                    "reason": reason,
                    "retry_until": give_up_at,
                },
            )
        return schedules.RETRYING, f"retrying at {retry:%H:%M} UTC: {reason}"


def missed_late(engine: Engine, key: str, due_at: datetime, why: str) -> tuple[str, str]:
    """A run found unfinished after its grace (the bot was down): recorded missed and told,
    never bought late (that would be another decision than the one due)."""
    with engine.db.transaction() as session:
        run = schedules.by_key(session, key)
        assert run is not None
        told = f"{why} (the {_hours(engine)} grace after its due time had passed)"
        return _missed(session, engine, key, due_at, why, told, run.attempts)


def _missed(session: Session, engine: Engine, key: str, due_at: datetime, reason: str,
            told: str, attempts: int) -> tuple[str, str]:
    run = schedules.by_key(session, key)
    assert run is not None
    now = engine.clock()
    outcome = f"missed: {reason}"
    schedules.finish(session, key, schedules.MISSED, outcome, now)
    outbox.enqueue(
        session,
        kind="schedule_missed",
        now=now,
        urgent=True,
        payload={
            "schedule_id": run.schedule_id,
            "due_at": due_at,
            "attempts": attempts,
            "reason": told,
            "exchange": engine.exchange.name,
            "mode": engine.exchange.mode,
        },
    )
    return schedules.MISSED, outcome


def _exchange_name(engine: Engine) -> str:
    return exchange_title(engine.exchange.name)


def _hours(engine: Engine) -> str:
    hours = engine.settings.missed_run_grace_h
    return f"{hours:g} h"
