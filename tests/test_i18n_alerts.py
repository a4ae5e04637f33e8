"""Thai for the alerts still English before (S4, the bot's own work, the daily summary and the
runway warning, a schedule changed) and for the fixed texts of the channels: each card renders
in Thai for a Thai reader, passes LINE's Flex checks, and keeps no English word in its title;
the dispatcher delivers them in Thai on Telegram and LINE; a stranger hears the refusal in the
default language; the channels' own notes (a cut LINE card, a missing chart, an old button, the
pause banner, the terminal's prompt) are Thai too."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.cards.alerts import alert_card
from bot.cards.line_flex import line_messages
from bot.cards.reply import Field, Reply
from bot.cards.telegram_html import render_html
from bot.cards.terminal_text import render
from bot.chat.roles import Role, User
from bot.chat.terminal import TerminalChannel
from bot.i18n import speaking
from bot.notify.outcomes import Sender
from storage.db import Database
from tests.app_harness import (
    LINE_ADMIN,
    LINE_STRANGER,
    TG_STRANGER,
    chat_settings,
    flex_texts,
    running_world,
)
from tests.chat_harness import make_bot
from tests.conftest import Clock, make_settings
from tests.fakes.line_api import FakeLineAPI
from tests.fakes.line_validation import validate_messages
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.notify_harness import (
    FAST,
    LINE_ANN,
    _ptb_timedelta,
    dispatching,
    enqueue,
    line,
    line_sender,
    people,
    settled,
    telegram_sender,
    tg,
    wait_for,
)
from tests.test_alerts_cards import CANDLE, FILL, PAYLOADS

__all__ = ["_ptb_timedelta", "line", "tg"]  # fixtures
THAI = re.compile(r"[\u0E00-\u0E7F]")
ZONE = ZoneInfo("Asia/Bangkok")
ADMIN = User("telegram", "1", Role.ADMIN)
SYMBOLS = {"BTC", "USDT", "PAXG", "S4", "DCA", "dcabot", "EMA12", "EMA26"}
LEGS = {
    "sell": {"symbol": "BTC/USDT", "amount": "0.01", "price": "98000", "cost": "980",
             "fee": "0.98", "fee_asset": "USDT", "status": "filled"},
    "buy": {"symbol": "PAXG/USDT", "amount": "0.4", "price": "2400", "cost": "960",
            "status": "rejected", "error": "insufficient balance"},
}

# kind, payload, the Thai title, a Thai text the card must show (a field's value or a line)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("s4_rotation", PAYLOADS["s4_rotation"], "S4 จะสลับ BTC → PAXG", "โหมดเงา: ไม่มีการซื้อขายจริง"),
    ("s4_rotation", {"from": "btc", "to": "gold", "status": "refused", "legs": LEGS,
                     "reason": "the exchange refused", "holdings": {"USDT": "980"}},
     "การสลับ S4 ถูกปฏิเสธ BTC → ทองคำ", "(ถูกปฏิเสธ: insufficient balance)"),
    ("s4_rotation", {"from": "gold", "to": "btc", "status": "retrying", "reason": "timeout",
                     "retry_until": CANDLE}, "การสลับ S4 รออยู่ ทองคำ → BTC", "ลองใหม่จนถึง"),
    ("dca_bought", {**FILL, "strategy": "s4", "s4_holds": "gold", "s4_since": CANDLE},
     "S4 DCA ซื้อแล้ว: BTC/USDT", "โหมดเงา: ซื้อ BTC แล้ว (S4 จะซื้อทองคำ)"),
    ("dca_reserved", {**PAYLOADS["dca_reserved"], "zone": "red", "ema_fast": "90000",
                      "ema_slow": "95000", "trend_candle": CANDLE},
     "DCA เก็บเข้าเงินสำรอง", "ขาลง โซนแดง: EMA12 90,000.00 อยู่ใต้ EMA26 95,000.00"),
    ("order_failed", PAYLOADS["order_failed"], "คำสั่งล้มเหลว: ซื้อ BTC/USDT", "จำนวน 50.00 USDT"),
    ("flip_not_acted", PAYLOADS["flip_not_acted"], "ไม่ได้ทำตามการกลับตัวของแนวโน้ม", "ขาลง"),
    ("run_delayed", PAYLOADS["run_delayed"], "DCA ตามตาราง #3 ล่าช้า", "บอทจะลองใหม่"),
    ("task_failed", PAYLOADS["task_failed"], "งานเบื้องหลังล้มเหลว: scheduler",
     "งานนี้จะเริ่มใหม่เอง"),
    ("exchange_paused", PAYLOADS["exchange_paused"], "Binance ขอให้บอทรอก่อน",
     "กลับมาซื้อขายเมื่อ"),
    ("run_paused", PAYLOADS["run_paused"], "ข้าม DCA ตามตาราง #3: หยุดชั่วคราวอยู่",
     "บอทหยุดการซื้อขายชั่วคราวอยู่"),
    ("trading_paused", PAYLOADS["trading_paused"], "หยุดการซื้อขายชั่วคราว", "/buy และ /sell"),
    ("trading_resumed", PAYLOADS["trading_resumed"], "กลับมาซื้อขายแล้ว", "หยุดตั้งแต่"),
    ("daily_summary", PAYLOADS["daily_summary"], "สรุปประจำวัน 20 พ.ย. 2026",
     "ซื้อ 1 ครั้ง รวม 49.92 USDT, ขาย 0 ครั้ง รวม 0.00 USDT"),
    ("daily_summary", {"day": "2026-11-20", "accounts": [
        {"exchange": "okx", "mode": "live", "error": "timeout"}]},
     "สรุปประจำวัน 20 พ.ย. 2026", "อ่านไม่ได้ตอนนี้: timeout"),
    ("bot_started", PAYLOADS["bot_started"], "dcabot เริ่มทำงานแล้ว", "เวอร์ชัน"),
    ("bot_stopped", PAYLOADS["bot_stopped"], "dcabot หยุดทำงานแล้ว", "บอทถูกปิดโดยตั้งใจ"),
    ("trades_synced", {**PAYLOADS["trades_synced"], "corrected": ["order 7: 0.001 BTC"]},
     "ดึงรายการซื้อขายจากกระดานเทรดแล้ว", "แก้ให้ตรงกับตัวเลขของกระดานเทรดแล้ว"),
    ("runway_low", PAYLOADS["runway_low"], "USDT ของคุณใกล้หมด", "ตาราง #1 Payday ต้องใช้"),
    ("run_unfunded", PAYLOADS["run_unfunded"], "รอบภายใน 1 วันนี้เงินไม่พอจ่าย",
     "เงินไม่พอ; เติม USDT"),
    ("schedule_changed", PAYLOADS["schedule_changed"], "หยุดตาราง #3 ชั่วคราวแล้ว", "โดย"),
]


def _words(payload: object) -> set[str]:
    """The words a payload brings (an exchange, a task, a label): not the card's to translate."""
    return set(re.findall(r"[A-Za-z][A-Za-z0-9]*", str(payload)))


