"""Helpers for the alert tests: the real senders pointed at the local fakes, a dispatcher with
short timings, and ways to write alerts and wait for them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.notify.delivery import Backoff
from bot.notify.dispatcher import Dispatcher, DispatcherOptions
from bot.notify.line_sender import LineSender
from bot.notify.outcomes import Sender
from bot.notify.routes import Person, parse_routes
from bot.notify.telegram_sender import TelegramSender
from storage import outbox
from storage.db import Database
from storage.models import OutboxAlert
from tests.fakes.line_api import FakeLineAPI
from tests.fakes.line_events import line_user_id
from tests.fakes.telegram_api import FakeTelegramAPI

ZONE = ZoneInfo("Asia/Bangkok")
LINE_ANN = line_user_id(0xA11)
LINE_BOB = line_user_id(0xB0B)
FAST = DispatcherOptions(
    lease=timedelta(seconds=30),
    poll_s=0.05,
    claim_gap_s=0.01,
    backoff=Backoff(first=0.1, most=0.4),
    down_for=timedelta(seconds=0.3),
    stop_grace_s=2.0,
)


class ShiftedClock:
    """Real time plus an offset the test can move (to jump past LINE's quota reset)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def telegram_sender(tg: FakeTelegramAPI, **options: Any) -> TelegramSender:
    return TelegramSender(tg.token, base_url=tg.base_url, timeout=2.0, **options)


def line_sender(line: FakeLineAPI, **options: Any) -> LineSender:
    return LineSender(line.channel_access_token, host=line.base_url, timeout=2.0, **options)


def people(text: str) -> tuple[Person, ...]:
    return parse_routes(text)


def enqueue(
    db: Database,
    count: int = 1,
    *,
    kind: str = "dca_bought",
    recipient: str | None = None,
    urgent: bool = False,
    payload: Callable[[int], Mapping[str, Any]] | None = None,
    created_at: datetime | None = None,
) -> list[int]:
    """Write `count` alerts (numbered `n` in their payload) as the engine would."""
    ids = []
    with db.transaction() as session:
        for n in range(count):
            data = payload(n) if payload else {"n": n}
            row = outbox.enqueue(
                session,
                kind=kind,
                payload=data,
                now=created_at or datetime.now(UTC),
                urgent=urgent,
                recipient=recipient,
            )
            ids.append(row.id)
    return ids


def rows(db: Database, recipient: str | None = None) -> list[OutboxAlert]:
    with db.transaction() as session:
        query = select(OutboxAlert).order_by(OutboxAlert.id)
        if recipient is not None:
            query = query.where(OutboxAlert.recipient == recipient)
        return list(session.scalars(query).all())


def delivered(db: Database) -> int:
    return sum(1 for r in rows(db) if r.status == outbox.DELIVERED)


def settled(db: Database) -> bool:
    return all(r.status not in outbox.UNDELIVERED for r in rows(db))


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def dispatching(
    db: Database,
    who: Sequence[Person],
    senders: Mapping[str, Sender],
    *,
    options: DispatcherOptions = FAST,
    clock: Callable[[], datetime] | None = None,
) -> AsyncIterator[Dispatcher]:
    """A dispatcher running in the background; stopped and its senders closed on exit."""
    dispatcher = Dispatcher(
        db, who, senders, zone=ZONE, options=options, **({"clock": clock} if clock else {})
    )
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        yield dispatcher
    finally:
        stop.set()
        await task
        for sender in senders.values():
            await sender.close()


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake:
        yield fake


@pytest.fixture
async def line() -> AsyncIterator[FakeLineAPI]:
    async with FakeLineAPI() as fake:
        yield fake
