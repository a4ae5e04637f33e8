"""`dcabot run`: the engine, the scheduler (leader or standby) and the chat channels, in one
event loop. Without chat tokens the terminal is the chat."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from bot.chat.commands import build_registry
from bot.chat.confirmations import ConfirmationBook
from bot.chat.registry import ChatServices, Registry
from bot.chat.terminal import run_terminal
from bot.config import Settings
from bot.engine.setup import open_engine
from bot.scheduler import DcaScheduler

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    registry: Registry
    services: ChatServices
    scheduler: DcaScheduler | None


@asynccontextmanager
async def running_bot(settings: Settings, *, schedule: bool = True) -> AsyncIterator[Runtime]:
    """Build everything once; close everything on the way out."""
    engine = open_engine(settings)
    scheduler = DcaScheduler(engine) if schedule else None
    services = ChatServices(
        engine, ConfirmationBook(timedelta(seconds=settings.confirm_ttl_s), engine.clock)
    )
    if scheduler is not None:
        services.schedules_changed = scheduler.schedules_changed
    if scheduler is not None:
        scheduler.start()
    try:
        yield Runtime(build_registry(), services, scheduler)
    finally:
        if scheduler is not None:
            await scheduler.stop()
        await engine.exchange.close()
        engine.db.dispose()


async def serve_terminal(settings: Settings, *, schedule: bool, greet: bool) -> None:
    async with running_bot(settings, schedule=schedule) as runtime:
        await run_terminal(
            runtime.registry, runtime.services, first_command="/status" if greet else None
        )
