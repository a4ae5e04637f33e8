"""Strangers: anyone on neither DCABOT_ADMINS nor DCABOT_VIEWERS.

A stranger gets one short refusal that shows their id (so the owner can allow them), at most once
an hour per id, and nothing else: no command runs and nothing about the bot or its owner is said.
The hour is counted by each process; with several web workers a stranger may hear the refusal
once from each, which is still a handful per hour.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.chat.replies import Reply, Tone
from bot.chat.roles import User

Clock = Callable[[], datetime]
REFUSAL_INTERVAL = timedelta(hours=1)
MAX_REMEMBERED = 10_000  # a flood of ids cannot grow the memory without bound


def refusal_reply(user: User) -> Reply:
    return Reply(
        kind="text",
        title="Private bot",
        lines=(
            f"This bot answers only the people its owner allows. Your id is {user.key}",
            "To be allowed, send that id to the owner.",
        ),
        tone=Tone.WARNING,
    )


class StrangerGate:
    """Decides whether a stranger hears the refusal now or has heard it recently."""

    def __init__(self, clock: Clock, interval: timedelta = REFUSAL_INTERVAL) -> None:
        self.clock = clock
        self.interval = interval
        self._refused_at: dict[str, datetime] = {}  # oldest first

    def refusal(self, user: User) -> Reply | None:
        """The refusal to send `user`, or None when they had it within the interval."""
        now = self.clock()
        last = self._refused_at.get(user.key)
        if last is not None and now - last < self.interval:
            return None
        self._remember(user.key, now)
        return refusal_reply(user)

    def _remember(self, key: str, now: datetime) -> None:
        self._refused_at.pop(key, None)
        self._refused_at[key] = now
        if len(self._refused_at) <= MAX_REMEMBERED:
            return
        recent = {k: t for k, t in self._refused_at.items() if now - t < self.interval}
        if len(recent) > MAX_REMEMBERED:  # a flood within the hour: keep the newest half
            recent = dict(list(recent.items())[-(MAX_REMEMBERED // 2) :])
        self._refused_at = recent
