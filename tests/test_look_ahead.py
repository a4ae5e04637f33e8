"""Looking ahead: the next runs and what the rule would do now, and the runway warning: a
balance that pays for 3 runs is told once with the right date, and a day before the run it
cannot pay the owner hears it again, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.engine.dca_run import run_schedule
from bot.engine.look_ahead import check_runway, next_runs
from storage import outbox
from storage.db import Database
from storage.models import OutboxAlert
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings
from tests.shared_data import BTC_DAILY

MONDAY = datetime(2025, 1, 6, 3, 0, tzinfo=UTC)  # 10:00 in Bangkok; the trend is up


def saver(tmp_path: Path, db: Database, clock: Clock) -> Bot:
    clock.now = MONDAY
    return make_bot(make_settings(tmp_path, prices_csv=BTC_DAILY, timezone="Asia/Bangkok",
                                  paper_start_balance=Decimal(350)), db, clock)


def told(db: Database, kind: str) -> list[dict[str, Any]]:
    with db.transaction() as session:
        return [outbox.payload_of(a) for a in session.scalars(
            select(OutboxAlert).where(OutboxAlert.kind == kind))]


async def test_next_shows_the_coming_runs_and_what_the_rule_would_do(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    bot = saver(tmp_path, db, clock)
    await bot.say("/schedule add daily 09:00 100")
    await bot.say("/schedule add mon 07:30 20 plain")
    await bot.say("/schedule label 2 Payday")
    reply = await bot.say("/schedule next 3")
    assert reply.title == "Next 3 runs"
    assert reply.lines[:3] == (
        "2025-01-07 09:00 +07  #1  binance  100.00 USDT: would buy BTC (trend up)",
        "2025-01-08 09:00 +07  #1  binance  100.00 USDT: would buy BTC (trend up)",
        "2025-01-09 09:00 +07  #1  binance  100.00 USDT: would buy BTC (trend up)",
    )
    assert reply.lines[3] == (
        "binance: free 350.00 USDT pays for 3; the money runs out at the run of "
        "2025-01-10 09:00 +07")
    runs = await next_runs(bot.services.accounts, 10)
    assert [r.schedule_id for r in runs].count(2) == 1 and runs[-1].label is None


async def test_a_balance_for_three_runs_is_told_once_then_a_day_ahead(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    bot = saver(tmp_path, db, clock)
    await bot.say("/schedule add daily 09:00 100")
    assert await check_runway(bot.services.accounts) == ["runway_low"]
    assert await check_runway(bot.services.accounts) == []  # once
    (low,) = told(db, "runway_low")
    assert (low["covered"], low["free"]) == (3, "350")
    assert low["at"] == "2025-01-10T02:00:00+00:00"  # the 4th run: 09:00 Bangkok on the 10th
    expected = {7: [], 8: [], 9: ["run_unfunded"]}  # the 10th's run is a day away on the 9th
    for day, kinds in expected.items():  # three runs buy, as foretold
        clock.now = datetime(2025, 1, day, 2, 0, tzinfo=UTC)
        assert (await run_schedule(bot.services.engine, 1, clock.now)).status == "done"
        assert await check_runway(bot.services.accounts) == kinds, day
    clock.now += timedelta(hours=1)
    assert await check_runway(bot.services.accounts) == []
    assert len(told(db, "runway_low")) == 1  # the same shortfall: told once
    assert await check_runway(bot.services.accounts) == []
    (unfunded,) = told(db, "run_unfunded")
    assert unfunded["at"] == "2025-01-10T02:00:00+00:00"
    await bot.say("/schedule pause 1")
    assert await check_runway(bot.services.accounts) == []  # nothing due: nothing to tell


async def test_enough_money_tells_nothing(tmp_path: Path, db: Database, clock: Clock) -> None:
    bot = saver(tmp_path, db, clock)
    await bot.say("/schedule add mon 09:00 10")
    assert await check_runway(bot.services.accounts) == []
    assert told(db, "runway_low") == []
