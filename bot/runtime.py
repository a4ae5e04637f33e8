"""`dcabot run`: the engine, the scheduler (leader or standby) and the chat channels, in one
event loop. Without chat tokens the terminal is the chat."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from bot.chat.commands import build_registry
from bot.chat.confirmations import ConfirmationBook
from bot.chat.registry import ChatServices, Registry
from bot.chat.terminal import run_terminal
from bot.config import Settings
from bot.engine.context import Clock, system_clock
from bot.engine.exchange_keys import warn_about_key_location
from bot.engine.incidents import report_incident
from bot.engine.setup import open_accounts
from bot.notify.service import run_dispatcher
from bot.scheduler import DcaScheduler
from bot.supervisor import Supervisor

log = logging.getLogger(__name__)
ALERTS_DRAIN_S = 15.0


@dataclass
class Runtime:
    registry: Registry
    services: ChatServices
    scheduler: DcaScheduler | None
    supervisor: Supervisor


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
    accounts = open_accounts(settings, clock=clock)
    engine = accounts.default
    supervisor = Supervisor(
        engine.clock, lambda task, reason: report_incident(engine, task, reason), debug=debug
    )
    scheduler = DcaScheduler(accounts) if schedule else None
    services = ChatServices(
        engine,
        ConfirmationBook(timedelta(seconds=settings.confirm_ttl_s), engine.clock),
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
            scheduler.farewell()  # written while the dispatcher still runs: it goes out now
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


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


async def serve_web(
    settings: Settings, *, host: str, port: int, schedule: bool, polling: bool = False
) -> None:
    """The webhook app on uvicorn (with the scheduler when `schedule`), until SIGINT/SIGTERM."""
    import uvicorn

    from bot.app import create_app
    from bot.chat.channels import check_chat_settings
    from bot.engine.errors import UserError

    check_chat_settings(settings)
    app = create_app(settings, schedule=schedule, polling=polling)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # the root logger `dcabot` configured
        access_log=False,
        server_header=False,
        proxy_headers=True,
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises SIGTERM once it has shut down gracefully; make that a clean exit
    signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        await server.serve()
    except SystemExit as exc:
        if exc.code == 0:
            raise
        raise UserError(
            f"the web app did not start on {host}:{port}; the log above says why"
        ) from None
