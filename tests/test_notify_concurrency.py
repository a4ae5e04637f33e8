"""Several dispatchers on one database, and a dispatcher process killed mid-backlog: every alert
is delivered, in order per person, never twice on LINE."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot.notify.dispatcher import Dispatcher
from storage import outbox
from storage.db import Database
from storage.migrate import upgrade
from tests.fakes.line_api import FakeLineAPI
from tests.fakes.line_events import line_user_id
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.notify_harness import (
    FAST,
    ZONE,
    _ptb_timedelta,
    enqueue,
    line,
    line_sender,
    people,
    rows,
    settled,
    telegram_sender,
    tg,
    wait_for,
)

__all__ = ["_ptb_timedelta", "line", "tg"]  # fixtures from the harness

ROOT = Path(__file__).resolve().parents[1]
LINE_USERS = [line_user_id(0x100 + i) for i in range(10)]
CHATS = [1000 + i for i in range(10)]
ROUTES = ";".join(
    [f"l{i}=line:{user},telegram:{2000 + i}" for i, user in enumerate(LINE_USERS)]
    + [f"t{i}=telegram:{chat}" for i, chat in enumerate(CHATS)]
)
NUMBER = re.compile(r"n: (\d+)")


def write_backlog(db: Database, per_person: int) -> dict[str, list[int]]:
    """`per_person` alerts for each of the 20 people, interleaved; returns who expects what."""
    expected: dict[str, list[int]] = {}
    names = [p.name for p in people(ROUTES)]
    number = 0
    for _ in range(per_person):
        for name in names:
            enqueue(db, 1, kind="ping", recipient=name, payload=lambda n, k=number: {"n": k})
            expected.setdefault(name, []).append(number)
            number += 1
    return expected


def line_received(line: FakeLineAPI, user: str) -> list[int]:
    return [int(m["altText"].rsplit(": ", 1)[1]) for m in line.messages_to(user)]


def tg_received(tg: FakeTelegramAPI, chat: int) -> list[int]:
    return [int(NUMBER.findall(m.text or "")[-1]) for m in tg.messages(chat)]


async def test_two_dispatchers_on_one_postgres_never_deliver_a_row_twice(
    postgres_url: str, tg: FakeTelegramAPI, line: FakeLineAPI
) -> None:
    databases = [Database(postgres_url), Database(postgres_url)]
    upgrade(databases[0])
    expected = write_backlog(databases[0], per_person=15)
    who = people(ROUTES)
    dispatchers, stop, tasks = [], asyncio.Event(), []
    for db in databases:
        senders = {"telegram": telegram_sender(tg, chat_per_second=1000), "line": line_sender(line)}
        # each takes at most half the people at a time, so both have work
        options = dataclasses.replace(FAST, max_claimed=10)
        dispatcher = Dispatcher(db, who, senders, zone=ZONE, options=options)
        dispatchers.append((dispatcher, senders))
        tasks.append(asyncio.create_task(dispatcher.run(stop)))
    await wait_for(lambda: settled(databases[0]), timeout=60)
    stop.set()
    await asyncio.gather(*tasks)
    for _, senders in dispatchers:
        for sender in senders.values():
            await sender.close()
    assert all(d.counts[outbox.DELIVERED] > 50 for d, _ in dispatchers)  # both worked
    assert sum(d.counts[outbox.DELIVERED] for d, _ in dispatchers) == 300
    for i, user in enumerate(LINE_USERS):
        assert line_received(line, user) == expected[f"l{i}"]
    for i, chat in enumerate(CHATS):
        assert tg_received(tg, chat) == expected[f"t{i}"]
    assert len(line.pushes) == 150 and len(tg.sent_messages) == 150
    for db in databases:
        db.dispose()


def start_child(
    database_url: str, tg: FakeTelegramAPI, line: FakeLineAPI, data: Path
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PTB_TIMEDELTA": "true",
        "DCABOT_DATA_DIR": str(data),
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_URL": tg.url,
        "LINE_CHANNEL_ACCESS_TOKEN": line.channel_access_token,
        "LINE_API_URL": line.base_url,
        "DCABOT_ALERT_ROUTES": ROUTES,
        "DCABOT_TELEGRAM_RATE": "10000",
        "DCABOT_TELEGRAM_CHAT_RATE": "1000",
        "DCABOT_LINE_RATE": "10000",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.notify_child"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


@pytest.mark.slow
async def test_a_dispatcher_killed_mid_backlog_loses_nothing_and_never_repeats_on_line(
    database_url: str, tg: FakeTelegramAPI, line: FakeLineAPI, tmp_path: Path
) -> None:
    db = Database(database_url)
    upgrade(db)
    expected = write_backlog(db, per_person=50)  # 1,000 alerts
    child = start_child(database_url, tg, line, tmp_path)
    try:
        await wait_for(lambda: len(line.pushes) + len(tg.sent_messages) >= 350, timeout=60)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        child.kill()
    at_kill = Counter(r.status for r in rows(db))
    assert at_kill[outbox.PENDING] > 300  # killed in the middle of the backlog

    child = start_child(database_url, tg, line, tmp_path)
    try:
        await wait_for(lambda: settled(db), timeout=90)
    finally:
        assert child.stdin is not None
        child.stdin.close()  # a clean stop this time
        child.wait(20)
    assert Counter(r.status for r in rows(db)) == {outbox.DELIVERED: 1000}

    keys = [p.retry_key for p in line.pushes]
    assert len(keys) == len(set(keys)) == 500  # never twice on LINE
    for i, user in enumerate(LINE_USERS):
        assert line_received(line, user) == expected[f"l{i}"]
    repeated = 0
    for i, chat in enumerate(CHATS):
        got = tg_received(tg, chat)
        assert sorted(set(got)) == expected[f"t{i}"]  # nothing lost, in order
        assert got == sorted(got)
        repeated += len(got) - len(set(got))
    assert repeated <= len(CHATS)  # at most the one in flight per chat when it died
    print(
        f"sending at the kill: {at_kill[outbox.SENDING]}; Telegram repeats: {repeated}; "
        f"LINE 409s: {line.conflict_count}"
    )
    db.dispose()
