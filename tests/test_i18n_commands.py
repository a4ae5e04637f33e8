"""Thai through the real command path: /strategy, /s4, /signal, /backtest, /alerts, /export,
/sync, /pause, /resume, /version, the period tables, /history lines, /schedule's changes, the
several-exchange /status card and these commands' refusals. Titles and field labels carry no
English word left over (symbols, exchange and mode names, and command names aside)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bot.cards.reply import Reply
from bot.chat.roles import Role, User
from storage.db import Database
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings
from tests.shared_data import BTC_DAILY, PAXG_DAILY

THAI = re.compile(r"[\u0E00-\u0E7F]")
ADMIN = User("telegram", "1", Role.ADMIN)
# words that stay as they are in Thai: symbols, indicator names, exchanges, modes, zones
KEPT = {"BTC", "USDT", "PAXG", "EMA", "CDC", "S4", "DCA", "UTC", "THB", "Action", "Zone",
        "binance", "okx", "paper", "live", "dcabot", "cdc", "dca", "s4", "telegram"}


def english(text: str) -> list[str]:
    """The ASCII words of `text` that are neither kept symbols nor a /command."""
    text = re.sub(r"/[a-z0-9]+", " ", text)
    return [w for w in re.findall(r"[A-Za-z][A-Za-z0-9]*", text) if w not in KEPT]


def assert_thai(reply: Reply) -> dict[str, str]:
    """The card's title and labels are Thai (no English word left); its fields by label."""
    assert THAI.search(reply.title), reply.title
    assert english(reply.title) == [], reply.title
    for field in reply.fields:
        assert english(field.label) == [], (reply.title, field.label)
    for button in reply.buttons:
        assert english(button.label) == [], (reply.title, button.label)
    return {f.label: f.value for f in reply.fields}


def assert_thai_refusal(reply: Reply) -> None:
    assert reply.kind == "error" and THAI.search(reply.lines[0]), reply.lines


def thai_bot(tmp_path: Path, db: Database, clock: Clock, **settings: object) -> Bot:
    return make_bot(make_settings(tmp_path, language="th", **settings), db, clock)


async def confirm(bot: Bot, asked: Reply) -> Reply:
    assert asked.confirm_token, asked
    return await bot.registry.confirm(bot.services, ADMIN, str(asked.confirm_token), accept=True)


async def test_strategy_s4_pause_version_and_alerts(tmp_path: Path, db: Database) -> None:
    clock = Clock(datetime(2025, 8, 1, 9, 30, tzinfo=UTC))
    bot = thai_bot(tmp_path, db, clock, prices_csv=BTC_DAILY, gold_prices_csv=PAXG_DAILY,
                   admins=("telegram:1",))
    shown = assert_thai(await bot.say("/strategy"))
    assert (await bot.say("/strategy")).title == "กลยุทธ์"
    assert shown["ตัวกรอง CDC"] == "เปิด: ซื้อเมื่อขาขึ้น เก็บเข้าเงินสำรองเมื่อขาลง"
    changed = await bot.say("/strategy cdc off")
    assert assert_thai(changed)["ตัวกรอง CDC"] == "ปิด: DCA ซื้อทุกรอบ"
    assert changed.title == "อัปเดตกลยุทธ์แล้ว"
    s4 = await bot.say("/s4")
    fields = assert_thai(s4)
    assert s4.title.startswith("S4 · BTC ↔ ทองคำ") and fields["การสลับ"].startswith("โหมดเงา")
    asked = await bot.say("/strategy s4 execute on")
    assert asked.title == "ให้ซื้อขายการสลับ S4 จริงไหม?"
    assert_thai(asked)
    assert (await confirm(bot, asked)).title == "การสลับ S4 จะซื้อขายจริงแล้ว"

    paused = await confirm(bot, await bot.say("/pause"))
    assert paused.title == "หยุดการซื้อขายชั่วคราว" and THAI.search(paused.lines[0])
    again = await bot.say("/pause")
    assert again.title == "หยุดชั่วคราวอยู่แล้ว" and again.lines[0].startswith("หยุดชั่วคราวโดย")
    asked = await bot.say("/resume")
    assert asked.title == "ให้บอทกลับมาซื้อขายไหม?" and "หยุดโดย" in assert_thai(asked)
    assert (await confirm(bot, asked)).title == "กลับมาซื้อขายแล้ว"
    assert (await bot.say("/resume")).title == "ไม่ได้หยุดชั่วคราว"
    version = await bot.say("/version")
    assert {"ซื้อขายบน", "ฐานข้อมูล"} <= set(assert_thai_labels(version))

    alerts = await bot.say("/alerts mute trend_flip")
    assert alerts.title == "การแจ้งเตือนของ telegram:1"
    assert assert_thai(alerts)["ปิดไว้"] == "trend_flip (ปิดการแจ้งเตือน)"
    assert alerts.lines == ("ปิดการแจ้งเตือน trend_flip แล้ว",)
    assert alerts.footer.startswith("ประเภท: ")

    for refused in ("/strategy bogus", "/strategy sell", "/s4 a b", "/alerts mute nope",
                    "/alerts loud", "/strategy cap binance 0", "/strategy s4 run"):
        assert_thai_refusal(await bot.say(refused))


def assert_thai_labels(reply: Reply) -> list[str]:
    """A card whose title may be a name (`dcabot 1.2.3`): only its labels must be Thai."""
    for field in reply.fields:
        assert english(field.label) == [] or field.label == "Python", field.label
    return [f.label for f in reply.fields]


