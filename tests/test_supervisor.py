"""Supervised background work: a failing task is logged, reported once per incident in the
outbox, and restarted with growing waits; a task asked to stop ends cleanly."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.engine.incidents import report_incident
from bot.engine.setup import open_engine
from bot.supervisor import MAX_BACKOFF_S, Supervisor
from storage import outbox
from storage.db import Database
from storage.models import OutboxAlert
from tests.conftest import Clock, make_settings


def reported(db: Database) -> list[dict[str, object]]:
    with db.transaction() as session:
        rows = session.scalars(select(OutboxAlert).where(OutboxAlert.kind == "task_failed"))
        return [outbox.payload_of(row) for row in rows]


async def test_a_failing_task_restarts_with_backoff_and_is_reported_once_per_incident(
    tmp_path: Path, db: Database, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    engine = open_engine(make_settings(tmp_path), clock=clock, db=db)
    waits: list[float] = []
    runs = 0
    healed = asyncio.Event()

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds=seconds)

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs <= 4:
            raise ConnectionError(f"attempt {runs} could not reach the exchange")
        if runs == 5:
            clock.advance(minutes=2)  # runs well for a while, then fails again: a new incident
            raise ConnectionError("it broke again")
        healed.set()
        await asyncio.Event().wait()

    supervisor = Supervisor(
        clock, lambda task, why: engine.db.run(report_incident, engine, task, why), sleep=sleep
    )
    with caplog.at_level(logging.ERROR):
        state = supervisor.start("scheduler", flaky)
        await asyncio.wait_for(healed.wait(), 5)
    assert waits == [1.0, 2.0, 4.0, 8.0, 1.0]  # doubling, then back to the first after a good run
    assert state.restarts == 5 and state.state == "running"
    assert [p["reason"] for p in reported(db)] == [
        "ConnectionError: attempt 1 could not reach the exchange",
        "ConnectionError: it broke again",
    ]
    assert all("Traceback" not in r.message for r in caplog.records)
    assert sum("background task scheduler failed" in r.message for r in caplog.records) == 5
    health = supervisor.health()["scheduler"]
    assert health["restarts"] == 5 and health["last_error"] == "ConnectionError: it broke again"
    await supervisor.stop()
    assert state.state == "stopped"
    await asyncio.to_thread(engine.db.dispose)


async def test_backoff_stops_growing_at_five_minutes(clock: Clock) -> None:
    waits: list[float] = []
    enough = asyncio.Event()

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 12:
            enough.set()
            await asyncio.Event().wait()

    async def always_fails() -> None:
        raise RuntimeError("down")

    async def ignored(task: str, why: str) -> None:
        return None

    supervisor = Supervisor(clock, ignored, sleep=sleep)
    supervisor.start("alerts", always_fails)
    await asyncio.wait_for(enough.wait(), 5)
    assert max(waits) == MAX_BACKOFF_S and waits[-1] == MAX_BACKOFF_S
    await supervisor.stop()


async def test_a_task_asked_to_stop_ends_without_a_restart_or_a_report(clock: Clock) -> None:
    stop = asyncio.Event()
    reports: list[str] = []

    async def drains() -> None:
        await stop.wait()
        await asyncio.sleep(0.01)  # the work in flight finishes

    async def report(task: str, why: str) -> None:
        reports.append(why)

    supervisor = Supervisor(clock, report)
    state = supervisor.start("alerts", drains, stop=stop)
    stop.set()
    await supervisor.finish("alerts", timeout_s=2)
    assert state.state == "stopped" and state.restarts == 0 and reports == []


async def test_a_report_that_cannot_be_written_does_not_stop_the_restarts(clock: Clock) -> None:
    runs = 0
    third = asyncio.Event()

    async def broken_report(task: str, why: str) -> None:
        raise RuntimeError("the database is down too")

    async def sleep(seconds: float) -> None:
        return None

    async def fails_twice() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise OSError("network unreachable")
        third.set()
        await asyncio.Event().wait()

    supervisor = Supervisor(clock, broken_report, sleep=sleep)
    supervisor.start("scheduler", fails_twice)
    await asyncio.wait_for(third.wait(), 5)
    await supervisor.stop()
