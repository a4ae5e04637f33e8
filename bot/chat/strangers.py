"""Strangers: anyone on neither DCABOT_ADMINS nor DCABOT_VIEWERS.

A stranger gets one short refusal that shows their id (so the owner can allow them), at most once
an hour per id, and nothing else: no command runs and nothing about the bot or its owner is said.
Refusals are also paced for all strangers together (`budget` a minute, then silence), so no number
of new ids can keep the bot busy sending refusals while its owner waits for an answer; channels
ask `admit` before they spend anything on a stranger's update (no database claim, no task).

Two gates, both must open: this process's (in memory, so a flood costs no database work) and the
one every web worker shares (`storage.strangers`), so a stranger hears the refusal once an hour
however many workers their updates reach.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.cards.reply import Reply, Tone
from bot.chat.roles import User
from bot.i18n import _
from storage import strangers as shared
from storage.db import Database

Clock = Callable[[], datetime]
REFUSAL_INTERVAL = timedelta(hours=1)
REFUSALS_PER_MINUTE = 20
MAX_REMEMBERED = 10_000  # a flood of ids cannot grow the memory without bound
MINUTE = timedelta(minutes=1)


def refusal_reply(user: User) -> Reply:
    """The refusal, in the language the caller speaks (`Inbound`: the default language)."""
    return Reply(
        kind="text",
        title=_("Private bot"),
        lines=(
            _("This bot answers only the people its owner allows. Your id is {id}").format(
                id=user.key),
            _("To be allowed, send that id to the owner."),
        ),
        tone=Tone.WARNING,
    )


class StrangerGate:
    """Decides whether a stranger hears the refusal now, or nothing."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        interval: timedelta = REFUSAL_INTERVAL,
        budget: int = REFUSALS_PER_MINUTE,
    ) -> None:
        self.db = db
        self.clock = clock
        self.interval = interval
        self.budget = budget
        self.refused = 0  # refusals handed out by this process, for /health and the tests
        self._refused_at: dict[str, datetime] = {}  # oldest first
        self._recent: deque[datetime] = deque()  # refusals of the last minute, all strangers

    async def refusal(self, user: User) -> Reply | None:
        """The refusal to send `user`, or None when they had it within the interval or the
        minute's budget for all strangers is spent (in this process, or among all workers)."""
        return await self.shared_refusal(user) if self.admit(user) else None

    async def shared_refusal(self, user: User) -> Reply | None:
        """The refusal when no worker gave `user` one within the interval and the workers'
        minute budget is not spent; the second gate, for an update `admit` let through."""
        claimed = await self.db.run(
            shared.claim_refusal, self.db, user.key, self.clock(), self.interval, self.budget
        )
        if not claimed:
            return None
        self.refused += 1
        return refusal_reply(user)

    def forget_old(self) -> int:
        """Drop shared refusals older than the interval (blocking: run it in the pool)."""
        return shared.forget_refused_before(self.db, self.clock() - self.interval)

    def admit(self, user: User) -> bool:
        """This process's gate, in memory: False when it refused `user` within the interval or
        spent the minute's budget; True records a refusal as about to be decided."""
        now = self.clock()
        last = self._refused_at.get(user.key)
        if last is not None and now - last < self.interval:
            return False
        while self._recent and now - self._recent[0] >= MINUTE:
            self._recent.popleft()
        if len(self._recent) >= self.budget:
            return False
        self._recent.append(now)
        self._remember(user.key, now)
        return True

    def _remember(self, key: str, now: datetime) -> None:
        self._refused_at.pop(key, None)
        self._refused_at[key] = now
        if len(self._refused_at) <= MAX_REMEMBERED:
            return
        recent = {k: t for k, t in self._refused_at.items() if now - t < self.interval}
        if len(recent) > MAX_REMEMBERED:  # a flood within the hour: keep the newest half
            recent = dict(list(recent.items())[-(MAX_REMEMBERED // 2) :])
        self._refused_at = recent
