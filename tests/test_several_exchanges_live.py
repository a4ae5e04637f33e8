"""Two exchanges in one bot, live, through the real ccxt against the fake Binance and the fake OKX
running side by side on one SQLite file: one venue's outage delays its own leg of a split
schedule (retried, told once) and never stops, guesses or duplicates the other's.

Binance is the signal exchange (first in DCABOT_EXCHANGES): OKX's CDC trend is read there, and
its last reading serves OKX only until a newer daily candle would have closed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.engine.accounts import Accounts
from bot.engine.context import Engine
from bot.engine.dca_run import RunResult, retry_due_runs, run_schedule
from bot.engine.reconcile import keep_settling
from bot.engine.schedules import add_schedule_legs
from bot.engine.trend_watch import TrendReading, act_on_flips, read_trend
from storage import outbox, schedules
from storage.db import Database
from storage.models import Order, OutboxAlert, ScheduleRun
from strategies.cdc import Trend
from tests.conftest import Clock, make_settings
from tests.exchange_harness import TIMEOUT_S, adapter, running, sqlite_database
from tests.fakes.exchange import FakeExchange

DUE = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)  # the clock fixture starts at 09:30 that day
LAST_CLOSED = datetime(2026, 11, 20, tzinfo=UTC)  # the newest daily candle the fake Binance has
LEGS = {"binance": Decimal(50), "okx": Decimal(50)}


@dataclass
class Bot:
    accounts: Accounts
    fakes: dict[str, FakeExchange]
    db: Database

    def engine(self, name: str) -> Engine:
        return self.accounts.on(name)


def rising_daily_candles(path: Path, days: int = 200) -> Path:
    """BTC up 0.3% a day, ending with the candle opened at LAST_CLOSED: the trend is up."""
    lines, close = ["timestamp,open,high,low,close,volume"], Decimal(30_000)
    for day in range(days):
        opened = LAST_CLOSED - timedelta(days=days - 1 - day)
        new = (close * Decimal("1.003")).quantize(Decimal("0.01"))
        lines.append(f"{opened:%Y-%m-%dT%H:%M:%SZ},{close},{new * Decimal('1.001'):.2f},"
                     f"{close * Decimal('0.999'):.2f},{new},12.5")
        close = new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
async def bot(tmp_path: Path, clock: Clock) -> AsyncIterator[Bot]:
    candles = {"BTC": {"1d": rising_daily_candles(tmp_path / "btc_usdt_1d.csv")}}
    with running("binance", candles=candles) as binance, running("okx") as okx:
        fakes = {"binance": binance, "okx": okx}
        settings = make_settings(
            tmp_path, exchanges="binance,okx", mode_binance="live", mode_okx="live",
            binance_api_url=binance.url, okx_api_url=okx.url, request_timeout_s=TIMEOUT_S,
        )
        db = sqlite_database(tmp_path)
        # what open_accounts builds, with the harness's fast retries and the fakes' keys
        engines = {
            name: Engine(settings.for_exchange(name), db, adapter(fake, clock), clock)
            for name, fake in fakes.items()
        }
        engines["okx"].trend_source = engines[settings.trend_exchange]
        accounts = Accounts(engines)
        modes = [(engine.exchange.name, engine.mode) for engine in accounts]
        assert modes == [("binance", "live"), ("okx", "live")]
        try:
            yield Bot(accounts, fakes, db)
        finally:
            await accounts.close()
            db.dispose()


async def split_schedule(bot: Bot, mode: str) -> dict[str, int]:
    views = await add_schedule_legs(
        bot.accounts, "daily", "10:00", LEGS, mode, requested_by="owner"
    )
    return {view.exchange: view.id for view in views}


def db_orders(db: Database, exchange: str) -> list[tuple[str, str, str]]:
    with db.transaction() as session:
        rows = session.scalars(select(Order).where(Order.exchange == exchange).order_by(Order.id))
        return [(o.side, o.status, o.client_order_id) for o in rows]


def fake_orders(fake: FakeExchange) -> list[tuple[str, str, str]]:
    """What the venue itself accepted, as the bot should have recorded it."""
    return [(o.side, o.status, o.client_order_id) for o in fake.orders]


def delayed_alerts(db: Database) -> list[dict[str, object]]:
    with db.transaction() as session:
        rows = session.scalars(select(OutboxAlert).where(OutboxAlert.kind == "run_delayed"))
        return [outbox.payload_of(alert) for alert in rows]


def run_of(db: Database, key: str) -> ScheduleRun:
    with db.transaction() as session:
        run = schedules.by_key(session, key)
        assert run is not None, key
        return run


def assert_one_buy(bot: Bot, name: str) -> None:
    """One filled buy on the venue, sent once, recorded once and the same in the database."""
    fake, recorded = bot.fakes[name], db_orders(bot.db, name)
    assert [(side, status) for side, status, _ in recorded] == [("buy", "filled")], name
    assert (fake_orders(fake), fake.order_posts) == (recorded, 1), name


def assert_no_order(bot: Bot, name: str) -> None:
    fake = bot.fakes[name]
    assert (fake.orders, fake.order_posts, db_orders(bot.db, name)) == ([], 0, []), name


async def daily_trend_watch(bot: Bot) -> TrendReading:
    """What the scheduler's watch does after the daily close: flips on every exchange, the
    signal exchange first; the reading stays in its engine's memory."""
    for name in ("binance", "okx"):
        await act_on_flips(bot.engine(name))
    reading = bot.engine("binance").memory.trend
    assert isinstance(reading, TrendReading)
    assert (reading.trend, reading.last_closed) == (Trend.UP, LAST_CLOSED)
    return reading