async def test_signal_and_backtest(tmp_path: Path, db: Database) -> None:
    clock = Clock(datetime(2025, 6, 1, 9, 30, tzinfo=UTC))
    bot = thai_bot(tmp_path, db, clock, prices_csv=BTC_DAILY)
    signal = await bot.say("/signal", Role.VIEWER)
    fields = assert_thai_labels(signal)
    assert fields == ["ราคา", "ราคาปิดล่าสุด", "โซน", "แนวโน้ม"]
    trend = {f.label: f.value for f in signal.fields}["แนวโน้ม"]
    assert re.fullmatch(r"ขา(ขึ้น|ลง) ตั้งแต่ \d{1,2} \S+ \d{4} \(\d+ วัน\)", trend), trend  # a Thai date
    assert signal.lines[1] == "การกลับตัวล่าสุด:" and re.search(r"  ขา(ขึ้น|ลง)$", signal.lines[2])
    assert [b.label for b in signal.buttons] == ["รีเฟรช", "ทดสอบย้อนหลัง"]
    assert signal.footer.startswith("แหล่งราคา:")

    backtest = await bot.say("/backtest cdc 2025-01-01 2025-05-01", Role.VIEWER)
    fields2 = assert_thai(backtest)
    assert backtest.title == "ทดสอบย้อนหลัง: cdc เทียบ dca"
    assert fields2["กลยุทธ์"] == "cdc เทียบ dca" and "BTC ที่ถือ" in fields2
    assert fields2["ช่วงเวลา"] == "2025-01-01 ถึง 2025-05-01 (121 วัน)"
    assert all(THAI.search(line) for line in backtest.lines)
    for refused in ("/signal now", "/backtest cdc 2024-01-01 2024-02-01 2024-03-01"):
        assert_thai_refusal(await bot.say(refused))


async def test_history_books_tables_and_schedules(tmp_path: Path, db: Database,
                                                  clock: Clock) -> None:
    bot = thai_bot(tmp_path, db, clock)
    assert (await confirm(bot, await bot.say("/buy 50"))).title == "ซื้อแล้ว"
    history = await bot.say("/history")
    assert re.search(r"  ซื้อ BTC/USDT  [\d.]+ BTC มูลค่า [\d.]+ USDT  \[binance paper\]$",
                     history.lines[0]), history.lines
    export = await bot.say("/export orders")
    assert export.title == "ไฟล์ส่งออกของคุณ" and export.lines[0].endswith(": 1 แถว")
    assert export.lines[-1].startswith("ตั้งแต่ เริ่มต้น ถึง ตอนนี้")
    synced = await bot.say("/sync")
    assert synced.title == "ซิงก์รายการซื้อขายแล้ว" and "ของบอท" in synced.fields[0].value
    for command, title in (("/daily 2", "รายวัน 2 วันล่าสุด"), ("/weekly", "รายสัปดาห์ 8 สัปดาห์ล่าสุด"),
                           ("/monthly 3", "รายเดือน 3 เดือนล่าสุด")):
        table = await bot.say(command)
        assert table.title == title and table.footer.startswith("จำนวนเป็น USDT;")
        assert "  ซื้อ " in table.lines[-1] and "กำไร/ขาดทุน" in table.lines[-1]
    chart = await bot.say("/profit chart")
    assert chart.title == "ผลการลงทุน binance paper" and chart.lines[0].startswith("มูลค่า ")

    await bot.say("/schedule add daily 09:00 20")
    assert (await bot.say("/schedule pause 1")).title == "หยุดตาราง #1 ชั่วคราวแล้ว"
    assert (await bot.say("/schedule resume 1")).title == "ตาราง #1 กลับมาทำงานแล้ว"
    assert (await bot.say("/schedule label 1 เงินเดือน")).title == "ตั้งชื่อตาราง #1 แล้ว"
    upcoming = await bot.say("/schedule next 1")
    assert ": จะ" in upcoming.lines[0] and "พอสำหรับ" in upcoming.lines[-1]
    assert (await bot.say("/schedule remove 1")).title == "ลบตาราง #1 แล้ว"
    for refused in ("/schedule bogus", "/schedule pause x", "/schedule add mon", "/profit ages",
                    "/profit a b", "/export orders 2026-01-01 2026-02-01 2026-03-01",
                    "/sync now", "/reserve bogus", "/buy 50 binance okx"):
        assert_thai_refusal(await bot.say(refused))


async def test_the_several_exchange_status_and_reserve(tmp_path: Path, db: Database,
                                                       clock: Clock) -> None:
    bot = thai_bot(tmp_path, db, clock, exchanges="binance,okx", prices_csv=BTC_DAILY,
                   paper_start_balance=Decimal(1000))
    status = await bot.say("/status")
    fields = assert_thai(status)
    assert status.title == "พอร์ต" and {"มูลค่ารวม", "เงินสำรองรวม", "มูลค่าบน okx"} <= set(fields)
    assert fields["binance USDT"].startswith("ใช้ได้ ") and " · เงินสำรอง " in fields["binance USDT"]
    assert fields["มูลค่าบน binance"].endswith("ต้นทุนเฉลี่ย ไม่มีข้อมูล")
    assert THAI.search(status.footer)
    reserve = await bot.say("/reserve")
    assert reserve.fields[0].value.startswith("เงินสำรอง ") and THAI.search(reserve.lines[0])
    refused = await bot.say("/buy 50 kraken")
    assert_thai_refusal(refused)
    refused = await bot.say("/reserve bogus")
    assert refused.lines[0].endswith("หรือชื่อกระดานเทรด: binance, okx")
    added = await bot.say("/reserve add 10 okx")  # why the reserve moved, in words
    assert added.lines[-1].endswith("10.00 USDT  เติมเข้า"), added.lines
    await bot.say("/lang en")
    assert (await bot.say("/reserve okx")).lines[-1].endswith("10.00 USDT  added")
