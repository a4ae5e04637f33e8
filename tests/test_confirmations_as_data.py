"""Confirmations are rows, not closures (issue 16): a tap works on another worker and after a
restart within its time, one tap wins however many arrive at once, and rows are purged.
Each "worker" here is its own registry, book and connection pool on the same database, as a
second process would have; tests/test_workers.py runs real processes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.chat.roles import Role, User
from bot.chat.strangers import StrangerGate
from bot.config import Settings
from storage import confirmations
from storage.db import Database
from storage.models import Order, PendingConfirmation, StrangerRefusal
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings

ADMIN = User("telegram", "1", Role.ADMIN)


def worker(settings: Settings, url: str, clock: Clock) -> tuple[Bot, Database]:
    """A second process's view of the same bot: its own pool, registry and book."""
    db = Database(url)
    return make_bot(settings, db, clock), db


def orders_in(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Order)) or 0)


async def test_a_buy_asked_on_one_worker_is_confirmed_on_another_once(
    tmp_path: Path, db: Database, database_url: str, clock: Clock
) -> None:
    settings = make_settings(tmp_path)
    first = make_bot(settings, db, clock)
    second, second_db = worker(settings, database_url, clock)
    ask = await first.say("/buy 50")
    assert ask.confirm_token
    done = await second.registry.confirm(second.services, ADMIN, ask.confirm_token, accept=True)
    assert done.title == "Bought", done
    again = await first.registry.confirm(first.services, ADMIN, ask.confirm_token, accept=True)
    assert again.title == "Nothing to confirm"
    assert orders_in(db) == 1
    second_db.engine.dispose()


async def test_a_restart_between_ask_and_tap_keeps_the_confirmation(
    tmp_path: Path, db: Database, database_url: str, clock: Clock
) -> None:
    settings = make_settings(tmp_path)
    ask = await make_bot(settings, db, clock).say("/sell 10")  # nothing held: refused
    assert ask.kind == "error"
    ask = await make_bot(settings, db, clock).say("/pause")
    assert ask.confirm_token
    db.engine.dispose()  # the process is gone; a new one starts on the same database
    clock.advance(seconds=50)  # within the 60 s it is taken
    restarted, new_db = worker(settings, database_url, clock)
    done = await restarted.registry.confirm(
        restarted.services, ADMIN, ask.confirm_token, accept=True
    )
    assert done.title == "Trading paused", done
    assert (await restarted.say("/status")).footer.startswith("PAUSED")
    new_db.engine.dispose()


async def test_twenty_taps_at_once_across_two_workers_place_one_order(
    tmp_path: Path, db: Database, database_url: str, clock: Clock
) -> None:
    settings = make_settings(tmp_path)
    first = make_bot(settings, db, clock)
    second, second_db = worker(settings, database_url, clock)
    ask = await first.say("/buy 50")
    token = str(ask.confirm_token)
    taps = [
        bot.registry.confirm(bot.services, ADMIN, token, accept=True)
        for _ in range(10)
        for bot in (first, second)
    ]
    answers = await asyncio.gather(*taps)
    titles = sorted(a.title for a in answers)
    assert titles.count("Bought") == 1, titles
    assert titles.count("Nothing to confirm") == 19
    assert orders_in(db) == 1
    second_db.engine.dispose()


async def test_a_confirmation_needs_the_role_still_when_tapped(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    bot = make_bot(make_settings(tmp_path), db, clock)
    ask = await bot.say("/buy 50")
    demoted = User("telegram", "1", Role.VIEWER)  # the owner took them off DCABOT_ADMINS
    refused = await bot.registry.confirm(bot.services, demoted, str(ask.confirm_token),
                                         accept=True)
    assert refused.kind == "error" and "needs an admin" in refused.lines[0]
    assert orders_in(db) == 0


async def test_answered_and_expired_rows_are_purged_an_hour_after_expiry(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    bot = make_bot(make_settings(tmp_path), db, clock)
    taken = await bot.say("/buy 50")
    await bot.registry.confirm(bot.services, ADMIN, str(taken.confirm_token), accept=True)
    clock.advance(minutes=50)
    fresh = await bot.say("/pause")
    assert bot.services.confirmations.forget_old() == 0  # the first expired 49 min ago
    clock.advance(minutes=12)
    assert bot.services.confirmations.forget_old() == 1
    with db.transaction() as session:
        left = session.scalars(select(PendingConfirmation.token)).all()
    assert left == [fresh.confirm_token]
    late = await bot.registry.confirm(bot.services, ADMIN, str(taken.confirm_token),
                                      accept=True)
    assert late.title == "Nothing to confirm"


def test_taking_is_conditional_on_asker_state_and_time(db: Database, clock: Clock) -> None:
    now = clock()
    asked = confirmations.Asked("abc", "pause", {}, "telegram:1", "Pause", "/pause",
                                now + timedelta(seconds=60))
    confirmations.remember(db, asked, now)
    miss = confirmations.answer(db, "abc", "telegram:2", now, accept=True)
    assert miss == (confirmations.Miss.NOT_YOURS, asked)
    late = confirmations.answer(db, "abc", "telegram:1", now + timedelta(seconds=60),
                                accept=True)
    assert late == (confirmations.Miss.EXPIRED, asked)
    assert confirmations.answer(db, "abc", "telegram:1", now, accept=True) == asked
    assert confirmations.answer(db, "abc", "telegram:1", now, accept=True) == (
        confirmations.Miss.ANSWERED, asked)
    assert confirmations.answer(db, "nope", "telegram:1", now, accept=True) == (
        confirmations.Miss.UNKNOWN, None)


async def test_a_stranger_hears_the_refusal_once_whichever_worker_gets_the_update(
    db: Database, database_url: str, clock: Clock
) -> None:
    other_db = Database(database_url)
    gates = [StrangerGate(db, clock), StrangerGate(other_db, clock)]
    stranger = User("telegram", "666", Role.STRANGER)
    heard = [await gate.refusal(stranger) for gate in gates]
    assert heard[0] is not None and "666" in heard[0].lines[0]
    assert heard[1] is None  # the second worker never refused them, the database remembers
    clock.advance(minutes=61)
    assert await gates[1].refusal(stranger) is not None
    assert gates[0].forget_old() == 0
    clock.advance(minutes=61)
    assert gates[0].forget_old() == 1
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(StrangerRefusal)) == 0
    other_db.engine.dispose()


async def test_the_minute_budget_for_strangers_is_shared_by_workers(
    db: Database, database_url: str, clock: Clock
) -> None:
    other_db = Database(database_url)
    gates = [StrangerGate(db, clock, budget=3), StrangerGate(other_db, clock, budget=3)]
    heard = [
        await gates[n % 2].refusal(User("line", f"U{n}", Role.STRANGER)) for n in range(6)
    ]
    assert [h is not None for h in heard] == [True, True, True, False, False, False]
    clock.advance(seconds=61)
    assert await gates[1].refusal(User("line", "U9", Role.STRANGER)) is not None
    other_db.engine.dispose()