async def both_due(bot: Bot, legs: dict[str, int], due: datetime) -> dict[str, RunResult]:
    """Fire every leg as the scheduler does: each with its own exchange's engine."""
    return {name: await run_schedule(bot.engine(name), legs[name], due) for name in legs}


async def test_a_plain_leg_buys_on_okx_while_binance_is_down_and_binance_catches_up_once(
    bot: Bot, clock: Clock
) -> None:
    binance = bot.fakes["binance"]
    legs = await split_schedule(bot, "plain")
    await daily_trend_watch(bot)
    binance.down(mode="refuse")  # connection refused, as a venue down for maintenance
    clock.now = DUE
    first = await both_due(bot, legs, DUE)

    assert (first["okx"].status, first["okx"].outcome) == ("done", "buy filled"), first
    assert first["binance"].status == schedules.RETRYING, first
    assert run_of(bot.db, first["binance"].run_key).status == schedules.RETRYING
    assert [a["exchange"] for a in delayed_alerts(bot.db)] == ["binance"]
    assert_one_buy(bot, "okx")
    assert_no_order(bot, "binance")

    binance.up()
    clock.advance(minutes=5)  # past the first retry (a minute) and the breaker's cooldown
    retried = await retry_due_runs(bot.engine("binance"))
    assert [(r.run_key, r.status) for r in retried] == [(first["binance"].run_key, "done")]
    assert run_of(bot.db, first["binance"].run_key).status == schedules.DONE

    # everything again: retries, the minute's settling, the legs fired once more for DUE
    clock.advance(minutes=40)
    assert await retry_due_runs(bot.engine("binance")) == []
    for engine in bot.accounts:
        await keep_settling(engine)
    again = await both_due(bot, legs, DUE)
    assert {name: result.status for name, result in again.items()} == {
        "binance": "already", "okx": "already"
    }
    crossed = await run_schedule(bot.engine("okx"), legs["binance"], DUE)  # not OKX's leg
    assert crossed.status == "gone", crossed
    assert_one_buy(bot, "okx")
    assert_one_buy(bot, "binance")
    assert len(delayed_alerts(bot.db)) == 1


async def test_a_cdc_leg_on_okx_uses_the_kept_trend_until_a_newer_candle_closes(
    bot: Bot, clock: Clock
) -> None:
    binance = bot.fakes["binance"]
    legs = await split_schedule(bot, "cdc")
    reading = await read_trend(bot.engine("okx"))  # read on Binance, the signal exchange
    assert (reading.trend, reading.last_closed) == (Trend.UP, LAST_CLOSED)
    assert bot.engine("binance").memory.trend is reading
    assert bot.engine("okx").memory.trend is None

    binance.down(mode="503")  # Service Unavailable on every request
    clock.now = DUE
    first = await both_due(bot, legs, DUE)
    assert (first["okx"].status, first["okx"].outcome) == ("done", "buy filled"), first
    assert first["binance"].status == schedules.RETRYING, first
    assert_one_buy(bot, "okx")
    assert_no_order(bot, "binance")
    assert [a["exchange"] for a in delayed_alerts(bot.db)] == ["binance"]

    # the next day's run: the candle of Nov 21 has closed, the kept reading is a day old
    next_due = DUE + timedelta(days=1)
    assert next_due >= LAST_CLOSED + timedelta(days=2)
    clock.now = next_due
    late = await run_schedule(bot.engine("okx"), legs["okx"], next_due)
    assert late.status == schedules.RETRYING, late
    assert run_of(bot.db, late.run_key).status == schedules.RETRYING
    assert "Binance" in late.outcome, late  # why it waits: the signal exchange
    assert bot.engine("binance").memory.trend is reading  # kept, not replaced by a guess
    assert_one_buy(bot, "okx")  # no second buy on a guessed trend
    assert_no_order(bot, "binance")
    assert sorted(str(a["exchange"]) for a in delayed_alerts(bot.db)) == ["binance", "okx"]


async def test_a_plain_okx_leg_needs_no_reading_from_the_signal_exchange(
    bot: Bot, clock: Clock
) -> None:
    legs = await split_schedule(bot, "plain")
    bot.fakes["binance"].down(mode="refuse")  # down since the bot started: nothing kept
    clock.now = DUE
    result = await run_schedule(bot.engine("okx"), legs["okx"], DUE)
    assert (result.status, result.outcome) == ("done", "buy filled"), result
    assert_one_buy(bot, "okx")
