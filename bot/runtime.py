"""`dcabot run`'s parts in one event loop: the engines, the scheduler (leader or standby), the
alert dispatcher, built once and closed in order (`running_bot`); the terminal chat. The web
app (`bot/app.py`) builds its runtime here; `bot/serve.py` puts the app on uvicorn."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from bot.chat.commands import build_registry
from bot.chat.confirmations import ConfirmationBook
from bot.chat.registry import ChatServices
from bot.chat.terminal import run_terminal
from bot.config import Settings
from bot.engine.context import Clock, system_clock
from bot.engine.exchange_keys import warn_about_key_location
from bot.engine.incidents import report_incident
from bot.engine.setup import open_accounts_from_loop
from bot.notify.service import run_dispatcher
from bot.running import Runtime
from bot.scheduler import DcaScheduler
from bot.supervisor import Supervisor

log = logging.getLogger(__name__)
ALERTS_DRAIN_S = 15.0


@asynccontextmanager
async def running_bot(
    settings: Settings,
    *,
    schedule: bool = True,
    clock: Clock = system_clock,
    dispatch: bool = True,
    debug: bool = False,
) -> AsyncIterator[Runtime]:
    """Build everything once; close everything on the way out.

    `dispatch` runs the alert dispatcher beside the engine (safe in every process: outbox rows
    are claimed under a lease); tests of other parts turn it off to keep their chats quiet.
    """
    warn_about_key_location(settings)
    accounts = await open_accounts_from_loop(settings, clock=clock)
    engine = accounts.default
    supervisor = Supervisor(
        engine.clock,
        lambda task, reason: engine.db.run(report_incident, engine, task, reason),
        debug=debug,
    )
    scheduler = DcaScheduler(accounts) if schedule else None
    services = ChatServices(
        engine,
        ConfirmationBook(engine.db, timedelta(seconds=settings.confirm_ttl_s), engine.clock),
        accounts=accounts,
    )
    if scheduler is not None:
        services.schedules_changed = scheduler.schedules_changed
        supervisor.start("scheduler", scheduler.lead)
    alerts_stop = asyncio.Event()
    if dispatch:
        supervisor.start(
            "alerts", lambda: run_dispatcher(settings, engine.db, alerts_stop), stop=alerts_stop
        )
    try:
        yield Runtime(build_registry(), services, scheduler, supervisor)
    finally:
        if scheduler is not None:
            await scheduler.farewell()  # written while the dispatcher still runs: it goes out
        alerts_stop.set()
        await supervisor.finish("alerts", ALERTS_DRAIN_S)  # sends in flight finish first
        await supervisor.stop()
        if scheduler is not None:
            await scheduler.stop()
        await accounts.close()
        engine.db.dispose()


async def serve_terminal(settings: Settings, *, schedule: bool, greet: bool) -> None:
    """`dcabot run` without tokens (`schedule`: scheduler and alert delivery) or `dcabot chat`
    (a chat client only: its alerts wait in the outbox for `dcabot run` to deliver)."""
    async with running_bot(settings, schedule=schedule, dispatch=schedule) as runtime:
        await run_terminal(
            runtime.registry, runtime.services, first_command="/status" if greet else None
        )