def _english(text: str, payload: object) -> list[str]:
    allowed = SYMBOLS | _words(payload) | {w.capitalize() for w in _words(payload)}
    return [w for w in re.findall(r"[A-Za-z][A-Za-z0-9]*", text) if w not in allowed]


@pytest.mark.parametrize(("kind", "payload", "title", "shown"), CASES,
                         ids=[f"{c[0]}-{n}" for n, c in enumerate(CASES)])
def test_each_alert_renders_in_thai_and_fits_line(
    kind: str, payload: dict[str, Any], title: str, shown: str
) -> None:
    with speaking("th"):
        card = alert_card(kind, payload, ZONE)
        flex = line_messages(card, image_url=None, quick=False)
    assert card.title == title
    assert _english(card.title, payload) == [], card.title
    texts = [f"{f.label} {f.value}" for f in card.fields] + list(card.lines)
    assert any(shown in t for t in texts), texts
    for f in card.fields:  # a label is Thai, or a payload's own word (`binance live`)
        assert THAI.search(f.label) or not _english(f.label, payload), f.label
    assert all(THAI.search(line) for line in card.lines if line not in
               payload.get("corrected", [])), card.lines
    assert all(THAI.search(b.label) or b.label == "S4" for b in card.buttons), card.buttons
    assert render_html(card)
    assert validate_messages(flex) == [], kind  # LINE's checks, as its API makes them
    assert THAI.search(flex[0]["altText"])
    with speaking("en"):  # and the English is what it was
        assert THAI.search(alert_card(kind, payload, ZONE).title) is None


