"""The chat channels of one web process: opened in the app's lifespan, inside the running event
loop (python-telegram-bot's and LINE's HTTP pools belong to it), and closed after it.

Closing first drains the work in flight, so a reply being sent when the process is told to stop
still goes out, then closes the SDK clients.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field

from bot.chat.background import BackgroundWork
from bot.chat.inbound import Inbound
from bot.chat.line_channel import LineChannel, open_line_client
from bot.chat.strangers import StrangerGate
from bot.chat.telegram_channel import TelegramChannel, build_application, webhook_secret
from bot.config import Settings
from bot.engine.errors import UserError
from bot.running import Runtime

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 10.0


def check_chat_settings(settings: Settings) -> None:
    """Refuse settings that would leave a webhook open to anyone, before anything starts."""
    if settings.line_channel_access_token and not settings.line_channel_secret:
        raise UserError(
            "LINE_CHANNEL_ACCESS_TOKEN is set but LINE_CHANNEL_SECRET is not: without the "
            "secret no LINE webhook can be verified (LINE Developers console, Basic settings)"
        )
    if settings.line_channel_secret and not settings.line_channel_access_token:
        raise UserError("LINE_CHANNEL_SECRET is set but LINE_CHANNEL_ACCESS_TOKEN is not")


def card_secret(settings: Settings) -> bytes:
    """The key of the owner tags on cards (`bot.cards.taps`): derived from the chat secrets, so
    every worker of one bot agrees on it and nobody without them can make a tag."""
    material = f"dcabot-cards:{settings.telegram_bot_token}:{settings.line_channel_secret}"
    return hashlib.sha256(material.encode()).digest()


@dataclass
class ChatChannels:
    settings: Settings
    runtime: Runtime
    work: BackgroundWork
    telegram: TelegramChannel | None = None
    line: LineChannel | None = None
    telegram_secret: bytes = field(default=b"", repr=False)

    def telegram_secret_matches(self, given: str) -> bool:
        """Constant-time comparison of the `X-Telegram-Bot-Api-Secret-Token` header."""
        return bool(self.telegram_secret) and hmac.compare_digest(
            given.encode("latin-1", "replace"), self.telegram_secret
        )

    def status(self) -> dict[str, str]:
        return {
            "telegram": self.telegram.mode if self.telegram else "off",
            "line": "webhook" if self.line else "off",
        }

    async def close(self) -> None:
        if self.telegram is not None:
            await self.telegram.stop_polling()  # webhooks already stopped with the server
        await self.work.drain(DRAIN_TIMEOUT_S)
        if self.telegram is not None:
            await self.telegram.stop()
        if self.line is not None:
            await self.line.stop()


async def open_channels(settings: Settings, runtime: Runtime, *, polling: bool) -> ChatChannels:
    """Telegram when `TELEGRAM_BOT_TOKEN` is set, LINE when its token and secret are."""
    check_chat_settings(settings)
    engine = runtime.services.engine
    work = BackgroundWork()
    inbound = Inbound(
        runtime.registry,
        runtime.services,
        StrangerGate(engine.db, engine.clock, budget=settings.stranger_replies),
        card_secret(settings),
    )
    channels = ChatChannels(settings, runtime, work)
    try:
        if settings.telegram_bot_token:
            application = build_application(settings, polling=polling)
            channels.telegram = TelegramChannel(application, inbound, work, engine.db, engine.clock)
            channels.telegram_secret = webhook_secret(settings).encode()
            await channels.telegram.start()
        if settings.line_channel_access_token:
            client = open_line_client(settings)
            channels.line = LineChannel(client, settings, inbound, work, engine.db, engine.clock)
    except BaseException:
        await channels.close()
        raise
    log.info("chat channels: %s", channels.status())
    return channels
