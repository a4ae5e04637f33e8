"""The scheduler's work across exchanges (each exchange's engine in turn, one failing never
keeping the others from theirs), what to say about a schedule on an exchange not traded, and
how the jobs are doing for `/health`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.engine.context import Engine
from bot.engine.incidents import report_incident
from bot.engine.missed_runs import catch_up
from bot.engine.reconcile import reconcile

log = logging.getLogger(__name__)


async def on_each(engines: Iterable[Engine], label: str,
                  work: Callable[[Engine], Awaitable[object]]) -> list[object]:
    """`work` on every engine; the first failure is raised once all had their turn."""
    done: list[object] = []
    failure: Exception | None = None
    for engine in engines:
        try:
            done.append(await work(engine))
        except Exception as exc:
            log.error("%s on %s failed: %s", label, engine.exchange.name, exc)
            failure = failure or exc
    if failure is not None:
        raise failure
    return done


async def settle_then_catch_up(engines: list[Engine], grace: timedelta) -> None:
    """A new leader's first work: every exchange reconciled, then every exchange's missed runs
    run or reported. An exchange that fails is reported and the others (and the jobs, started
    next) go on: its runs are retried by the minute's settling like any other."""

    async def settle(engine: Engine) -> object:
        done = await reconcile(engine)
        log.info("open orders on %s looked up: %d recorded, %d never placed, %d unknown, %d "
                 "may still land", engine.exchange.name, done.recorded, done.failed,
                 done.unknown, done.waiting)
        return None

    async def missed(engine: Engine) -> object:
        for result in await catch_up(engine, grace):
            log.info("catch-up %s: %s %s", result.run_key, result.status, result.outcome)
        return None

    for label, work in (("reconcile", settle), ("catch-up", missed)):
        for engine in engines:
            try:
                await work(engine)
            except Exception as exc:
                log.error("%s on %s failed: %s", label, engine.exchange.name, exc)
                what = f"{label} ({engine.exchange.name})"
                await engine.db.run(report_incident, engine, what, str(exc)[:300])


def announce(engine: Engine, kind: str) -> None:
    """`bot_started` when a process takes the lead (a start, or a failover), `bot_stopped` when
    the leader is shut down on purpose: the owner knows the bot is alive, or why it is quiet."""
    from bot import __version__
    from storage import outbox

    try:
        with engine.db.transaction() as session:
            outbox.enqueue(session, kind=kind, now=engine.clock(), payload={
                "version": __version__, "trading_on": engine.settings.exchanges_text,
                "trading_accounts": [[name, engine.settings.mode_for(name).value]  # card words it
                             for name in engine.settings.exchanges]})
    except Exception as exc:  # the database going away must not stop a shutdown
        log.warning("could not record %s: %s", kind, type(exc).__name__)


def stray_reason(group: int, exchange: str, listed: tuple[str, ...]) -> str:
    return (
        f"schedule #{group} buys on {exchange}, which this bot does not trade on "
        f"(DCABOT_EXCHANGES={','.join(listed)}): that part will not run until {exchange} is "
        f"listed there; /schedule remove {group} {exchange} removes it (and only it)"
    )


OVERDUE = timedelta(minutes=2)


@dataclass
class JobHealth:
    last_ok: datetime | None = None
    last_error: str | None = None
    failed_at: datetime | None = None


def jobs_health(role: str, running: Sequence[Any], jobs: dict[str, JobHealth],
                now: datetime) -> dict[str, Any]:
    """Each scheduled job's next run, last success and failure; degraded when one is overdue
    or the minute's settling stopped succeeding."""
    report: dict[str, Any] = {}
    degraded = False
    for job in running:
        state = jobs.get(job.id, JobHealth())
        next_run = job.next_run_time
        overdue = next_run is not None and next_run < now - OVERDUE
        degraded = degraded or overdue
        report[job.id] = {
            "next_run": next_run.isoformat() if next_run else None,
            "last_ok": state.last_ok.isoformat() if state.last_ok else None,
            "last_error": state.last_error,
            "overdue": overdue,
        }
    settle = jobs.get("settle")
    if role == "leader" and settle is not None and settle.last_ok is not None:
        degraded = degraded or now - settle.last_ok > OVERDUE + timedelta(minutes=1)
    return {"role": role, "degraded": degraded, "jobs": report}
