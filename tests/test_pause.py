"""/pause and /resume: the bot's own trading stops and starts again without stopping the bot;
every card says PAUSED meanwhile; a due run is skipped with one alert, even one already on its
way to the exchange when the pause lands."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cards.reply import Reply
from bot.chat.roles import Role, User
from bot.engine import pause, strategy_settings
from bot.engine.context import Engine
from bot.engine.dca_run import run_schedule
from bot.engine.orders import OrderRequest, place_order
from bot.engine.schedules import add_schedule
from storage import schedules
from storage.db import Database
from storage.models import Order, OutboxAlert, ScheduleRun
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings
from tests.exchange_harness import adapter, engine_with, running, sqlite_database
from tests.fakes.exchange import Fault

DUE = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
ADMIN = User("telegram", "1", Role.ADMIN)
PAUSED_BANNER = "PAUSED: the bot starts no trades until /resume"  # as the cards say it


@pytest.fixture
def bot(tmp_path: Path, db: Database, clock: Clock) -> Bot:
    return make_bot(make_settings(tmp_path, admins=("telegram:1",)), db, clock)


def alert_kinds(db: Database) -> list[str]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboxAlert.kind).order_by(OutboxAlert.id)))


def order_count(db: Database) -> int:
    with db.transaction() as session:
        return len(session.scalars(select(Order)).all())


async def confirm(bot: Bot, ask: Reply) -> Reply:
    assert ask.confirm_token, ask
    return await bot.registry.confirm(bot.services, ADMIN, ask.confirm_token, accept=True)


async def daily_schedule(engine: Engine, amount: int = 20) -> int:
    view = await add_schedule(
        engine, "daily", "10:00", Decimal(amount), None, "plain", requested_by="owner"
    )
    return view.id


async def test_pause_is_confirmed_by_an_admin_and_every_card_says_paused(bot: Bot) -> None:
    viewer = await bot.say("/pause", role=Role.VIEWER, user_id="9")
    assert viewer.kind == "error" and "needs an admin" in viewer.lines[0]
    ask = await bot.say("/pause")
    assert ask.kind == "buy_confirm" and pause.paused(bot.services.engine) is None
    token = ask.confirm_token or ""
    cancelled = await bot.registry.confirm(bot.services, ADMIN, token, accept=False)
    assert "cancelled" in cancelled.lines[0] and pause.paused(bot.services.engine) is None
    done = await confirm(bot, await bot.say("/pause"))
    assert done.title == "Trading paused"
    state = pause.paused(bot.services.engine)
    assert state is not None and state.paused_by == "telegram:1"
    for command in ("/status", "/help", "/schedule", "/version", "/nonsense"):
        assert PAUSED_BANNER in (await bot.say(command)).footer, command
    again = await bot.say("/stopbuy")  # freqtrade's word for it
    assert again.title == "Already paused"
    assert (await bot.say("/buy 10")).kind == "buy_confirm"  # the owner's own buys still work
    resumed = await confirm(bot, await bot.say("/resume"))
    assert resumed.title == "Trading resumed" and PAUSED_BANNER not in resumed.footer
    assert PAUSED_BANNER not in (await bot.say("/status")).footer
    assert (await bot.say("/resume")).title == "Not paused"
    assert alert_kinds(bot.db) == ["trading_paused", "trading_resumed"]


async def test_a_due_run_while_paused_is_skipped_with_one_alert_and_resume_buys_again(
    bot: Bot, clock: Clock
) -> None:
    engine = bot.services.engine
    strategy_settings.update(engine, cdc_enabled=False)
    schedule_id = await daily_schedule(engine)
    await confirm(bot, await bot.say("/pause"))
    clock.now = DUE
    skipped = await run_schedule(engine, schedule_id, DUE)
    assert (skipped.status, skipped.outcome) == ("done", pause.SKIPPED)
    assert order_count(bot.db) == 0
    assert alert_kinds(bot.db).count("run_paused") == 1
    assert (await run_schedule(engine, schedule_id, DUE)).status == "already"  # never redone
    await confirm(bot, await bot.say("/resume"))
    later = DUE.replace(day=22)
    clock.now = later
    bought = await run_schedule(engine, schedule_id, later)
    assert bought.outcome.startswith("buy filled"), bought
    assert order_count(bot.db) == 1 and alert_kinds(bot.db).count("run_paused") == 1


async def test_only_orders_the_bot_starts_itself_are_refused_while_paused(bot: Bot) -> None:
    engine = bot.services.engine
    assert pause.pause(engine, "owner") and not pause.pause(engine, "owner")
    for cause, side in (("schedule", "buy"), ("flip_sell", "sell"), ("flip_buy", "buy"),
                        ("rotation", "sell")):
        request = OrderRequest(cause=cause, cause_key=f"k-{cause}", side=side,
                               quote_amount=Decimal(10) if side == "buy" else None,
                               base_amount=Decimal("0.0001") if side == "sell" else None)
        with pytest.raises(pause.TradingPaused):
            await place_order(engine, request)
    assert order_count(bot.db) == 0
    mine = await place_order(engine, OrderRequest("buy_now", "k-mine", "buy", Decimal(10)))
    assert mine.status == "filled" and order_count(bot.db) == 1


@pytest.fixture
async def binance_engine(tmp_path: Path, clock: Clock) -> AsyncIterator[tuple[Engine, object]]:
    db = sqlite_database(tmp_path)
    with running("binance", balances={"USDT": "1000"}) as fake:
        exchange = adapter(fake, clock)
        engine = engine_with(tmp_path, db, fake, exchange, clock)
        strategy_settings.update(engine, cdc_enabled=False)
        yield engine, fake
        await exchange.close()
    db.dispose()


async def test_a_pause_landing_while_a_run_reads_the_market_sends_nothing(
    binance_engine: tuple[Engine, object], clock: Clock
) -> None:
    engine, fake = binance_engine
    from tests.fakes.exchange import FakeExchange

    assert isinstance(fake, FakeExchange)
    schedule_id = await daily_schedule(engine)
    clock.now = DUE
    fake.inject("GET /api/v3/klines", Fault.slow(0.3), times=1)  # the market read is slow
    run = asyncio.create_task(run_schedule(engine, schedule_id, DUE))
    for _ in range(200):  # the run passed its first check and waits on the exchange
        if fake.requests_to("/api/v3/klines"):
            break
        await asyncio.sleep(0.01)
    assert fake.requests_to("/api/v3/klines"), "the run never read the market"
    assert pause.pause(engine, "telegram:1")
    result = await run
    assert (result.status, result.outcome) == ("done", pause.SKIPPED)
    assert fake.orders == [] and order_count(engine.db) == 0
    with engine.db.transaction() as session:
        run_row = session.scalars(select(ScheduleRun)).one()
        assert (run_row.status, run_row.outcome) == (schedules.DONE, pause.SKIPPED)
    assert alert_kinds(engine.db).count("run_paused") == 1
