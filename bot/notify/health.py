"""What `/health` and `/status` show about alerts: the backlog, the oldest alert still waiting,
and each channel's state (ok, rate-limited until, exhausted until, down until)."""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.cards import format as fmt
from bot.cards.reply import Field
from bot.config import Settings
from bot.i18n import _
from bot.notify.channel_state import OK, ChannelState
from storage import alert_prefs, outbox
from storage.db import Database


def _label(state: str) -> str:
    """What a channel's trouble is called, in the reader's language."""
    if state == "rate_limited":
        return _("rate-limited")
    if state == "exhausted":
        return _("quota used up")
    return _("down") if state == "down" else state


@dataclass(frozen=True, slots=True)
class AlertHealth:
    backlog: int
    oldest: datetime | None  # when the oldest undelivered alert happened
    channels: tuple[ChannelState, ...]

    @property
    def ok(self) -> bool:
        return all(c.state == OK for c in self.channels)


def configured_channels(settings: Settings) -> tuple[str, ...]:
    found = [
        name
        for name, token in (
            ("telegram", settings.telegram_bot_token),
            ("line", settings.line_channel_access_token),
        )
        if token
    ]
    return (*found, "terminal")


def alert_health(db: Database, channels: Iterable[str], now: datetime) -> AlertHealth:
    with db.transaction() as session:
        count, oldest = outbox.backlog(session)
        known = {row.channel: row for row in alert_prefs.channel_states(session)}
    states = []
    for channel in channels:
        row = known.get(channel)
        if row is None or row.state == OK or row.until is None or row.until <= now:
            states.append(ChannelState(channel, OK))
        else:
            states.append(ChannelState(channel, row.state, row.until, row.reason))
    return AlertHealth(count, oldest, tuple(states))


def channel_line(state: ChannelState, zone: ZoneInfo) -> str:
    if state.state == OK or state.until is None:
        return f"{state.channel}: ok"
    return _("{channel}: {state} until {time}").format(
        channel=state.channel, state=_label(state.state), time=fmt.local_time(state.until, zone))


def backlog_line(health: AlertHealth, zone: ZoneInfo) -> str:
    if health.backlog == 0 or health.oldest is None:
        return _("all delivered")
    return _("{count} waiting, oldest from {time}").format(
        count=health.backlog, time=fmt.local_time(health.oldest, zone))


def health_lines(health: AlertHealth, zone: ZoneInfo) -> list[str]:
    """For /health: the backlog, then one line per channel."""
    return [f"Alerts: {backlog_line(health, zone)}"] + [
        channel_line(c, zone) for c in health.channels
    ]


def status_summary(health: AlertHealth, zone: ZoneInfo) -> str:
    """One short value for /status: the backlog, and only the channels in trouble."""
    troubled = [channel_line(c, zone) for c in health.channels if c.state != OK]
    return " · ".join([backlog_line(health, zone), *troubled])


_RECENT: weakref.WeakKeyDictionary[Database, tuple[float, AlertHealth]] = (
    weakref.WeakKeyDictionary()
)
FIELD_FRESH_S = 2.0  # /status shows alert health at most this old: a burst asks the db once


def forget_recent(db: Database) -> None:
    """Read the alert health afresh at the next `/status` (a change the owner just made)."""
    _RECENT.pop(db, None)


def alerts_field(settings: Settings, db: Database, now: datetime) -> Field:
    """The extra row `/status` shows: e.g. `all delivered`, or `3 waiting, oldest from ...`."""
    recent = _RECENT.get(db)
    if recent is not None and time.monotonic() - recent[0] <= FIELD_FRESH_S:
        health = recent[1]
    else:
        health = alert_health(db, configured_channels(settings), now)
        _RECENT[db] = (time.monotonic(), health)
    return Field(_("Alerts"), status_summary(health, settings.zone))


def health_json(health: AlertHealth) -> dict[str, Any]:
    """For the JSON `/health` endpoint."""
    return {
        "backlog": health.backlog,
        "oldest_undelivered": health.oldest.isoformat() if health.oldest else None,
        "channels": {
            c.channel: {
                "state": c.state,
                "until": c.until.isoformat() if c.until else None,
                "reason": c.reason,
            }
            for c in health.channels
        },
    }
