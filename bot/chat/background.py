"""Webhook work done after the platform has its 200: kept, ordered per conversation, drained.

Telegram and LINE want a quick answer and redeliver when it is slow, while a command may wait
seconds on an exchange. So a webhook acknowledges at once and its update runs here, as a task
this module keeps a reference to (a bare `create_task` can be garbage-collected mid-flight).
Updates of one conversation run one after another, in arrival order, so a reply never overtakes
the previous one; different conversations run side by side, at most `max_running` at once. That
cap keeps each turn of the event loop short when updates pour in, so acknowledging the next
webhook never waits behind hundreds of replies being rendered; the rest queue (cheaply) instead.
On shutdown the work in flight gets a few seconds to finish before it is cancelled.
An update's claim (`claimed_first`) is its queued work's first step, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from storage.db import Database
from storage.inbound import claim_update

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[object]]
MAX_IN_FLIGHT = 2_000  # beyond this the webhook answers 503 and the platform retries later
MAX_RUNNING = 16


class BackgroundWork:
    def __init__(self, max_in_flight: int = MAX_IN_FLIGHT, max_running: int = MAX_RUNNING) -> None:
        self.max_in_flight = max_in_flight
        self._running = asyncio.Semaphore(max_running)
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_of: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    @property
    def full(self) -> bool:
        return self._closed or len(self._tasks) >= self.max_in_flight

    def spawn(self, conversation: str, work: Work) -> None:
        """Run `work` after the work already queued for `conversation`."""
        if self._closed:
            raise RuntimeError("the bot is shutting down")
        previous = self._last_of.get(conversation)
        task = asyncio.get_running_loop().create_task(self._after(previous, work, self._running))
        self._tasks.add(task)
        self._last_of[conversation] = task
        task.add_done_callback(lambda done: self._finished(conversation, done))

    @staticmethod
    async def _after(
        previous: asyncio.Task[None] | None, work: Work, running: asyncio.Semaphore
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # its outcome is its own; only the order matters
        async with running:
            await work()

    def _finished(self, conversation: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._last_of.get(conversation) is task:
            del self._last_of[conversation]
        if not task.cancelled() and task.exception() is not None:
            log.error("background work failed", exc_info=task.exception())

    async def drain(self, grace_s: float) -> None:
        """Refuse new work, give the work in flight `grace_s` seconds, cancel what is left."""
        self._closed = True
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("shutdown: cancelled %d chat updates still in flight", len(pending))
            await asyncio.wait(pending, timeout=1.0)


def claimed_first(db: Database, channel: str, key: str, now: datetime, work: Work) -> Work:
    """`work`, done only if `key` is claimed now (a redelivered update does nothing). The claim
    runs in `Database.run` as the queued work's first step: the webhook answers without waiting
    on the database, and the conversation keeps the order its updates came in."""

    async def first_claimed() -> None:
        if await db.run(claim_update, db, channel, key, now):
            await work()

    return first_claimed
