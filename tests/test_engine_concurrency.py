"""Concurrency on a real PostgreSQL: the reserve cannot be spent twice or go negative, two
engine processes never execute one run twice, and one leader schedules while the other stands by.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.engine.errors import UserError
from bot.engine.reserve import add_to_reserve, deploy_reserve
from bot.engine.schedules import add_schedule
from bot.engine.setup import open_engine
from storage import ledger
from storage.db import Database
from storage.leader import LeaderLock
from storage.migrate import upgrade
from storage.models import Order, ReserveEntry, ScheduleRun
from tests.conftest import Clock, make_settings

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def test_twenty_concurrent_deploys_and_adds_keep_the_reserve_whole(
        postgres_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url=postgres_url,
                             paper_start_balance=Decimal(100_000))
    setup = Database(postgres_url)
    upgrade(setup)
    first = open_engine(settings, clock=Clock(NOW), db=setup)
    asyncio.run(add_to_reserve(first, Decimal(1000), requested_by="t"))
    outcomes: list[str] = []
    barrier = threading.Barrier(20)

    def worker(index: int) -> None:
        db = Database(postgres_url)  # each thread its own pool and connections
        engine = open_engine(settings, clock=Clock(NOW), db=db)

        async def act() -> str:
            barrier.wait()
            try:
                if index % 2:
                    await add_to_reserve(engine, Decimal(100), requested_by=f"t{index}")
                    return "added"
                outcome = await deploy_reserve(engine, cause="deploy", cause_key=f"k{index}",
                                               requested_by=f"t{index}")
                return f"deploy {outcome.status}"
            except UserError as exc:
                return f"refused: {exc}"

        outcomes.append(asyncio.run(act()))
        db.dispose()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 20
    assert outcomes.count("added") == 10
    with setup.transaction() as session:
        recorded = ledger.balance(session, "binance", "paper")
        assert recorded == ledger.ledger_sum(session, "binance", "paper")
        amounts = session.scalars(select(ReserveEntry.amount).order_by(ReserveEntry.id)).all()
        deploys = session.scalar(select(func.count()).select_from(Order)
                                 .where(Order.status == "filled")) or 0
    assert recorded >= 0
    running = Decimal(0)
    for amount in amounts:  # in commit order the balance never dipped below zero
        running += amount
        assert running >= 0
    assert deploys == sum(o == "deploy filled" for o in outcomes) >= 1
    setup.dispose()


RUN_ONE = textwrap.dedent("""
    import asyncio, sys, time
    from datetime import datetime, UTC
    from decimal import Decimal
    from pathlib import Path
    from bot.config import load_settings
    from bot.engine.dca_run import run_schedule
    from bot.engine.setup import open_engine

    url, data = sys.argv[1], sys.argv[2]
    schedule_id, start_at = int(sys.argv[3]), float(sys.argv[4])
    due = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    settings = load_settings(_env_file=None, database_url=url, data_dir=Path(data),
                             price_source="simulated", paper_start_balance=Decimal(10000))
    engine = open_engine(settings, clock=lambda: due)
    while time.time() < start_at:
        time.sleep(0.001)
    result = asyncio.run(run_schedule(engine, schedule_id, due))
    print(result.status)
""")


def test_two_engine_processes_never_execute_the_same_run_twice(
        postgres_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url=postgres_url)
    db = Database(postgres_url)
    upgrade(db)
    engine = open_engine(settings, clock=Clock(NOW), db=db)
    view = asyncio.run(add_schedule(engine, "mon", "07:00", Decimal(100), None, "plain",
                                    requested_by="t"))
    start_at = time.time() + 2.0
    procs = [subprocess.Popen(
        [sys.executable, "-c", RUN_ONE, postgres_url, str(tmp_path / f"d{i}"), str(view.id),
         str(start_at)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)]
    results = [p.communicate(timeout=60) for p in procs]
    statuses = sorted(out.strip() for out, _ in results)
    assert statuses == ["already", "done"], results
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ScheduleRun)) == 1
        assert session.scalar(select(func.count()).select_from(Order)) == 1
    db.dispose()


HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from storage.db import Database
    from storage.leader import LeaderLock
    lock = LeaderLock(Database(sys.argv[1]))
    print("leader" if lock.try_acquire() else "standby", flush=True)
    time.sleep(float(sys.argv[2]))
""")


def _leader_handover(url: str) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, url, "30"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "leader"
    mine = LeaderLock(Database(url))
    assert not mine.try_acquire()  # standing by while the other process leads
    holder.kill()  # the leader dies without releasing anything
    holder.wait(timeout=10)
    deadline = time.time() + 10
    while not mine.try_acquire():
        assert time.time() < deadline, "the standby never took over"
        time.sleep(0.1)
    assert mine.held
    mine.release()


def test_a_standby_takes_over_when_the_postgres_leader_dies(postgres_url: str) -> None:
    _leader_handover(postgres_url)


def test_a_standby_takes_over_when_the_sqlite_leader_dies(tmp_path: Path) -> None:
    _leader_handover(f"sqlite:///{tmp_path / 'dcabot.db'}")


def test_a_postgres_leader_that_finds_its_lock_connection_broken_lets_go_of_the_lock(
    postgres_url: str,
) -> None:
    """The check on the lock's connection fails while its session lives on (here: a failed
    statement left it in an aborted transaction). Dropping the connection without closing it
    put it back in the pool still holding the advisory lock, so no process could ever lead
    again, all of them standing by in silence (review finding 10)."""
    first_db, second_db = Database(postgres_url), Database(postgres_url)
    first, second = LeaderLock(first_db), LeaderLock(second_db)
    assert first.try_acquire()
    with pytest.raises(Exception):  # noqa: B017 - any database error poisons the session
        first._connection.execute(text("SELECT 1/0"))
    assert not first.still_held()
    assert second.try_acquire(), "the lock stayed with a connection nobody owns"
    second.release()
    first_db.dispose()
    second_db.dispose()