async def test_the_dispatcher_delivers_them_in_thai_on_telegram_and_line(
    db: Database, tg: FakeTelegramAPI, line: FakeLineAPI
) -> None:
    kinds = ("s4_rotation", "run_delayed", "trading_paused", "daily_summary", "runway_low")
    for kind in kinds:
        enqueue(db, 1, kind=kind, payload=lambda n, p=PAYLOADS[kind]: p)  # type: ignore[misc]
    senders: dict[str, Sender] = {"telegram": telegram_sender(tg, chat_per_second=100),
                                  "line": line_sender(line)}
    thai = dataclasses.replace(FAST, language="th")  # DCABOT_LANGUAGE=th: nobody chose
    async with dispatching(db, people(f"a=telegram:42;b=line:{LINE_ANN}"), senders,
                           options=thai):
        await wait_for(lambda: settled(db), timeout=20)
    tg_titles = [str(m.text).splitlines()[0] for m in tg.messages(42)]
    line_titles = [m["contents"]["header"]["contents"][0]["text"]
                   for m in line.messages_to(LINE_ANN)]
    for expected in ("S4 จะสลับ BTC → PAXG", "DCA ตามตาราง #3 ล่าช้า", "หยุดการซื้อขายชั่วคราว",
                     "สรุปประจำวัน 20 พ.ย. 2026", "USDT ของคุณใกล้หมด"):
        assert any(expected in t for t in tg_titles), tg_titles
        assert any(expected in t for t in line_titles), line_titles
    summary = next(str(m.text) for m in tg.messages(42) if "สรุปประจำวัน" in str(m.text))
    assert "มูลค่า 10,234.50 USDT · ยังไม่รับรู้ +123.40 USDT" in summary, summary
    buttons = [b["action"]["label"] for m in line.messages_to(LINE_ANN)
               for b in m["contents"].get("footer", {}).get("contents", [])]
    assert "กำไร" in buttons and "ตาราง" in buttons, buttons


def test_the_channels_fixed_texts_in_thai(
    tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, clock: Clock
) -> None:
    settings = chat_settings(tmp_path, tg, line, language="th")
    with running_world(settings, tg, line, clock) as w:
        refused = w.telegram_says("/status", user=TG_STRANGER)  # the default language
        assert refused and "บอทส่วนตัว" in str(refused[0].text), refused
        assert f"ไอดีของคุณคือ telegram:{TG_STRANGER}" in str(refused[0].text)
        line_refused = " ".join(flex_texts(w.line_says("/status", user=LINE_STRANGER)[0]))
        assert "บอทส่วนตัว" in line_refused and "หากต้องการใช้" in line_refused
        w.telegram_says("/lang th")  # the fake's app language is English
        [long] = w.telegram_says("/status " + "x" * 4100)
        assert "ไม่ได้ทำรายการ" in str(long.text) and "ข้อความนี้ยาว 4,108 ตัวอักษร" in str(long.text)
        old = w.line_taps("nothing:we:know")
        assert "ปุ่มเก่า" in " ".join(flex_texts(old[0])), old
        w.line_says("/lang en", user=LINE_ADMIN)
        english = w.line_taps("nothing:we:know")
        assert "Old button" in " ".join(flex_texts(english[0])), english


