"""Answers while the exchange is slow: /status answers at once from the last known figures,
labelled with their age, and the fresh card follows in place (Telegram edits the message)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.chat.commands import build_registry
from bot.chat.confirmations import ConfirmationBook
from bot.chat.registry import ChatServices
from bot.chat.roles import Role, User
from bot.engine.context import Engine
from bot.engine.setup import open_engine
from storage.db import Database
from tests.app_harness import (
    TG_ADMIN,
    World,
    chat_settings,
    line,
    running_world,
    tg,
)
from tests.chat_harness import Bot
from tests.conftest import Clock, make_settings
from tests.fakes.exchange import FakeExchange, Fault
from tests.fakes.line_api import FakeLineAPI
from tests.fakes.telegram_api import FakeTelegramAPI

__all__ = ["line", "tg"]  # fixtures
OWNER = User("telegram", "1", Role.ADMIN)
SLOW_S = 2.0


@pytest.fixture
def fake() -> Iterator[FakeExchange]:
    with FakeExchange("binance") as started:
        yield started


def paper_on_fake(tmp_path: Path, db: Database, clock: Clock, fake: FakeExchange) -> Engine:
    """The paper exchange with prices from the fake Binance's public API (no fallback)."""
    settings = make_settings(
        tmp_path, price_source="exchange", binance_api_url=fake.url, request_timeout_s=10
    )
    return open_engine(settings, clock=clock, db=db)


def slow_tickers(fake: FakeExchange) -> None:
    for endpoint in ("GET /api/v3/ticker/24hr", "GET /api/v3/ticker/price"):
        fake.inject(endpoint, Fault.slow(SLOW_S), times=None)


async def test_status_answers_at_once_from_the_last_figures_and_the_fresh_ones_follow(
    tmp_path: Path, db: Database, clock: Clock, fake: FakeExchange
) -> None:
    engine = paper_on_fake(tmp_path, db, clock, fake)
    book = ConfirmationBook(db, timedelta(seconds=60), clock)
    bot = Bot(build_registry(), ChatServices(engine, book))
    first = await bot.say("/status")
    assert first.followup is None and "Last known" not in first.footer
    slow_tickers(fake)
    clock.advance(seconds=42)
    started = time.perf_counter()
    quick = await bot.say("/status")
    took = time.perf_counter() - started
    assert took < 1.0, took  # not the 2 s the exchange takes
    assert quick.footer.startswith("Last known figures, from 09:30:00 UTC (42 s ago)")
    assert quick.followup is not None
    fresh = await quick.followup
    assert fresh is not None and "Last known" not in fresh.footer
    assert [f.label for f in fresh.fields] == [f.label for f in quick.fields]
    await engine.exchange.close()


def test_telegram_puts_the_fresh_card_in_place_of_the_quick_one(
    tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, clock: Clock, fake: FakeExchange
) -> None:
    settings = chat_settings(
        tmp_path, tg, line, price_source="exchange", binance_api_url=fake.url
    )
    with running_world(settings, tg, line, clock) as world:
        [first] = world.telegram_says("/status")
        slow_tickers(fake)
        [quick] = world.telegram_says("/status")
        assert "Last known figures" in (quick.text or "")
        _wait_for_edit(world, quick.message_id)
        edited = next(m for m in world.tg.messages(TG_ADMIN) if m.message_id == quick.message_id)
        assert edited.edits == 1 and "Last known" not in (edited.text or "")
        assert first.text is not None


def _wait_for_edit(world: World, message_id: int, timeout: float = SLOW_S + 5) -> None:
    deadline = time.monotonic() + timeout
    while not any(
        c.params.get("message_id") == message_id for c in world.tg.calls_to("editMessageText")
    ):
        assert time.monotonic() < deadline, "the fresh card never came"
        time.sleep(0.05)
