"""/schedule, /strategy, /reserve, /sell through the registry: what they do and what they refuse."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cards.reply import Reply
from bot.chat.roles import Role, User
from storage import ledger
from storage.db import Database
from storage.models import Order, Schedule, StrategySettings
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings

OWNER = User("telegram", "1", Role.ADMIN)


@pytest.fixture
def bot(tmp_path: Path, db: Database, clock: Clock) -> Bot:
    return make_bot(make_settings(tmp_path, timezone="Asia/Bangkok"), db, clock)


def fields(reply: Reply) -> dict[str, str]:
    return {f.label: f.value for f in reply.fields}


def state(bot: Bot) -> tuple[object, ...]:
    """Everything a refused command must leave untouched."""
    with bot.db.transaction() as session:
        schedules = session.execute(select(Schedule.id, Schedule.paused, Schedule.removed,
                                           Schedule.amount)).all()
        version = session.scalar(select(func.max(StrategySettings.version)))
        reserve = ledger.balance(session, "binance", "paper")
    return (tuple(schedules), version, reserve, bot.counts())


async def confirm(bot: Bot, reply: Reply) -> Reply:
    assert reply.confirm_token, reply
    return await bot.registry.confirm(bot.services, OWNER, reply.confirm_token, accept=True)


async def test_schedules_are_added_listed_paused_resumed_and_removed(bot: Bot) -> None:
    changes: list[str] = []
    bot.services.schedules_changed = lambda: changes.append("changed")
    added = await bot.say("/schedule add thu,mon 7:00 100")
    assert added.title == "Schedule added"
    label, value = added.fields[0].label, added.fields[0].value
    assert label == "#1 mon,thu 07:00"
    assert value.startswith("100.00 USDT · cdc · binance · next 2026-11-23 07:00 +07")
    listed = await bot.say("/schedule", Role.VIEWER)
    assert [f.label for f in listed.fields] == ["#1 mon,thu 07:00"]
    assert listed.footer == "Times in Asia/Bangkok."
    assert "paused" in (await bot.say("/schedule pause 1")).fields[0].value
    assert "next" in (await bot.say("/schedule resume #1")).fields[0].value
    assert (await bot.say("/schedule remove 1")).title == "Schedule #1 removed"
    assert (await bot.say("/schedule")).fields == ()
    assert changes == ["changed"] * 4
    s4 = await bot.say("/schedule add mon 07:00 100 s4")  # a mode without the exchange
    assert "· s4 · binance ·" in s4.fields[0].value


@pytest.mark.parametrize(("command", "says"), [
    ("/schedule add funday 07:00 100", "'funday' is not a day; use daily or weekdays"),
    ("/schedule add mon 25:00 100", "'25:00' is not a time of day; use HH:MM"),
    ("/schedule add mon 07:60 100", "'07:60' is not a time of day"),
    ("/schedule add mon 07:00 0", "The amount must be more than 0 USDT"),
    ("/schedule add mon 07:00 2 s4", "Binance needs at least 5 USDT per BTC/USDT order"),
    ("/schedule add mon 07:00 60000", "above the per-order cap of 50000 USDT"),
    ("/schedule add mon 07:00 100 kraken", "'kraken' is not an exchange this bot trades on"),
    ("/schedule add mon 07:00 100 binance yolo", "'yolo' is not a mode; use cdc"),
    ("/schedule add mon,mon 07:00 100", "names a day twice"),
    ("/schedule add mon", "Give days, a time and an amount"),
    ("/schedule remove 99", "There is no schedule #99"),
    ("/schedule pause x", "'x' is not a schedule id"),
    ("/schedule frobnicate", "'frobnicate' is not a /schedule action"),
    ("/strategy sell 150", "'150' is not a percent from 0 to 100"),
    ("/strategy sell -1", "'-1' is not a percent from 0 to 100"),
    ("/strategy cdc maybe", "Say on or off"),
    ("/strategy cap binance abc", "'abc' is not an amount"),
    ("/strategy cap kraken 100", "'kraken' is not an exchange this bot trades on"),
    ("/strategy turbo on", "'turbo' is not a strategy setting"),
    ("/reserve add 20000", "Only 10000 USDT is free to set aside"),
    ("/reserve add -5", "The amount must be more than 0 USDT"),
    ("/reserve deploy", "The reserve is empty; nothing to deploy"),
    ("/reserve spend", "'spend' is not a /reserve action"),
    ("/sell 150", "'150' is not a percent above 0, up to 100"),
    ("/sell 25", "You hold no BTC to sell"),
    ("/sell", "Give one percent from 0 to 100"),
])
async def test_bad_input_gets_a_clear_answer_and_changes_nothing(
        bot: Bot, command: str, says: str) -> None:
    await bot.say("/schedule add mon 07:00 100")
    before = state(bot)
    reply = await bot.say(command)
    assert reply.kind == "error", reply
    assert says in reply.lines[0]
    assert reply.confirm_token is None
    assert state(bot) == before


async def test_a_cap_lower_than_an_amount_refuses_the_schedule(bot: Bot) -> None:
    assert fields(await bot.say("/strategy cap binance 50"))["Per-order cap"] == "50.00 USDT"
    reply = await bot.say("/schedule add mon 07:00 100")
    assert "above the per-order cap of 50 USDT" in reply.lines[0]


async def test_viewers_read_but_cannot_change(bot: Bot) -> None:
    before = state(bot)
    for command in ("/schedule add mon 07:00 100", "/strategy cdc off", "/reserve add 10",
                    "/reserve deploy", "/sell 10"):
        reply = await bot.say(command, Role.VIEWER)
        assert reply.kind == "error" and "needs an admin" in reply.lines[0], command
    assert state(bot) == before
    for command in ("/schedule", "/strategy", "/reserve"):
        assert (await bot.say(command, Role.VIEWER)).kind != "error"


async def test_strategy_changes_are_shown_and_versioned(bot: Bot) -> None:
    assert fields(await bot.say("/strategy"))["CDC gate"].startswith("on")
    assert fields(await bot.say("/strategy cdc off"))["CDC gate"].startswith("off")
    assert fields(await bot.say("/strategy sell 30"))["Sell on red"].startswith("30%")
    ask = await bot.say("/strategy s4 execute on")  # trading rotations asks first
    assert ask.kind == "buy_confirm" and ask.confirm_token
    assert "shadow" in fields(await bot.say("/strategy"))["S4 rotations"]
    assert "S4 schedules buy" in ask.lines[0] and "sells all" in ask.lines[1]
    done = await bot.registry.confirm(bot.services, OWNER, ask.confirm_token, accept=True)
    assert done.title == "S4 rotations will be traded"
    assert "executed" in fields(await bot.say("/strategy"))["S4 rotations"]
    assert "shadow" in fields(await bot.say("/strategy s4 execute off"))["S4 rotations"]
    with bot.db.transaction() as session:
        assert session.scalar(select(StrategySettings.version)) == 5


async def test_reserve_add_then_deploy_then_sell_into_it(bot: Bot) -> None:
    added = await bot.say("/reserve add 1,000")
    assert fields(added)["Reserve"] == "1,000.00 USDT"
    assert fields(added)["USDT free"] == "9,000.00 USDT"
    assert "Only 9000 USDT is free to spend" in (await bot.say("/buy 9500")).lines[0]
    bought = await confirm(bot, await bot.say("/reserve deploy"))
    assert bought.title == "Bought"
    with bot.db.transaction() as session:
        cost = session.scalars(select(Order.filled_quote).where(Order.cause == "deploy")).one()
    assert cost is not None and fields(bought)["Cost"] == f"{cost:,.2f} USDT"
    after = fields(await bot.say("/reserve"))
    assert after["Reserve"] == f"{Decimal(1000) - cost:,.2f} USDT"  # the change of the step
    sold = await confirm(bot, await bot.say("/sell 50%"))
    assert sold.title == "Sold"
    with bot.db.transaction() as session:
        sale = session.scalars(select(Order).where(Order.cause == "sell_now")).one()
        received = (sale.filled_quote or Decimal(0)) - (sale.fee or Decimal(0))
    with bot.db.transaction() as session:
        balance = ledger.balance(session, "binance", "paper")
        assert balance == ledger.ledger_sum(session, "binance", "paper")
        assert balance == Decimal(1000) - cost + received
