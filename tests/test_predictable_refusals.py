"""Predictable problems get their own one-line answers, never "failed unexpectedly"."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.chat.commands import build_registry
from bot.chat.confirmations import ConfirmationBook
from bot.chat.registry import ChatServices
from bot.chat.roles import Role, User
from storage.db import Database
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings
from tests.exchange_harness import adapter, engine_with, keys_of, running

OWNER = User("telegram", "1", Role.ADMIN)


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("/strategy cap binance 1e20", "'1e20' is not an amount"),
        ("/strategy cap binance 100000000000000000000", "has more than 12 digits"),
        ("/history ²", "'²' is not a count from 1 to 50"),
        ("/schedule pause ²", "'²' is not a schedule id"),
        ("/reserve add 1" + "0" * 30, "has more than 12 digits"),
    ],
)
async def test_numbers_no_database_can_store_are_refused_plainly(
    tmp_path: Path, db: Database, clock: Clock, command: str, says: str
) -> None:
    bot = make_bot(make_settings(tmp_path), db, clock)
    reply = await bot.say(command)
    assert reply.kind == "error" and says in reply.lines[0], reply
    assert "unexpectedly" not in " ".join(reply.lines)


@pytest.mark.parametrize("command", ["/status", "/reserve", "/sell 10"])
async def test_an_exchange_refusing_the_key_is_said_in_one_line(
    tmp_path: Path, db: Database, clock: Clock, command: str
) -> None:
    with running("binance") as fake:
        exchange = adapter(fake, clock, credentials=keys_of(fake, secret="not-the-secret"))
        engine = engine_with(tmp_path, db, fake, exchange, clock)
        bot = Bot(
            build_registry(),
            ChatServices(engine, ConfirmationBook(db, timedelta(seconds=60), clock)),
        )
        reply = await bot.say(command)
        await exchange.close()
    assert reply.kind == "error", reply
    assert "refused the API key" in reply.lines[0], reply
    assert reply.lines[1] == "Nothing was done; try again later."
    assert bot.counts() == (0, 0, 0, 0)
