"""One policy for database work in async code: it runs in `Database.run`, never on the loop.

The detector (`tests/loop_guard.py`) is on for the whole suite; these tests show it can fail
(product code running SQL on the loop is caught, test code's own is not), and that `run` really
moves the work to a bounded pool of threads.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import bot
from storage.db import DB_WORKERS_AT_MOST, Database
from tests import loop_guard

PROBE_FILE = str(Path(bot.__file__).parent / "loop_probe.py")  # where product code lives
PROBE = '''
async def read_on_the_loop(db):
    with db.transaction() as session:
        return session.execute(QUERY).scalar()

async def read_in_a_thread(db):
    return await db.transact(lambda session: session.execute(QUERY).scalar())

def read_now(db):
    with db.transaction() as session:
        return session.execute(QUERY).scalar()
'''


def product_shaped() -> dict[str, Any]:
    """Functions whose code says it is product code (file under bot/): what the detector sees
    of any module in bot/, storage/ or strategies/."""
    namespace: dict[str, Any] = {"__name__": "bot.loop_probe", "QUERY": text("SELECT 1")}
    exec(compile(PROBE, PROBE_FILE, "exec"), namespace)
    return namespace


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Any:
    database = Database(f"sqlite:///{tmp_path / 'policy.db'}")
    yield database
    database.dispose()


async def test_product_code_doing_sql_on_the_loop_is_caught(sqlite_db: Database) -> None:
    probe = product_shaped()
    assert await probe["read_on_the_loop"](sqlite_db) == 1
    found = loop_guard.take()
    assert {v.site for v in found} == {"bot.loop_probe:read_on_the_loop"}
    assert any(v.sql == "SELECT 1" for v in found)
    said = "bot.loop_probe:read_on_the_loop (line 4) ran 'SELECT 1' on the event loop"
    assert said in {str(v) for v in found}


async def test_product_code_a_loop_callback_runs_is_caught(sqlite_db: Database) -> None:
    """No coroutine in sight (a callback the loop, or a library, calls): still the loop."""
    probe = product_shaped()
    done = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(lambda: done.set_result(probe["read_now"](sqlite_db)))
    assert await done == 1
    assert {v.site for v in loop_guard.take()} == {"bot.loop_probe:read_now"}


async def test_the_same_work_through_run_is_not(sqlite_db: Database) -> None:
    probe = product_shaped()
    assert await probe["read_in_a_thread"](sqlite_db) == 1
    assert loop_guard.take() == []


async def test_a_tests_own_coroutine_may_use_the_database(sqlite_db: Database) -> None:
    with sqlite_db.transaction() as session:  # setting up rows, as many tests do
        assert session.execute(text("SELECT 1")).scalar() == 1
    assert loop_guard.take() == []


def test_sql_outside_any_loop_is_not_watched(sqlite_db: Database) -> None:
    assert product_shaped()["read_now"](sqlite_db) == 1
    assert loop_guard.take() == []


async def test_run_works_on_a_thread_of_the_database_with_the_callers_context(
    sqlite_db: Database,
) -> None:
    request = contextvars.ContextVar("request", default="none")
    request.set("webhook 7")

    def where() -> tuple[int, str, str]:
        return threading.get_ident(), threading.current_thread().name, request.get()

    ident, name, seen = await sqlite_db.run(where)
    assert ident != threading.get_ident()
    assert name.startswith("dcabot-db")
    assert seen == "webhook 7"


async def test_the_pool_is_bounded_and_a_slow_transaction_leaves_the_loop_free(
    sqlite_db: Database,
) -> None:
    assert 1 <= sqlite_db.workers <= DB_WORKERS_AT_MOST
    active = peak = 0
    lock = threading.Lock()

    def slow() -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1

    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    beating = asyncio.create_task(heartbeat())
    await asyncio.gather(*(sqlite_db.run(slow) for _ in range(3 * sqlite_db.workers + 1)))
    beating.cancel()
    assert peak == sqlite_db.workers  # never more threads than the pool has, all of them used
    assert ticks >= 10  # the loop kept running while the work waited and ran


async def test_dispose_lets_work_in_flight_finish_and_a_later_run_starts_a_new_pool(
    sqlite_db: Database,
) -> None:
    finished: list[int] = []

    def slow(n: int) -> int:
        time.sleep(0.05)
        finished.append(n)
        return n

    pending = asyncio.ensure_future(sqlite_db.run(slow, 1))
    await asyncio.sleep(0.01)  # handed to a thread
    await asyncio.to_thread(sqlite_db.dispose)
    assert finished == [1] and await pending == 1
    assert await sqlite_db.run(slow, 2) == 2
