"""The engine's own words in Thai: refusals and explanations the engine writes (free money, the
per-order limit and cap, schedule specs, exchanges, amounts, exports, strategies, what a coming
run would do, the fiat rate) reach a Thai reader in Thai through the real command path, the same
refusals stay word for word in English, and what the bot's own jobs record stays English even
when the task they run in was started by a Thai reader's command."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.chat.roles import Role, User
from bot.engine import strategy_settings
from bot.engine.dca_run import run_schedule
from bot.engine.schedules import add_schedule
from bot.i18n import speaking
from storage.db import Database
from storage.models import Order, ScheduleRun
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings
from tests.shared_data import BTC_DAILY

OWNER = User("telegram", "1", Role.ADMIN)


def thai_bot(tmp_path: Path, db: Database, clock: Clock, **settings: object) -> Bot:
    return make_bot(make_settings(tmp_path, language="th", **settings), db, clock)


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("/buy 20000", "มี USDT ว่างให้ใช้เพียง 10000 (10000 USDT บนกระดานเทรด); คุณขอ 20000"),
        ("/reserve add 20000", "มี USDT ว่างให้กันเข้าเงินสำรองเพียง 10000"),
        ("/buy 60000", "60000 USDT เกินวงเงินต่อคำสั่ง 50000 USDT (DCABOT_MAX_ORDER)"),
        ("/buy 50 kraken", "'kraken' ไม่ใช่กระดานเทรดที่บอทนี้ใช้เทรด; ใช้ binance"),
        ("/buy 1234567890123", "มีตัวเลขหน้าจุดทศนิยมเกิน 12 หลัก"),
        ("/schedule add xyz 07:00 100", "'xyz' ไม่ใช่วัน; ใช้ daily หรือวันในสัปดาห์"),
        ("/schedule add mon 25:00 100", "'25:00' ไม่ใช่เวลา; ใช้ HH:MM"),
        ("/schedule add mon,mon 07:00 100", "'mon,mon' ระบุวันซ้ำ"),
        ("/schedule add mon 07:00 100 binance weird", "'weird' ไม่ใช่โหมด"),
        ("/schedule pause 9", "ไม่มีตาราง #9; ดูรายการได้ที่ /schedule"),
        ("/schedule label 1 " + "x" * 50, "ชื่อตารางยาวได้ไม่เกิน 40 ตัวอักษร"),
        ("/export bogus", "'bogus' ไม่ใช่รายการที่ส่งออกได้"),
        ("/export 2026-02-01 2026-01-01", "วันสิ้นสุดของการส่งออกต้องอยู่หลังวันเริ่ม"),
        ("/backtest foo", "'foo' ไม่ใช่กลยุทธ์; เลือก dca, cdc หรือ s4"),
        ("/backtest cdc 2024-13-01", "'2024-13-01' ไม่ใช่วันที่สำหรับวันเริ่ม"),
        ("/strategy policy nope", "'nope' ไม่ใช่นโยบายการกลับตัวของแนวโน้ม; ใช้ auto หรือ binance"),
        ("ซื้อ 3", "Binance ต้องการอย่างน้อย 5 USDT ต่อคำสั่ง BTC/USDT; คุณขอ 3"),  # the market's
    ],
)
async def test_engine_refusals_reach_a_thai_reader_in_thai(
    tmp_path: Path, db: Database, clock: Clock, command: str, says: str
) -> None:
    reply = await thai_bot(tmp_path, db, clock).say(command)
    assert reply.kind == "error" and says in reply.lines[0], reply.lines


async def test_the_cap_refusal_in_thai_and_the_same_refusals_unchanged_in_english(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    english = make_bot(make_settings(tmp_path), db, clock)
    assert (await english.say("/buy 20000")).lines[0] == (
        "Only 10000 USDT is free to spend (10000 USDT on the exchange); you asked for 20000")
    assert (await english.say("/schedule add xyz 07:00 100")).lines[0] == (
        "'xyz' is not a day; use daily or weekdays like mon,thu "
        "(mon, tue, wed, thu, fri, sat, sun)")
    thai = thai_bot(tmp_path, db, clock)
    assert (await thai.say("/strategy cap binance 500")).kind != "error"
    capped = await thai.say("/buy 600")
    assert capped.lines[0] == ("600 USDT เกินเพดานต่อคำสั่งบน binance ที่ 500 USDT: ซื้อไม่เกิน 500 "
                               "หรือยกเลิกเพดานด้วย /strategy cap binance off")
    assert (await english.say("/buy 600")).lines[0] == (
        "600 USDT is above the per-order cap on binance of 500 USDT: buy 500 or less, or "
        "clear the cap with /strategy cap binance off")


async def test_schedule_next_says_in_thai_what_a_run_would_do(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    clock.now = datetime(2025, 1, 6, 3, 0, tzinfo=UTC)  # the trend is up
    bot = thai_bot(tmp_path, db, clock, prices_csv=BTC_DAILY, timezone="Asia/Bangkok")
    await bot.say("/schedule add daily 09:00 100")
    await bot.say("/schedule add mon 07:30 20 plain")
    lines = (await bot.say("/schedule next 7")).lines
    assert lines[0].endswith("ซื้อ BTC (แนวโน้มขาขึ้น)"), lines
    assert any(line.endswith("ซื้อ BTC") for line in lines), lines  # the plain schedule's run


async def test_the_fiat_rate_is_labelled_in_thai(tmp_path: Path, db: Database,
                                                 clock: Clock) -> None:
    bot = thai_bot(tmp_path, db, clock, display_fiat="THB", fiat_rate=Decimal("36.5"))
    values = [f.value for f in (await bot.say("/status")).fields]
    assert any("36.5 ต่อ USDT, อัตราคงที่ (DCABOT_FIAT_RATE)" in v for v in values), values


async def test_a_run_records_its_refusal_in_english_in_a_thai_readers_task(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    """A job started from a Thai reader's command (the scheduler's rebuild) runs in that
    reader's context: the run's outcome in the database stays English all the same."""
    bot = thai_bot(tmp_path, db, clock, paper_start_balance=Decimal(10))
    engine = bot.services.engine
    strategy_settings.update(engine, cdc_enabled=False)
    view = await add_schedule(engine, "daily", "10:00", Decimal(20), None, "plain",
                              requested_by="owner")
    clock.now = due = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    with speaking("th"):
        result = await run_schedule(engine, view.id, due)
    assert result.outcome.startswith("skipped: Only 10 USDT is free to spend"), result
    with db.transaction() as session:
        assert session.scalars(select(ScheduleRun)).one().outcome == result.outcome


async def test_a_sale_below_the_minimum_is_refused_in_thai_before_anything_is_written(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    """/sell of a few satoshis: the market's minimum is said in Thai when asking, not after an
    order was written with a Thai error that every alert reader would then see."""
    bot = thai_bot(tmp_path, db, clock)
    asked = await bot.say("ซื้อ 6")
    await bot.registry.confirm(bot.services, OWNER, str(asked.confirm_token), accept=True)
    before = bot.counts()
    refused = await bot.say("ขาย 5")
    assert refused.kind == "error", refused
    assert "ต้องการอย่างน้อย 0.00001 BTC ต่อคำสั่ง BTC/USDT" in refused.lines[0], refused.lines
    assert bot.counts() == before  # nothing written


async def test_an_order_the_exchange_refuses_is_recorded_in_english_whoever_asked(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    from bot.engine.orders import OrderRequest, place_order

    bot = thai_bot(tmp_path, db, clock)
    asked = await bot.say("ซื้อ 6")
    await bot.registry.confirm(bot.services, OWNER, str(asked.confirm_token), accept=True)
    engine = bot.services.engine
    with speaking("th"):  # a Thai reader's own order, sent past the checks
        outcome = await place_order(engine, OrderRequest(
            cause="sell_now", cause_key="tiny", side="sell", base_amount=Decimal("0.000001")))
    assert outcome.status == "rejected"
    assert outcome.error is not None and outcome.error.startswith("Binance needs at least")
    with db.transaction() as session:
        stored = session.scalars(select(Order).where(Order.side == "sell")).one()
    assert stored.error == outcome.error
