"""APScheduler wiring: the schedules table becomes cron jobs in the owner's time zone.

Only the leader schedules (see `storage.leader`); a standby checks every few seconds and takes
over when the leader dies. On becoming leader it first reconciles what a crash left open and
runs (or reports) the runs missed while nobody was leading, then starts the jobs. The job list
is rebuilt from the table at start, when a chat command changes it, and every minute (so a
change made by another process is picked up).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.engine.context import Engine
from bot.engine.dca_run import catch_up, run_schedule
from bot.engine.reconcile import reconcile
from bot.engine.s4_watch import s4_watch
from bot.engine.schedule_spec import ScheduleSpec
from bot.engine.trend_watch import act_on_flips
from storage import schedules
from storage.leader import LeaderLock

log = logging.getLogger(__name__)
STANDBY_POLL_S = 5.0
TREND_WATCH = CronTrigger(hour=0, minute=5, timezone=UTC)  # just after the daily candle closes


class DcaScheduler:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = LeaderLock(engine.db)
        self.scheduler = AsyncIOScheduler(timezone=engine.settings.zone)
        self._fingerprint: tuple[object, ...] = ()
        self._task: asyncio.Task[None] | None = None

    @property
    def role(self) -> str:
        return "leader" if self.lock.held else "standby"

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._lead_when_possible())

    async def _lead_when_possible(self) -> None:
        announced = False
        while not self.lock.try_acquire():
            if not announced:
                log.info("another dcabot process is scheduling on this database: standing by")
                announced = True
            await asyncio.sleep(STANDBY_POLL_S)
        log.info("scheduler leader: reconciling, then catching up")
        settled = await reconcile(self.engine)
        log.info("reconciled: %s", settled)
        grace = timedelta(hours=self.engine.settings.missed_run_grace_h)
        for result in await catch_up(self.engine, grace):
            log.info("catch-up %s: %s %s", result.run_key, result.status, result.outcome)
        self.rebuild()
        self.scheduler.add_job(
            act_on_flips,
            TREND_WATCH,
            args=[self.engine],
            id="trend-watch",
            coalesce=True,
            misfire_grace_time=3600,
            max_instances=1,
        )
        self.scheduler.add_job(
            self._sync, IntervalTrigger(minutes=1), id="sync", coalesce=True, max_instances=1
        )
        self.scheduler.start()

    def _snapshot(self) -> list[tuple[int, str, str, bool]]:
        with self.engine.db.transaction() as session:
            return [(s.id, s.days, s.local_time, s.paused) for s in schedules.active(session)]

    def rebuild(self) -> None:
        """Make the jobs match the schedules table."""
        rows = self._snapshot()
        self._fingerprint = tuple(rows)
        for job in self.scheduler.get_jobs():
            if job.id.startswith("schedule-"):
                job.remove()
        grace = int(self.engine.settings.missed_run_grace_h * 3600)
        for schedule_id, days, local_time, paused in rows:
            if paused:
                continue
            trigger = ScheduleSpec(days, local_time).trigger(self.engine.settings.zone)
            self.scheduler.add_job(
                self._fire,
                trigger,
                args=[schedule_id, days, local_time],
                id=f"schedule-{schedule_id}",
                coalesce=True,
                misfire_grace_time=grace,
                max_instances=1,
            )

    def schedules_changed(self) -> None:
        if self.lock.held:
            self.rebuild()

    async def _sync(self) -> None:
        if not self.lock.still_held():
            log.error("lost the leader lock: stopping the scheduler, standing by")
            self.scheduler.remove_all_jobs()
            self.scheduler.shutdown(wait=False)
            self.scheduler = AsyncIOScheduler(timezone=self.engine.settings.zone)
            self.start()
            return
        if tuple(self._snapshot()) != self._fingerprint:
            self.rebuild()

    async def _fire(self, schedule_id: int, days: str, local_time: str) -> None:
        spec = ScheduleSpec(days, local_time)
        due = spec.last_due(self.engine.settings.zone, self.engine.clock(), timedelta(days=8))
        if due is None:
            return
        result = await run_schedule(self.engine, schedule_id, due)
        log.info("run %s: %s %s", result.run_key, result.status, result.outcome)

    async def _daily_watch(self) -> None:
        """After the daily close: act on a CDC flip; decide S4 if any schedule uses it."""
        log.info("trend watch: %s", await act_on_flips(self.engine))
        with self.engine.db.transaction() as session:
            uses_s4 = any(s.mode == "s4" for s in schedules.active(session))
        if uses_s4:
            log.info("S4 watch: %s", await s4_watch(self.engine))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.lock.release()