def test_line_notes_and_the_terminal_lines_in_thai() -> None:
    long_card = Reply(kind="text", title="ยาว", lines=tuple("ก" * 1500 for _n in range(40)))
    chart = Reply(kind="text", title="กราฟ", image=Path("/tmp/c.png"),
                  documents=(Path("/tmp/orders.csv"),), fields=(Field("ก", "ข"),))
    with speaking("th"):
        cut = line_messages(long_card, image_url=None, quick=False)
        notes = line_messages(chart, image_url=None, quick=False)
        text = render(chart)
    assert "ตัดให้สั้นลง" in " ".join(flex_texts(cut[0])) and validate_messages(cut) == []
    assert notes[1]["text"].startswith("ไม่ได้แสดงกราฟที่นี่: LINE ดึงรูป")
    assert notes[2]["text"].startswith("ไม่ได้ส่งไฟล์มาที่นี่: ผู้ใช้ LINE")
    assert "กราฟ: /tmp/c.png" in text and "ไฟล์: /tmp/orders.csv" in text


async def test_the_pause_banner_and_the_terminal_prompt_in_thai(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    bot = make_bot(make_settings(tmp_path, language="th"), db, clock)
    asked = await bot.say("/pause")
    await bot.registry.confirm(bot.services, ADMIN, str(asked.confirm_token), accept=True)
    status = await bot.say("สถานะ")
    assert status.footer.startswith("หยุดชั่วคราว: บอทจะไม่เริ่มซื้อขายจนกว่าจะ /resume")
    prompts: list[str] = []
    lines = ["ซื้อ 50", "ไม่"]

    async def read(prompt: str) -> str | None:
        prompts.append(prompt)
        return lines.pop(0) if lines else None

    out = io.StringIO()
    await TerminalChannel(bot.registry, bot.services, out).run(read)
    assert "ยืนยันไหม? " in prompts, prompts
    assert "ยกเลิกแล้ว" in out.getvalue()


def test_why_an_order_was_placed_and_where_the_bot_trades_are_worded_for_the_reader(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    """The engine names the rule (`buy_now`) and the accounts; the card words them for each
    reader, so a Thai reader of an alert written in the background reads no English sentence."""
    import asyncio
    import json

    from sqlalchemy import select

    from bot.scheduler_accounts import announce
    from storage.models import OutboxAlert

    bot = make_bot(make_settings(tmp_path), db, clock)
    asked = asyncio.run(bot.say("/buy 50"))
    asyncio.run(bot.registry.confirm(bot.services, User("telegram", "1", Role.ADMIN),
                                     str(asked.confirm_token), accept=True))
    announce(bot.services.engine, "bot_started")
    with db.transaction() as session:
        payloads = {a.kind: json.loads(a.payload) for a in session.scalars(select(OutboxAlert))}
    fill, started = payloads["order_filled"], payloads["bot_started"]
    assert fill["rule"] == "buy_now"  # a name, not a sentence, in the outbox
    for language, why, where in (("en", "you asked to buy", "paper mode on binance"),
                                 ("th", "คุณสั่งซื้อเอง", "โหมด paper บน binance")):
        with speaking(language):
            fields = {f.label: f.value for f in alert_card("order_filled", fill, ZONE).fields}
            said = {f.label: f.value for f in alert_card("bot_started", started, ZONE).fields}
        assert why in fields.values(), fields
        assert where in said.values(), said


def test_the_engines_fixed_reasons_are_worded_for_the_reader() -> None:
    missed = {"schedule_id": 3, "due_at": CANDLE, "amount": "50",
              "reason": "the bot was not running at that time"}
    with speaking("th"):
        thai = {f.label: f.value for f in alert_card("schedule_missed", missed, ZONE).fields}
    assert "บอทไม่ได้ทำงานในเวลานั้น" in thai.values(), thai
    english = {f.label: f.value for f in alert_card("schedule_missed", missed, ZONE).fields}
    assert english["Why"] == "the bot was not running at that time"
