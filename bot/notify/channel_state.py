"""Each channel's state as the dispatchers know it: ok, rate-limited, exhausted or down, until
when. Kept in memory for the delivery decisions and written through to the database, so that
other dispatchers skip a channel one of them found exhausted, and `/health` can show it.

* `exhausted`: LINE's monthly quota is used up, until it resets (`next_quota_reset`).
* `rate_limited`: the whole channel was told to wait (a chat's own 429 stays in its sender).
* `down`: `down_after` calls in a row failed with 5xx, timeouts or network errors; the channel is
  skipped for `down_for`, then tried again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.notify.outcomes import Outcome, SendResult
from storage import alert_prefs
from storage.db import Database

OK, RATE_LIMITED, EXHAUSTED, DOWN = "ok", "rate_limited", "exhausted", "down"
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class ChannelState:
    channel: str
    state: str
    until: datetime | None = None
    reason: str = ""

    def blocks(self, now: datetime) -> bool:
        return self.state != OK and self.until is not None and self.until > now


def next_quota_reset(now: datetime, zone: ZoneInfo, day: int) -> datetime:
    """The next `day` of a month, 00:00 in the owner's zone, after `now` (as UTC)."""
    local = now.astimezone(zone)
    reset = local.replace(day=day, hour=0, minute=0, second=0, microsecond=0)
    if reset <= local:
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        reset = reset.replace(year=year, month=month)
    return reset.astimezone(UTC)


class ChannelBoard:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        quota_reset: Callable[[datetime], datetime],
        down_after: int = 3,
        down_for: timedelta = timedelta(seconds=30),
    ) -> None:
        self._db = db
        self._clock = clock
        self._quota_reset = quota_reset
        self._down_after = down_after
        self._down_for = down_for
        self._states: dict[str, ChannelState] = {}
        self._failures: dict[str, int] = {}
        self._changed: dict[str, ChannelState] = {}

    def blocked(self, channel: str, now: datetime) -> ChannelState | None:
        state = self._states.get(channel)
        return state if state is not None and state.blocks(now) else None

    def note(self, channel: str, result: SendResult, now: datetime) -> None:
        """Learn from one send's result."""
        if result.delivered:
            self._failures[channel] = 0
            if self._states.get(channel, ChannelState(channel, OK)).state != OK:
                self._set(ChannelState(channel, OK))
        elif result.outcome is Outcome.EXHAUSTED:
            self._set(ChannelState(channel, EXHAUSTED, self._quota_reset(now), result.detail))
        elif result.outcome is Outcome.RATE_LIMITED and result.channel_wide:
            until = now + timedelta(seconds=result.retry_in or 1.0)
            self._set(ChannelState(channel, RATE_LIMITED, until, result.detail))
        elif result.outcome is Outcome.UNAVAILABLE and result.channel_wide:
            self._failures[channel] = failures = self._failures.get(channel, 0) + 1
            if failures >= self._down_after:
                self._set(ChannelState(channel, DOWN, now + self._down_for, result.detail))

    def _set(self, state: ChannelState) -> None:
        self._states[state.channel] = state
        self._changed[state.channel] = state

    async def sync(self) -> None:
        """Write what this dispatcher learnt; read what the others did."""
        changed, self._changed = self._changed, {}
        states = await self._db.run(self._sync, list(changed.values()))
        for state in states:
            if state.channel not in self._changed:
                self._states[state.channel] = state

    def _sync(self, changed: list[ChannelState]) -> list[ChannelState]:
        now = self._clock()
        with self._db.transaction() as session:
            for state in changed:
                alert_prefs.save_channel_state(
                    session,
                    state.channel,
                    state=state.state,
                    until=state.until,
                    reason=state.reason,
                    now=now,
                )
            return [
                ChannelState(row.channel, row.state, row.until, row.reason)
                for row in alert_prefs.channel_states(session)
            ]
