"""Thai and English (issue 17, part): the catalog covers every marked message and command
summary, `/lang` is per person and survives a restart, Telegram's app language is the default,
the Thai words for the main commands run them on the terminal, Telegram and LINE (through the
fakes, so Thai text passes Telegram's HTML and LINE's Flex checks), and Telegram's command menu
is published in Thai too."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from bot.chat.commands import build_registry
from bot.chat.roles import Role, User
from bot.cli import main
from bot.i18n import catalog
from storage import languages
from storage.db import Database
from tests.app_harness import (
    SECRET,
    TG_ADMIN,
    World,
    flex_texts,
    line,
    next_update_id,
    tg,
    world,
)
from tests.chat_harness import make_bot
from tests.conftest import Clock, make_settings
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_updates import make_message_update

__all__ = ["line", "tg", "world"]  # fixtures
ROOT = Path(__file__).resolve().parents[1]
ADMIN = User("telegram", "1", Role.ADMIN)
THAI = re.compile(r"[\u0E00-\u0E7F]")


def marked_messages() -> list[str]:
    """Every `_("literal")` in the bot, and every command's summary (shown through `_`)."""
    found = [c.summary for c in build_registry().commands.values()]
    for path in sorted((ROOT / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_":
                argument = node.args[0]
                if isinstance(argument, ast.Constant):
                    found.append(argument.value)
                else:  # only a command's summary may be translated by reference
                    assert isinstance(argument, ast.Attribute) and argument.attr == "summary", (
                        f"{path.name}:{node.lineno}: _() of something that is not a literal"
                    )
    return found


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def test_every_message_has_a_thai_translation_with_the_same_placeholders() -> None:
    thai = catalog("th")
    messages = marked_messages()
    assert len(messages) > 60
    missing = [m for m in messages if not thai.get(m)]
    assert missing == [], missing
    for message in messages:
        assert placeholders(thai[message]) == placeholders(message), message
        assert THAI.search(thai[message]), message


def test_a_message_without_a_translation_fails_the_check() -> None:
    thai = dict(catalog("th"))
    thai.pop("Commands")
    assert [m for m in marked_messages() if not thai.get(m)] == ["Commands"]


async def test_lang_is_per_person_and_kept_across_a_restart(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    settings = make_settings(tmp_path, admins=("telegram:1", "telegram:2"))
    bot = make_bot(settings, db, clock)
    chosen = await bot.say("/lang th")
    assert chosen.title == "ตั้งภาษาแล้ว" and chosen.fields[0].value == "ไทย"
    helped = await bot.say("ช่วยเหลือ")  # the Thai word for /help
    assert helped.title == "คำสั่ง"
    usage = {f.label: f.value for f in helped.fields}
    assert usage["/status · สถานะ"] == "สินทรัพย์ที่ถือ ต้นทุนเฉลี่ย มูลค่า กำไร/ขาดทุน และเงินสำรอง"
    other = User("telegram", "2", Role.ADMIN)
    assert (await bot.registry.dispatch(other, "/help", bot.services)).title == "Commands"
    restarted = make_bot(settings, db, clock)
    asked = await restarted.say("ซื้อ 50")
    assert asked.confirm_labels == ("ยืนยัน", "ยกเลิก") and "ยืนยันภายใน 60 วินาที" in asked.footer
    refused = await restarted.say("/lang klingon")
    assert refused.kind == "error" and "ไม่ใช่ภาษา" in refused.lines[0]
    unknown = await restarted.say("/stauts")
    assert unknown.lines == ("/stauts ไม่ใช่คำสั่ง", "หมายถึง /status หรือเปล่า? /help (ช่วยเหลือ) "
                             "แสดงคำสั่งทั้งหมด")


async def test_status_and_a_buy_answer_in_thai(tmp_path: Path, db: Database,
                                              clock: Clock) -> None:
    bot = make_bot(make_settings(tmp_path, language="th"), db, clock)
    asked = await bot.say("ซื้อ 50")
    assert asked.title == "ซื้อ BTC ด้วย 50.00 USDT ไหม?"
    labels = [f.label for f in asked.fields]
    assert labels == ["โหมด", "ราคาตอนนี้", "จะได้ประมาณ", "ค่าธรรมเนียมประมาณ", "USDT ที่ใช้ได้"]
    done = await bot.registry.confirm(bot.services, ADMIN, str(asked.confirm_token),
                                      accept=True)
    assert done.title == "ซื้อแล้ว" and done.footer.startswith("เลขคำสั่ง ")
    status = await bot.say("สถานะ")
    assert status.title == "พอร์ต" and "BTC ที่ถือ" in [f.label for f in status.fields]
    assert status.footer.startswith("ราคาจำลอง: ติดต่อกระดานเทรดไม่ได้ แหล่งราคา:")
    assert [b.label for b in status.buttons] == ["รีเฟรช", "ประวัติ"]
    assert {f.label: f.value for f in status.fields}["การแจ้งเตือน"].startswith("รอส่ง 1 รายการ")
    assert (await bot.say("ประวัติ")).title == "คำสั่งล่าสุด"
    profit = await bot.say("กำไร")
    assert profit.title == "กำไร ตั้งแต่เริ่มต้น" and profit.fields[0].label == "เงินลงทุน"
    reserve = await bot.say("เงินสำรอง")
    assert reserve.title == "เงินสำรอง" and reserve.lines == ("ยังไม่มีการเคลื่อนไหวของเงินสำรอง",)
    sell = await bot.say("ขาย 50")
    assert sell.title == "ขาย BTC 50% ไหม?" and sell.confirm_labels == ("ยืนยัน", "ยกเลิก")
    assert sell.fields[-1].value == "เงินสำรองบน binance"
    added = await bot.say("/schedule add daily 09:00 3 plain")
    assert added.title == "เพิ่มตารางแล้ว" and "ต่ำกว่าคำสั่งขั้นต่ำของ binance" in added.lines[0]
    listed = await bot.say("ตาราง")
    assert listed.title == "ตาราง" and "ครั้งถัดไป" in listed.fields[0].value
    bad = await bot.say("ซื้อ abc")
    assert bad.lines == ("'abc' ไม่ใช่จำนวนเงิน; ใช้ตัวเลข เช่น /buy 50", "วิธีใช้: /buy <amount USDT> "
                         "[exchange]")


async def test_dcabot_language_sets_the_default(tmp_path: Path, db: Database,
                                                clock: Clock) -> None:
    bot = make_bot(make_settings(tmp_path, language="th"), db, clock)
    assert (await bot.say("/help")).title == "คำสั่ง"
    assert (await bot.say("/lang en")).title == "Language set"
    assert (await bot.say("/help")).title == "Commands"


def test_thai_words_and_the_app_language_on_telegram_and_line(world: World) -> None:
    status = world.telegram_says("สถานะ")
    assert any("Portfolio" in (m.text or "") for m in status), [m.text for m in status]
    update = make_message_update(next_update_id(), TG_ADMIN, TG_ADMIN, "/help")
    update["message"]["from"]["language_code"] = "th"
    before = len(world.tg.messages(TG_ADMIN))
    assert world.post_telegram(update).status_code == 200
    world.settle()
    helped = world.tg.messages(TG_ADMIN)[before:]
    assert helped and "คำสั่ง" in (helped[0].text or "") and "สถานะ" in (helped[0].text or "")
    assert helped[0].parse_mode == "HTML"  # Thai text went through Telegram's HTML as sent
    db = world.chat.runtime.services.engine.db  # remembered: their alerts come in Thai too
    assert languages.chosen(db, f"telegram:{TG_ADMIN}") == "th"
    said = world.line_says("สถานะ")
    assert any("Portfolio" in " ".join(flex_texts(m)) for m in said), said
    world.line_says("/lang th")
    helped_line = world.line_says("ช่วยเหลือ")
    assert any("คำสั่ง" in " ".join(flex_texts(m)) for m in helped_line), helped_line


def test_the_telegram_menu_is_published_in_thai_too(
    tg: FakeTelegramAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", tg.token)
    monkeypatch.setenv("TELEGRAM_API_URL", tg.url)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", SECRET)
    assert main(["telegram", "set-webhook", "--url", "https://bot.example"]) == 0
    assert "published in English, ไทย" in capsys.readouterr().out
    english = {c["command"]: c["description"] for c in tg.commands()}
    thai = {c["command"]: c["description"] for c in tg.commands(language_code="th")}
    assert english.keys() == thai.keys() and "status" in thai
    assert english["lang"] == "Show or choose your language: /lang th or /lang en"
    assert thai["status"] == "สินทรัพย์ที่ถือ ต้นทุนเฉลี่ย มูลค่า กำไร/ขาดทุน และเงินสำรอง"


def test_thai_labels_line_up_in_the_terminal() -> None:
    from bot.cards.reply import Field, Reply
    from bot.cards.terminal_text import columns, render

    text = render(Reply(kind="status", title="พอร์ต", fields=(
        Field("กำไร/ขาดทุนที่ยังไม่รับรู้", "-0.05 USDT"), Field("โหมด", "paper"),
        Field("Alerts", "all delivered"))))
    rows = text.splitlines()[1:]
    starts = {columns(row) - columns(value) for row, value in
              zip(rows, ("-0.05 USDT", "paper", "all delivered"), strict=True)}
    assert len(starts) == 1, rows  # every value begins in the same column
    assert columns("ที่") == 1 and len("ที่") == 3  # a consonant and two marks: one column


async def test_a_terminal_session_in_thai(tmp_path: Path, db: Database, clock: Clock) -> None:
    bot = make_bot(make_settings(tmp_path, language="th"), db, clock)
    out = await bot.terminal("ซื้อ 50", "ใช่", "สถานะ", "ขาย 50", "ไม่")
    assert "พิมพ์ ใช่ (หรือ yes) เพื่อยืนยัน" in out
    assert "== ซื้อแล้ว ==" in out and "== พอร์ต ==" in out
    assert "ยกเลิกแล้ว" in out  # "ไม่" (no) cancelled the sale
    assert bot.counts()[0] == 1  # one order: the buy


def test_an_alert_reaches_a_thai_reader_in_thai(
    tmp_path: Path, tg: FakeTelegramAPI, line: object, clock: Clock
) -> None:
    """The dispatcher renders each person's alerts in the language they chose with /lang."""
    import time

    from tests.app_harness import chat_settings, running_world

    settings = chat_settings(tmp_path, tg, line, alert_routes=f"owner=telegram:{TG_ADMIN}")
    with running_world(settings, tg, line, clock, dispatch=True) as w:
        w.telegram_says("/lang th")
        [ask] = w.telegram_says("ซื้อ 50")
        confirm = ask.reply_markup["inline_keyboard"][0][0]  # type: ignore[index]
        assert confirm["text"] == "ยืนยัน"
        w.telegram_taps(confirm["callback_data"], ask)
        deadline = time.monotonic() + 15
        while not any("คำสั่งสำเร็จ" in (m.text or "") for m in tg.messages(TG_ADMIN)):
            assert time.monotonic() < deadline, [m.text for m in tg.messages(TG_ADMIN)]
            time.sleep(0.1)
    alert = next(m.text or "" for m in tg.messages(TG_ADMIN) if "คำสั่งสำเร็จ" in (m.text or ""))
    assert "ค่าธรรมเนียม" in alert and "สั่งโดย" in alert, alert


TRANSLATED_ALERTS = ("order_filled", "dca_bought", "dca_reserved", "dca_carried", "sold_on_red",
                     "sold_to_reserve", "reserve_deployed", "reserve_added", "trend_flip",
                     "flip_not_acted", "order_failed", "below_minimum", "schedule_missed")


def test_the_translated_alert_kinds_render_in_thai_and_fit_telegram_and_line() -> None:
    from zoneinfo import ZoneInfo

    from bot.cards.alerts import alert_card
    from bot.cards.line_flex import line_messages
    from bot.cards.telegram_html import render_html
    from bot.i18n import speaking
    from tests.fakes.line_validation import validate_messages
    from tests.test_alerts_cards import PAYLOADS

    for kind in TRANSLATED_ALERTS:
        with speaking("th"):
            card = alert_card(kind, PAYLOADS[kind], ZoneInfo("Asia/Bangkok"))
        assert THAI.search(card.title), (kind, card.title)
        assert all(THAI.search(f.label) or f.label.isupper() for f in card.fields), kind
        assert render_html(card), kind
        flex = line_messages(card, image_url=None, quick=False)
        assert validate_messages(flex) == [], kind  # LINE's checks, as its API makes them
