"""Dates for the reader's language (issue 17): English keeps 2026-11-30, Thai reads 30 พ.ย. 2026,
and with DCABOT_BUDDHIST_ERA=on 30 พ.ย. 2569; numbers are written alike in both. Checked in the
formatter, through a command's reply and through an alert the dispatcher renders for a Thai
reader on the fake Telegram."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cards import format as fmt
from bot.i18n import speaking
from storage import outbox
from storage.db import Database
from tests.app_harness import TG_ADMIN, chat_settings, line, running_world, tg
from tests.chat_harness import make_bot
from tests.conftest import Clock, make_settings
from tests.fakes.telegram_api import FakeTelegramAPI

__all__ = ["line", "tg"]  # fixtures
BANGKOK = ZoneInfo("Asia/Bangkok")
MOMENT = datetime(2026, 11, 30, 18, 45, tzinfo=UTC)  # 01:45 on 1 December in Bangkok


@pytest.mark.parametrize(
    ("language", "era", "day", "local", "month"),
    [
        ("en", False, "2026-11-30", "2026-12-01 01:45 +07", "2026-11"),
        ("en", True, "2026-11-30", "2026-12-01 01:45 +07", "2026-11"),  # English: never BE
        ("th", False, "30 พ.ย. 2026", "1 ธ.ค. 2026 01:45 +07", "พ.ย. 2026"),
        ("th", True, "30 พ.ย. 2569", "1 ธ.ค. 2569 01:45 +07", "พ.ย. 2569"),
    ],
)
def test_dates_are_written_for_the_language_and_era(
    language: str, era: bool, day: str, local: str, month: str
) -> None:
    with speaking(language, in_buddhist_era=era):
        assert fmt.day(MOMENT) == day
        assert fmt.local_time(MOMENT, BANGKOK) == local
        assert fmt.month(MOMENT) == month
        assert fmt.money(Decimal("12345.5"), "USDT") == "12,345.50 USDT"  # alike in both


async def test_a_thai_reply_shows_buddhist_era_dates_when_asked(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    thai = make_bot(make_settings(tmp_path, language="th", buddhist_era="on"), db, clock)
    await thai.say("/schedule add mon 07:00 100")
    listed = await thai.say("ตาราง")
    when = listed.fields[0].value
    assert "23 พ.ย. 2569 07:00" in when, when  # the next Monday after Sat 21 Nov 2026
    english = await thai.say("/lang en")
    assert english.title == "Language set"
    assert "2026-11-23 07:00" in (await thai.say("/schedule")).fields[0].value


def test_an_alert_to_a_thai_reader_dates_in_the_buddhist_era(
    tmp_path: Path, tg: FakeTelegramAPI, line: object, clock: Clock
) -> None:
    settings = chat_settings(tmp_path, tg, line, alert_routes=f"owner=telegram:{TG_ADMIN}",
                             language="th", buddhist_era="on")
    with running_world(settings, tg, line, clock, dispatch=True) as world:
        db = world.chat.runtime.services.engine.db
        with db.transaction() as session:
            outbox.enqueue(session, kind="schedule_missed", now=clock(), payload={
                "schedule_id": 3, "due_at": "2026-11-20T00:00:00+00:00", "amount": "50",
                "reason": "down"})
        deadline = time.monotonic() + 15
        while not any("2569" in (m.text or "") for m in tg.messages(TG_ADMIN)):
            assert time.monotonic() < deadline, [m.text for m in tg.messages(TG_ADMIN)]
            time.sleep(0.1)
    alert = next(m.text or "" for m in tg.messages(TG_ADMIN) if "2569" in (m.text or ""))
    assert "20 พ.ย. 2569 00:00 UTC" in alert, alert
