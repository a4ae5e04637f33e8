"""Supervised background work: a long-lived task that fails is logged, reported once, and
restarted with backoff; `/health` reads what each one is doing.

Every long-lived task of a process (the scheduler's leader loop, the alert dispatcher, the
pruning of old update claims) runs under one `Supervisor`. A task that raises is logged in one
line (with the traceback only under `--debug`), an urgent alert says so once per incident (not
once per restart), and it starts again after 1 s, 2 s, 4 s ... up to five minutes. A task that
then runs for a minute without failing ends the incident. A task that returns is restarted too
(background work is meant to run until the process stops), unless its `stop` event was set: that
is how a task asked to finish its work in flight ends cleanly (`finish`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Work = Callable[[], Awaitable[None]]
Report = Callable[[str, str], Awaitable[None]]  # (task name, what went wrong): writes the alert
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 300.0
HEALTHY_AFTER = timedelta(minutes=1)


@dataclass
class TaskState:
    """What `/health` shows of one supervised task."""

    name: str
    state: str = "starting"  # running, restarting, stopped
    started_at: datetime | None = None
    restarts: int = 0
    last_error: str | None = None
    failed_at: datetime | None = None
    in_incident: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, object]:
        return {
            "state": self.state,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "failed_at": self.failed_at.isoformat() if self.failed_at else None,
        }


class Supervisor:
    def __init__(
        self,
        clock: Clock,
        report: Report,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        debug: bool = False,
    ) -> None:
        self.clock = clock
        self.report = report
        self.sleep = sleep
        self.debug = debug
        self.tasks: dict[str, TaskState] = {}

    def start(self, name: str, work: Work, stop: asyncio.Event | None = None) -> TaskState:
        state = TaskState(name)
        self.tasks[name] = state
        keep = self._keep(state, work, stop)
        state.task = asyncio.get_running_loop().create_task(keep, name=name)
        return state

    async def _keep(self, state: TaskState, work: Work, stop: asyncio.Event | None) -> None:
        backoff = FIRST_BACKOFF_S
        while True:
            state.state, state.started_at = "running", self.clock()
            try:
                await work()
                if stop is not None and stop.is_set():
                    state.state = "stopped"
                    return
                raise RuntimeError("stopped on its own")
            except asyncio.CancelledError:
                state.state = "stopped"
                raise
            except Exception as exc:
                backoff = await self._failed(state, exc, backoff)
            state.state = "restarting"
            await self.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _failed(self, state: TaskState, exc: Exception, backoff: float) -> float:
        now = self.clock()
        ran_for = now - state.started_at if state.started_at else timedelta(0)
        if ran_for >= HEALTHY_AFTER:  # it had recovered: a new incident
            state.in_incident, backoff = False, FIRST_BACKOFF_S
        reason = f"{type(exc).__name__}: {exc}"[:300]
        state.last_error, state.failed_at = reason, now
        state.restarts += 1
        log.error(
            "background task %s failed (%s); restarting in %.0f s",
            state.name,
            reason,
            backoff,
            exc_info=exc if self.debug else None,
        )
        if not state.in_incident:
            state.in_incident = True
            try:
                await self.report(state.name, reason)
            except Exception as report_exc:  # the database may be what failed
                log.error("could not record the failure of %s: %s", state.name, report_exc)
        return backoff

    async def finish(self, name: str, timeout_s: float) -> None:
        """Wait for a task whose stop event was set to end, cancelling it after `timeout_s`."""
        state = self.tasks.get(name)
        if state is None or state.task is None:
            return
        done, _ = await asyncio.wait({state.task}, timeout=timeout_s)
        if not done:
            state.task.cancel()

    def health(self) -> dict[str, dict[str, object]]:
        return {name: state.as_json() for name, state in self.tasks.items()}

    async def stop(self) -> None:
        for state in self.tasks.values():
            if state.task is not None:
                state.task.cancel()
        for state in self.tasks.values():
            if state.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await state.task
