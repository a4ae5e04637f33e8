"""Alert delivery against the local fake Telegram and LINE APIs, through the real SDKs: fallback
across channels, LINE's retry key and monthly quota, Telegram's RetryAfter, outages."""

from __future__ import annotations

import io
import itertools
import time
from datetime import UTC, datetime, timedelta

from bot.notify.channel_state import EXHAUSTED, next_quota_reset
from bot.notify.health import alert_health
from bot.notify.terminal_sender import TerminalSender
from storage import outbox
from storage.db import Database
from tests.fakes.line_api import FakeLineAPI
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.notify_harness import (
    LINE_ANN,
    ZONE,
    ShiftedClock,
    _ptb_timedelta,
    delivered,
    dispatching,
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


def numbers(texts: list[str | None]) -> list[int]:
    return [int(str(t).rsplit(": ", 1)[1]) for t in texts]


def tg_numbers(tg: FakeTelegramAPI, chat: int) -> list[int]:
    return numbers([m.text.splitlines()[-1] if m.text else None for m in tg.messages(chat)])


def line_numbers(line: FakeLineAPI, to: str) -> list[int]:
    return numbers([m["altText"] for m in line.messages_to(to)])


async def test_monthly_limit_sends_on_telegram_and_skips_line_until_the_quota_resets(
    db: Database, tg: FakeTelegramAPI, line: FakeLineAPI
) -> None:
    clock = ShiftedClock()
    senders = {"line": line_sender(line), "telegram": telegram_sender(tg)}
    line.monthly_limit_next()
    enqueue(db, 1, kind="ping")
    async with dispatching(
        db, people(f"owner=line:{LINE_ANN},telegram:42"), senders, clock=clock
    ) as dispatcher:
        await wait_for(lambda: delivered(db) == 1)
        assert tg_numbers(tg, 42) == [0] and line.pushes == []
        blocked = dispatcher.board.blocked("line", clock())
        assert blocked is not None and blocked.state == EXHAUSTED
        assert blocked.until == next_quota_reset(clock(), ZONE, 1)
        assert blocked.until.astimezone(ZONE).day == 1 and blocked.until > clock()

        enqueue(db, 2, kind="ping")
        await wait_for(lambda: delivered(db) == 3)
        assert len(line.calls_to("push")) == 1  # LINE was not asked again
        assert tg_numbers(tg, 42) == [0, 0, 1]
        await wait_for(lambda: alert_health(db, ["line"], clock()).channels[0].state == EXHAUSTED)

        clock.offset = blocked.until - datetime.now(UTC) + timedelta(seconds=1)  # month turns
        enqueue(db, 1, kind="ping")
        await wait_for(lambda: delivered(db) == 4)
    assert line_numbers(line, LINE_ANN) == [0]
    assert [r.channel_used for r in rows(db) if r.recipient] == ["telegram"] * 3 + ["line"]


async def test_line_500_twice_then_ok_is_delivered_once_with_one_retry_key(
    db: Database, tg: FakeTelegramAPI, line: FakeLineAPI
) -> None:
    senders = {"line": line_sender(line), "telegram": telegram_sender(tg)}
    line.server_error_next("push", times=2)
    enqueue(db, 1, kind="ping", urgent=True)
    async with dispatching(db, people(f"owner=line:{LINE_ANN},telegram:42"), senders):
        await wait_for(lambda: delivered(db) == 1)
    calls = line.calls_to("push")
    assert [c.status for c in calls] == [500, 500, 200]
    keys = {c.headers["x-line-retry-key"] for c in calls}
    assert len(keys) == 1 and keys == {line.pushes[0].retry_key}
    assert line_numbers(line, LINE_ANN) == [0] and tg.messages(42) == []


async def test_a_lost_line_answer_is_a_409_on_the_retry_and_counts_as_delivered(
    db: Database, tg: FakeTelegramAPI, line: FakeLineAPI
) -> None:
    senders = {"line": line_sender(line), "telegram": telegram_sender(tg)}
    line.server_error_next("push", accepted=True)  # delivered, but the answer is lost
    enqueue(db, 1, kind="ping", urgent=True)
    async with dispatching(db, people(f"owner=line:{LINE_ANN},telegram:42"), senders):
        await wait_for(lambda: delivered(db) == 1)
    assert [c.status for c in line.calls_to("push")] == [500, 409]
    assert len(line.pushes) == 1 and tg.messages(42) == []
    assert rows(db)[-1].channel_used == "line"


async def test_retry_after_pauses_only_its_chat_and_the_alert_arrives_after_the_wait(
    db: Database, tg: FakeTelegramAPI
) -> None:
    tg.rate_limit_next(chat_id=42, retry_after=1)
    enqueue(db, 3, kind="ping")
    async with dispatching(
        db, people("a=telegram:42;b=telegram:43"), {"telegram": telegram_sender(tg)}
    ):
        await wait_for(lambda: delivered(db) == 6)
    [limited] = [c for c in tg.calls_to("sendMessage") if c.status == 429]
    first_a, first_b = tg.messages(42)[0].sent_at, tg.messages(43)[0].sent_at
    assert first_a >= limited.time + 0.95  # waited the second it was told to
    assert first_b < limited.time + 0.5  # the other chat did not wait
    assert tg_numbers(tg, 42) == tg_numbers(tg, 43) == [0, 1, 2]
    times = [m.sent_at for m in tg.messages(43)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= 0.99  # one a second per chat
    assert tg.rate_limited_count == 1


async def test_every_channel_down_then_back_delivers_everything_in_order(
    db: Database, tg: FakeTelegramAPI, line: FakeLineAPI
) -> None:
    tg.server_error_next("sendMessage", times=10_000)
    line.server_error_next("push", times=10_000)
    senders = {"line": line_sender(line), "telegram": telegram_sender(tg, chat_per_second=50)}
    who = people(f"a=line:{LINE_ANN},telegram:42;b=telegram:43")
    enqueue(db, 5, kind="ping", urgent=True)
    async with dispatching(db, who, senders):
        await wait_for(lambda: sum(r.attempts for r in rows(db, "a")) >= 3)
        assert delivered(db) == 0
        waiting = rows(db, "a")
        assert waiting[0].last_error and "unavailable" in waiting[0].last_error
        assert [r.attempts for r in waiting[1:]] == [0] * 4  # later alerts wait their turn
        tg.clear_faults()
        line.clear_faults()
        await wait_for(lambda: delivered(db) == 10, timeout=15)
    assert line_numbers(line, LINE_ANN) + tg_numbers(tg, 42) == [0, 1, 2, 3, 4]
    assert tg_numbers(tg, 43) == [0, 1, 2, 3, 4]


async def test_a_blocked_bot_falls_back_and_a_stuck_person_holds_up_nobody_else(
    db: Database, tg: FakeTelegramAPI, line: FakeLineAPI
) -> None:
    tg.block_chat(42)
    tg.block_chat(44)
    senders = {"line": line_sender(line), "telegram": telegram_sender(tg, chat_per_second=50)}
    who = people(f"a=telegram:42,line:{LINE_ANN};stuck=telegram:44;c=telegram:43")
    enqueue(db, 3, kind="ping")
    async with dispatching(db, who, senders):
        await wait_for(lambda: len(tg.messages(43)) == 3 and len(line.pushes) == 3)
    assert line_numbers(line, LINE_ANN) == [0, 1, 2]
    stuck = rows(db, "stuck")
    assert [r.status for r in stuck] == ["pending"] * 3
    assert "Forbidden" in str(stuck[0].last_error) and stuck[0].next_attempt_at is not None


async def test_a_plain_line_rate_limit_waits_unless_the_alert_is_urgent(
    db: Database, tg: FakeTelegramAPI, line: FakeLineAPI
) -> None:
    senders = {"line": line_sender(line), "telegram": telegram_sender(tg)}
    who = people(f"owner=line:{LINE_ANN},telegram:42")
    line.rate_limit_next()
    enqueue(db, 1, kind="ping", urgent=True)
    async with dispatching(db, who, senders):
        await wait_for(lambda: delivered(db) == 1)
        assert tg_numbers(tg, 42) == [0]  # urgent: fell back at once
        await wait_for(lambda: len(line.calls_to("push")) == 1)
    line.rate_limit_next()
    enqueue(db, 1, kind="ping")
    started = time.monotonic()
    async with dispatching(db, who, {"line": line_sender(line), "telegram": telegram_sender(tg)}):
        await wait_for(lambda: delivered(db) == 2)
    assert time.monotonic() - started >= 0.9  # backed off a second, then LINE again
    assert len(tg.messages(42)) == 1 and line_numbers(line, LINE_ANN) == [0]
    assert rows(db)[-1].channel_used == "line"


async def test_the_terminal_takes_what_no_chat_can(db: Database, tg: FakeTelegramAPI) -> None:
    tg.block_chat(42)
    out = io.StringIO()
    enqueue(db, 1, kind="trend_flip", payload=lambda n: {"trend": "down", "symbol": "BTC/USDT"})
    async with dispatching(
        db,
        people("owner=telegram:42,terminal"),
        {"telegram": telegram_sender(tg), "terminal": TerminalSender(out)},
    ):
        await wait_for(lambda: settled(db))
    assert "Trend flip: red (down)" in out.getvalue()
    assert rows(db)[-1].status == outbox.DELIVERED and rows(db)[-1].channel_used == "terminal"
