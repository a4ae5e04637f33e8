"""Delivering one claimed alert to one person: the fallback rules across their channels.

Channels are tried in the person's order of preference:

* exhausted (LINE's monthly quota), down, unavailable (5xx, timeout, blocked by the user) or
  refused: the next channel is tried at once;
* rate-limited: an urgent alert (fills, flips, errors) goes to the next channel at once; any
  other waits for the channel that asked it to wait;
* when no channel took it, the alert waits, with exponential backoff, until one might; an alert
  refused by every channel (a message no channel will ever take) is given up as `failed`.

A muted kind is not sent; fills and errors cannot be muted below silent (sent without a sound).
An alert delivered late says when it happened.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.cards import format as fmt
from bot.cards.alerts import alert_card
from bot.cards.reply import Reply
from bot.i18n import _
from bot.notify.alert_kinds import KINDS
from bot.notify.channel_state import RATE_LIMITED, ChannelBoard
from bot.notify.outcomes import AlertMessage, Outcome, Sender
from bot.notify.routes import Person
from storage import outbox
from storage.alert_prefs import MUTED

RETRY_KEYS = uuid.UUID("6f1d2c3e-8a4b-5c6d-9e0f-0a1b2c3d4e5f")
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class ClaimedAlert:
    id: int
    person: str
    kind: str
    payload: Mapping[str, Any]
    urgent: bool
    created_at: datetime
    attempts: int
    deadline: datetime  # don't start a send after this: the lease might be someone else's by then


@dataclass(frozen=True, slots=True)
class Verdict:
    """What became of the alert (written as a `storage.outbox.Settlement`)."""

    status: str
    channel: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None


def retry_key(alert_id: int, created_at: datetime) -> str:
    """The row's LINE retry key: the same for every attempt at this row, and (because the time
    is part of it) not the same as a row with this id in another database."""
    return str(uuid.uuid5(RETRY_KEYS, f"alert_outbox:{alert_id}:{created_at.isoformat()}"))


@dataclass(frozen=True, slots=True)
class Backoff:
    first: float = 2.0
    most: float = 600.0

    def after(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.most, self.first * 2 ** max(0, attempts - 1)))


class Delivery:
    def __init__(
        self,
        senders: Mapping[str, Sender],
        board: ChannelBoard,
        *,
        zone: ZoneInfo,
        clock: Clock,
        backoff: Backoff,
        late_after: timedelta = timedelta(minutes=2),
    ) -> None:
        self._senders = senders
        self._board = board
        self._zone = zone
        self._clock = clock
        self._backoff = backoff
        self._late_after = late_after

    def card(self, alert: ClaimedAlert, now: datetime) -> Reply:
        reply = alert_card(alert.kind, alert.payload, self._zone)
        late = now - alert.created_at
        if late < self._late_after:
            return reply
        note = _("Happened {time} ({ago} ago)").format(
            time=fmt.local_time(alert.created_at, self._zone), ago=_ago(late))
        return dataclasses.replace(reply, footer=" · ".join(p for p in (note, reply.footer) if p))

    async def deliver(
        self, alert: ClaimedAlert, person: Person | None, mute: str | None
    ) -> Verdict:
        if person is None:
            return Verdict(outbox.FAILED, error=f"{alert.person} is no longer in the alert routes")
        kind = KINDS.get(alert.kind)
        if mute == MUTED and not (kind is not None and kind.floor_silent):
            return Verdict(outbox.MUTED)
        now = self._clock()
        message = AlertMessage(
            self.card(alert, now), mute is not None, retry_key(alert.id, alert.created_at)
        )
        errors: list[str] = []
        ready_at: list[datetime] = []
        hopeful = False  # some channel might take it later
        for route in person.routes:
            sender = self._senders.get(route.channel)
            if sender is None:
                errors.append(f"{route.channel}: not configured")
                continue
            blocked = self._board.blocked(route.channel, now)
            if blocked is not None and blocked.until is not None:
                hopeful = True
                errors.append(f"{route.channel}: {blocked.state} until {blocked.until:%H:%M:%S}Z")
                ready_at.append(blocked.until)
                if blocked.state == RATE_LIMITED and not alert.urgent:
                    return self._wait(errors, blocked.until)
                continue
            if self._clock() > alert.deadline:
                return self._wait([*errors, "claim expired before sending"], now)
            result = await sender.send(route, message)
            now = self._clock()
            self._board.note(route.channel, result, now)
            if result.delivered:
                return Verdict(outbox.DELIVERED, route.channel, "; ".join(errors) or None)
            errors.append(f"{route.channel}: {result.outcome.value}: {result.detail}")
            if result.outcome is Outcome.REFUSED:
                continue
            hopeful = True
            if result.outcome is Outcome.RATE_LIMITED:
                until = now + timedelta(seconds=result.retry_in or 1.0)
                ready_at.append(until)
                if not alert.urgent:
                    return self._wait(errors, until)
            blocked = self._board.blocked(route.channel, now)
            if blocked is not None and blocked.until is not None:
                ready_at.append(blocked.until)
        if not hopeful:
            return Verdict(outbox.FAILED, error="; ".join(errors) or "no channel")
        soonest = min(ready_at, default=now)
        return self._wait(errors, max(now + self._backoff.after(alert.attempts), soonest))

    @staticmethod
    def _wait(errors: list[str], until: datetime) -> Verdict:
        return Verdict(outbox.PENDING, error="; ".join(errors), next_attempt_at=until)


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return _("{minutes} min").format(minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    return _("{days} days").format(days=hours // 24)
