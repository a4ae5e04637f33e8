"""APScheduler wiring: the schedules table becomes cron jobs in the owner's time zone.

Only the leader schedules (see `storage.leader`); a standby checks every few seconds and takes
over when the leader dies. On becoming leader it first reconciles what a crash left open and
runs (or reports) the runs missed while nobody was leading, then starts the jobs. The leader
loop runs supervised (`bot.supervisor`): a failure is reported once and the loop starts over.

Jobs: one per schedule; `settle` every minute (rebuild the jobs when the table changed, look
open orders up again, retry runs, flips and S4 rotations whose time has come); the daily trend
watch and the daily S4 watch (when a schedule uses S4 or S4 executes) just after the daily
candle closes, each tried again every 15 minutes that day when the exchange cannot be read,
reported once; the runway check hourly; the daily summary when `DCABOT_DAILY_SUMMARY` says.
Each job's last success and failure are kept for `/health` (`leader` only while the jobs are
scheduled; a job that has not run when due is degraded).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.engine.accounts import Accounts
from bot.engine.context import Engine
from bot.engine.daily_summary import send_daily_summary
from bot.engine.dca_run import run_schedule
from bot.engine.incidents import report_incident
from bot.engine.look_ahead import check_runway
from bot.engine.reconcile import keep_settling
from bot.engine.s4_watch import s4_in_use, s4_watch
from bot.engine.schedule_spec import ScheduleSpec
from bot.engine.trend_watch import act_on_flips
from bot.exchanges.base import ExchangeError
from bot.heartbeat import Heartbeat
from bot.scheduler_accounts import (
    JobHealth,
    announce,
    jobs_health,
    on_each,
    settle_then_catch_up,
    stray_reason,
)
from storage import schedules
from storage.leader import LeaderLock

log = logging.getLogger(__name__)
STANDBY_POLL_S = 5.0
LEADER_CHECK_S = 15.0
TREND_WATCH = CronTrigger(hour=0, minute=5, timezone=UTC)  # just after the daily candle closes
TREND_RETRY = timedelta(minutes=15)


class DcaScheduler:
    """Schedules every exchange's runs; `accounts` is every engine (or the one engine)."""

    def __init__(self, accounts: Accounts | Engine) -> None:
        self.accounts = accounts if isinstance(accounts, Accounts) else Accounts.of(accounts)
        self.engine = engine = self.accounts.default  # the database, clock and settings
        self.lock = LeaderLock(engine.db)
        self.scheduler = AsyncIOScheduler(timezone=engine.settings.zone)
        self.jobs: dict[str, JobHealth] = {}
        self._fingerprint: tuple[object, ...] = ()
        self._reported: dict[str, str] = {}  # watch -> the UTC day its failure was reported
        self._strays: set[int] = set()  # schedules on an exchange not traded: told once each
        self.heartbeat = Heartbeat(engine.settings.heartbeat_url)
        self._said_goodbye = False
        self._rebuilds: set[asyncio.Task[None]] = set()  # kept, so none is collected mid-way

    @property
    def role(self) -> str:
        """`leader` only while jobs are scheduled; `starting` while a new leader reconciles."""
        if not self.lock.held:
            return "standby"
        return "leader" if self.scheduler.running and self.scheduler.get_jobs() else "starting"

    async def lead(self) -> None:
        """Stand by until this process holds the leader lock, then lead until it is lost (the
        supervisor runs this again after a failure, or after the lock was lost)."""
        announced, db = False, self.engine.db
        while not await db.run(self.lock.try_acquire):
            if not announced:
                log.info("another dcabot process is scheduling on this database: standing by")
                announced = True
            await asyncio.sleep(STANDBY_POLL_S)
        try:
            log.info("scheduler leader: reconciling, then catching up")
            grace = timedelta(hours=self.engine.settings.missed_run_grace_h)
            await settle_then_catch_up(list(self.accounts), grace)
            await self._start_jobs()
            await db.run(announce, self.engine, "bot_started")
            await self._hold_lead()
            log.error("lost the leader lock: stopping the jobs, standing by")
        finally:
            self._stop_jobs()

    async def _hold_lead(self) -> None:
        """Return when the leader lock is lost (its connection died)."""
        while True:
            await asyncio.sleep(LEADER_CHECK_S)
            if not await self.engine.db.run(self.lock.still_held):
                return

    async def _start_jobs(self) -> None:
        await self.rebuild()
        self._add("trend-watch", self._trend_watch, TREND_WATCH, misfire_grace_time=3600)
        self._add("s4-watch", self._s4_watch, TREND_WATCH, misfire_grace_time=3600)
        self._add("settle", self._settle, IntervalTrigger(minutes=1))
        self._add("runway", self._runway, IntervalTrigger(hours=1))
        summary_at = self.engine.settings.daily_summary_at
        if summary_at:
            hour, minute = (int(part) for part in summary_at.split(":"))
            summary = CronTrigger(hour=hour, minute=minute, timezone=self.engine.settings.zone)
            self._add("daily-summary", self._daily_summary, summary, misfire_grace_time=3600)
        if not self.scheduler.running:
            self.scheduler.start()

    def _stop_jobs(self) -> None:
        if self.scheduler.running:
            self.scheduler.remove_all_jobs()
            self.scheduler.shutdown(wait=False)
        self.scheduler = AsyncIOScheduler(timezone=self.engine.settings.zone)

    def _add(self, job_id: str, work: Callable[..., Awaitable[Any]], trigger: Any,
             *args: Any, **options: Any) -> None:
        self.jobs.setdefault(job_id, JobHealth())
        self.scheduler.add_job(
            self._tracked(job_id, work),
            trigger,
            args=list(args),
            id=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            **options,
        )

    def _tracked(self, job_id: str, work: Callable[..., Awaitable[Any]]
                 ) -> Callable[..., Awaitable[None]]:
        async def run(*args: Any) -> None:
            health = self.jobs.setdefault(job_id, JobHealth())
            try:
                await work(*args)
            except Exception as exc:
                health.last_error, health.failed_at = f"{type(exc).__name__}: {exc}"[:300], (
                    self.engine.clock()
                )
                log.error("job %s failed: %s", job_id, health.last_error)
                return
            health.last_ok = self.engine.clock()

        return run

    def _snapshot(self) -> list[tuple[int, str, str, bool, str, int]]:
        with self.engine.db.transaction() as session:
            return [
                (s.id, s.days, s.local_time, s.paused, s.exchange, s.leg_of or s.id)
                for s in schedules.active(session)
            ]

    async def rebuild(self) -> None:
        """Make the jobs match the schedules table."""
        rows = await self.engine.db.run(self._snapshot)
        self._fingerprint = tuple(rows)
        for job in self.scheduler.get_jobs():
            if job.id.startswith("schedule-"):
                job.remove()
        grace = int(self.engine.settings.missed_run_grace_h * 3600)
        for schedule_id, days, local_time, paused, exchange, group in rows:
            if paused:
                continue
            if exchange not in self.accounts.names:
                await self._tell_stray(schedule_id, group, exchange)
                continue
            trigger = ScheduleSpec(days, local_time).trigger(self.engine.settings.zone)
            self._add(
                f"schedule-{schedule_id}",
                self._fire,
                trigger,
                schedule_id,
                days,
                local_time,
                exchange,
                misfire_grace_time=grace,
            )

    async def _tell_stray(self, schedule_id: int, group: int, exchange: str) -> None:
        """A schedule on an exchange this bot does not trade on does not run: said once."""
        if schedule_id in self._strays:
            return
        self._strays.add(schedule_id)
        reason = stray_reason(group, exchange, self.accounts.names)
        log.warning("%s", reason)
        await self.engine.db.run(report_incident, self.engine, "schedules", reason)

    def schedules_changed(self) -> None:
        """A chat command changed the schedules: the jobs follow, in a task of their own (the
        command's answer does not wait), in a context of its own: the jobs must not inherit the
        command's (its reader's language would word the runs' records and alerts)."""
        if self.lock.held and self.scheduler.running:
            task = asyncio.get_running_loop().create_task(self.rebuild(),
                                                          context=contextvars.Context())
            self._rebuilds.add(task)
            task.add_done_callback(self._rebuilds.discard)

    async def _settle(self) -> None:
        if tuple(await self.engine.db.run(self._snapshot)) != self._fingerprint:
            await self.rebuild()
        await self._each("settle", keep_settling)
        await self.heartbeat.ping()  # only after a minute that settled everything

    async def _daily_summary(self) -> None:
        await send_daily_summary(self.accounts)

    async def _runway(self) -> None:  # hourly: a run a day away is told in time
        await check_runway(self.accounts)

    async def _each(self, label: str, work: Callable[[Engine], Awaitable[object]],
                    engines: list[Engine] | None = None) -> list[object]:
        return await on_each(self.accounts if engines is None else engines, label, work)

    async def _fire(self, schedule_id: int, days: str, local_time: str,
                    exchange: str | None = None) -> None:
        engine = self.accounts.engines.get(exchange or self.engine.exchange.name)
        if engine is None:
            return
        spec = ScheduleSpec(days, local_time)
        due = spec.last_due(engine.settings.zone, engine.clock(), timedelta(days=8))
        if due is None:
            return
        result = await run_schedule(engine, schedule_id, due)
        log.info("run %s: %s %s", result.run_key, result.status, result.outcome)

    def _trend_first(self) -> list[Engine]:
        """Every engine, the trend's own exchange first (it tells the owner about a flip)."""
        return sorted(self.accounts, key=lambda e: e.trend_source is not None)

    async def _trend_watch(self) -> None:
        """After the daily close: act on a CDC flip (kept by its candle, so a retry is safe),
        on every exchange, from the one trend source."""

        async def flips(_: Engine) -> object:
            return await self._each("trend watch", act_on_flips, self._trend_first())

        await self._daily("trend-watch", "trend watch", flips, self._trend_watch)

    async def _s4_watch(self) -> None:
        """After the daily close, on each exchange where a schedule uses S4 or S4 executes:
        decide a rotation."""
        using = [engine for engine in self.accounts
                 if await engine.db.run(s4_in_use, engine)]
        if not using:
            return

        async def decide(_: Engine) -> object:
            return await self._each("S4 watch", s4_watch, using)

        await self._daily("s4-watch", "S4 watch", decide, self._s4_watch)

    async def _daily(self, job_id: str, label: str,
                     work: Callable[[Engine], Awaitable[object]],
                     again: Callable[[], Awaitable[None]]) -> None:
        """Run a daily watch; when the candles cannot be read, try again in 15 minutes and
        say so once that day (the failure also shows on the job in `/health`)."""
        try:
            log.info("%s: %s", label, await work(self.engine))
        except (ExchangeError, LookupError) as exc:
            day = f"{self.engine.clock():%Y-%m-%d}"
            if self._reported.get(job_id) != day:
                self._reported[job_id] = day
                why = f"could not read the daily candles ({exc}); trying again every 15 minutes"
                await self.engine.db.run(report_incident, self.engine, label, why)
            retry_at = self.engine.clock() + TREND_RETRY
            self._add(f"{job_id}-retry", again, DateTrigger(run_date=retry_at))
            raise

    def health(self) -> dict[str, Any]:
        """What `/health` shows: the role, and each job's last success, failure and next run."""
        running = self.scheduler.get_jobs() if self.scheduler.running else []
        return jobs_health(self.role, running, self.jobs, self.engine.clock())

    async def farewell(self) -> None:
        """Tell the owner the leader is shutting down (before the alert dispatcher stops)."""
        if self.lock.held and not self._said_goodbye:
            self._said_goodbye = True
            await self.engine.db.run(announce, self.engine, "bot_stopped")

    async def stop(self) -> None:
        await self.farewell()
        self._stop_jobs()
        for task in list(self._rebuilds):
            task.cancel()
        await self.engine.db.run(self.lock.release)
