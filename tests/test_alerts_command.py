"""/alerts (a person's channels and mutes) and the alert row /status shows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.chat.roles import Role
from bot.notify import health
from bot.notify.health import alert_health, health_json
from storage import alert_prefs, outbox
from storage.db import Database
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings

LINE_ID = "U4af4980629a1b2c3d4e5f60718293a4b"


@pytest.fixture
def bot(tmp_path: Path, db: Database, clock: Clock) -> Bot:
    settings = make_settings(
        tmp_path,
        admins="telegram:1",
        viewers="telegram:2",
        telegram_bot_token="123456:TEST-TOKEN",  # ann is reached on telegram only
        alert_routes=f"owner=line:{LINE_ID},telegram:1;ann=telegram:2",
    )
    return make_bot(settings, db, clock)


def mutes(bot: Bot, person: str) -> dict[str, str]:
    with bot.db.transaction() as session:
        return alert_prefs.mutes_of(session, person)


async def test_alerts_shows_your_channels_in_order_and_your_mutes(bot: Bot) -> None:
    reply = await bot.say("/alerts")
    fields = {f.label: f.value for f in reply.fields}
    assert reply.title == "Alerts for owner"
    assert fields["Channels"] == f"line:{LINE_ID} → telegram:1"
    assert fields["Muted"] == "nothing" and fields["Delivery"] == "all delivered"
    assert "trend_flip" in reply.footer


async def test_mute_and_unmute_are_per_person(bot: Bot) -> None:
    reply = await bot.say("/alerts mute TREND_FLIP", Role.VIEWER, user_id="2")
    assert "trend_flip alerts are muted." in reply.lines
    assert {f.label: f.value for f in reply.fields}["Muted"] == "trend_flip (muted)"
    assert mutes(bot, "ann") == {"trend_flip": "muted"} and mutes(bot, "owner") == {}
    await bot.say("/alerts unmute trend_flip", Role.VIEWER, user_id="2")
    assert mutes(bot, "ann") == {}


async def test_fills_and_errors_only_go_down_to_silent(bot: Bot) -> None:
    for kind in ("dca_bought", "order_failed", "circuit_open"):
        reply = await bot.say(f"/alerts mute {kind}")
        assert "without sound" in reply.lines[0]
    assert mutes(bot, "owner") == dict.fromkeys(
        ("circuit_open", "dca_bought", "order_failed"), "silent"
    )


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("/alerts mute", "Say /alerts, /alerts mute <kind> or /alerts unmute <kind>"),
        ("/alerts louder trend_flip", "Say /alerts"),
        ("/alerts mute moonshot", "'moonshot' is not an alert kind; /alerts lists them"),
    ],
)
async def test_bad_alerts_commands_say_what_is_right(bot: Bot, text: str, answer: str) -> None:
    reply = await bot.say(text)
    assert reply.kind == "error" and reply.lines[0].startswith(answer)


async def test_someone_without_alerts_is_told_so(bot: Bot) -> None:
    reply = await bot.say("/alerts", Role.VIEWER, user_id="3")
    assert reply.kind == "error" and "telegram:3 gets no alerts" in reply.lines[0]


async def test_status_shows_the_backlog_and_troubled_channels(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    bot = make_bot(make_settings(tmp_path, line_channel_access_token="set"), db, clock)
    status = {f.label: f.value for f in (await bot.say("/status")).fields}
    assert status["Alerts"] == "all delivered"
    with bot.db.transaction() as session:
        outbox.enqueue(session, kind="dca_bought", payload={}, now=clock() - timedelta(hours=1))
        alert_prefs.save_channel_state(
            session,
            "line",
            state="exhausted",
            until=clock() + timedelta(days=9),
            reason="429 monthly limit",
            now=clock(),
        )
    health.forget_recent(bot.db)  # /status shows alert health up to 2 s old (FIELD_FRESH_S)
    status = {f.label: f.value for f in (await bot.say("/status")).fields}
    assert status["Alerts"] == (
        "1 waiting, oldest from 2026-11-21 08:30 UTC"
        " · line: quota used up until 2026-11-30 09:30 UTC"
    )


def test_health_reports_backlog_oldest_and_each_channel(db: Database, clock: Clock) -> None:
    with db.transaction() as session:
        outbox.enqueue(session, kind="trend_flip", payload={}, now=clock() - timedelta(minutes=5))
        outbox.enqueue(session, kind="dca_bought", payload={}, now=clock())
        alert_prefs.save_channel_state(
            session,
            "telegram",
            state="rate_limited",
            until=clock() + timedelta(seconds=30),
            reason="429: retry after 30s",
            now=clock(),
        )
        alert_prefs.save_channel_state(
            session,
            "line",
            state="down",
            until=clock() - timedelta(seconds=1),
            reason="500",
            now=clock(),
        )
    report = health_json(alert_health(db, ("telegram", "line", "terminal"), clock()))
    assert report == {
        "backlog": 2,
        "oldest_undelivered": "2026-11-21T09:25:00+00:00",
        "channels": {
            "telegram": {
                "state": "rate_limited",
                "until": "2026-11-21T09:30:30+00:00",
                "reason": "429: retry after 30s",
            },
            "line": {"state": "ok", "until": None, "reason": ""},  # its pause is over
            "terminal": {"state": "ok", "until": None, "reason": ""},
        },
    }
