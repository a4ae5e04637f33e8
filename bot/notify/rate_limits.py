"""Pacing sends below the chat platforms' limits, so that 429s are rare rather than routine.

* A channel's overall rate is an `aiolimiter.AsyncLimiter` set a little under the platform's
  limit (the platform counts arrivals, and arrivals bunch up), with a burst of at most 20 ms
  worth of sends: enough to make up for a busy event loop waking a waiter late, too little to
  exceed the limit in any one-second window.
* A chat's rate is counted from the *answer* to the previous message to that chat, not from when
  it was sent: the platform has counted that message by the time it answers, so the next one can
  never arrive early however the network jitters. One message per chat is in flight at a time.

Both can be paused by a 429's `retry_after`, each for only what the 429 was about.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiolimiter import AsyncLimiter

HEADROOM = 0.95  # pace overall sends at 95% of the platform's limit
BURST_S = 0.02


class ChannelPacer:
    """The overall rate of one channel, with a pause the whole channel obeys."""

    def __init__(self, per_second: float, *, headroom: float = HEADROOM) -> None:
        if per_second <= 0:
            raise ValueError("a channel's rate must be positive")
        self.per_second = per_second
        paced = per_second * headroom
        burst = max(1, int(paced * BURST_S))
        self._limiter = AsyncLimiter(burst, burst / paced)
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def paused_for(self) -> float:
        """Seconds left of a pause (0 when not paused)."""
        return max(0.0, self._paused_until - time.monotonic())

    async def acquire(self) -> None:
        while (wait := self.paused_for()) > 0:  # noqa: ASYNC110 - a 429 may extend the pause
            await asyncio.sleep(wait)
        await self._limiter.acquire()


class ChatPacer:
    """At most one message per `interval_of(chat)` seconds to each chat, counted from answers."""

    def __init__(self, interval_of: Callable[[str], float]) -> None:
        self._interval_of = interval_of
        self._next: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def pause(self, chat: str, seconds: float) -> None:
        self._next[chat] = max(self._next.get(chat, 0.0), time.monotonic() + seconds)

    def paused_for(self, chat: str) -> float:
        """Seconds until `chat` may get its next message (0 when it may now)."""
        return max(0.0, self._next.get(chat, 0.0) - time.monotonic())

    @asynccontextmanager
    async def turn(self, chat: str) -> AsyncIterator[None]:
        """Wait for the chat's turn; the next turn starts `interval` after this one ends."""
        lock = self._locks.setdefault(chat, asyncio.Lock())
        async with lock:
            while (wait := self.paused_for(chat)) > 0:  # noqa: ASYNC110 - as above
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                self.pause(chat, self._interval_of(chat))
