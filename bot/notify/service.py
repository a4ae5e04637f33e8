"""`run_dispatcher`: the dispatcher as `dcabot run` (or a worker) runs it, built from settings.

stop = asyncio.Event()
task = asyncio.create_task(run_dispatcher(settings, engine.db, stop))
...
stop.set(); await task
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from bot.config import BuddhistEra, Settings
from bot.notify.delivery import Backoff
from bot.notify.dispatcher import Dispatcher, DispatcherOptions
from bot.notify.line_sender import LineSender
from bot.notify.outcomes import Sender
from bot.notify.routes import Person, configured_people
from bot.notify.telegram_sender import TelegramSender
from bot.notify.terminal_sender import TerminalSender
from storage.db import Database

SEND_TIMEOUT_S = 10.0


def alert_people(settings: Settings) -> tuple[Person, ...]:
    return configured_people(settings.alert_routes, settings.admins)


def build_senders(settings: Settings) -> dict[str, Sender]:
    """A sender per channel that has a token; the terminal always."""
    timeout = min(settings.request_timeout_s, SEND_TIMEOUT_S)
    senders: dict[str, Sender] = {"terminal": TerminalSender()}
    if settings.telegram_bot_token:
        senders["telegram"] = TelegramSender(
            settings.telegram_bot_token,
            base_url=f"{settings.telegram_api_url}/bot",
            per_second=settings.telegram_rate,
            chat_per_second=settings.telegram_chat_rate,
            group_per_minute=settings.telegram_group_rate,
            timeout=timeout,
        )
    if settings.line_channel_access_token:
        senders["line"] = LineSender(
            settings.line_channel_access_token,
            host=settings.line_api_url,
            per_second=settings.line_rate,
            timeout=timeout,
        )
    return senders


def build_dispatcher(
    settings: Settings,
    db: Database,
    senders: dict[str, Sender],
    people: Sequence[Person] | None = None,
    options: DispatcherOptions | None = None,
) -> Dispatcher:
    options = options or DispatcherOptions(
        backoff=Backoff(most=settings.alert_retry_max_s),
        quota_reset_day=settings.line_quota_reset_day,
        language=settings.language,
        buddhist_era=settings.buddhist_era == BuddhistEra.ON,
    )
    return Dispatcher(
        db,
        alert_people(settings) if people is None else people,
        senders,
        zone=settings.zone,
        options=options,
    )


async def run_dispatcher(settings: Settings, db: Database, stop: asyncio.Event) -> None:
    """Deliver alerts until `stop` is set; closes the channel clients on the way out."""
    senders = build_senders(settings)
    try:
        await build_dispatcher(settings, db, senders).run(stop)
    finally:
        for sender in senders.values():
            with contextlib.suppress(Exception):
                await sender.close()
