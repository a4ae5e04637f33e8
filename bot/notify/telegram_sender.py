"""Alerts to Telegram through python-telegram-bot, paced below Telegram's flood limits.

Telegram allows about 30 messages a second overall, one a second per chat and 20 a minute per
group. A `RetryAfter` pauses only the chat it came from; when two different chats get one within
a second, the limit hit is the bot's overall one, and the whole channel pauses. `BadRequest` is
never retried (in PTB 22 it subclasses `NetworkError`, so it is caught first).

Telegram has no idempotency key: if the process dies after Telegram accepted a message but before
the outbox recorded it, that one message is sent again after the restart.
"""

from __future__ import annotations

import asyncio
import time

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from bot.cards.telegram_html import keyboard, render_html
from bot.notify.outcomes import DELIVERED, AlertMessage, Outcome, SendResult
from bot.notify.rate_limits import ChannelPacer, ChatPacer
from bot.notify.routes import TELEGRAM, Route
from bot.telegram_retry import retry_after_seconds

GLOBAL_WINDOW = 1.0  # 429s in two chats this close together mean the overall limit was hit


class TelegramSender:
    channel = TELEGRAM

    def __init__(
        self,
        token: str,
        *,
        base_url: str | None = None,
        per_second: float = 30.0,
        chat_per_second: float = 1.0,
        group_per_minute: float = 20.0,
        timeout: float = 10.0,
        connections: int = 16,
        wait_at_most: float = 5.0,
    ) -> None:
        request = HTTPXRequest(
            connection_pool_size=connections,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
        )
        self._request = request
        if base_url:
            self._bot = Bot(token, base_url=base_url, request=request, get_updates_request=request)
        else:
            self._bot = Bot(token, request=request, get_updates_request=request)
        self._token = token
        self.pacer = ChannelPacer(per_second)
        chat_gap, group_gap = 1 / chat_per_second, max(1 / chat_per_second, 60 / group_per_minute)
        self.chats = ChatPacer(lambda chat: group_gap if chat.startswith("-") else chat_gap)
        self._in_flight = asyncio.Semaphore(connections)
        self._wait_at_most = wait_at_most
        self._recent_429: dict[str, float] = {}

    def paused_for(self, route: Route) -> float:
        return max(self.pacer.paused_for(), self.chats.paused_for(route.address))

    async def send(self, route: Route, message: AlertMessage) -> SendResult:
        chat = route.address
        waiting = self.paused_for(route)
        if waiting > self._wait_at_most:
            wide = self.pacer.paused_for() >= waiting
            return SendResult(
                Outcome.RATE_LIMITED, f"paused {waiting:.0f}s by a 429", waiting, wide
            )
        chunks = render_html(message.reply)
        markup = keyboard(message.reply)
        try:
            for number, chunk in enumerate(chunks, start=1):
                # the chat's turn, then a connection, then the overall pace: sends leave at once
                async with self.chats.turn(chat), self._in_flight:
                    await self.pacer.acquire()
                    await self._bot.send_message(
                        chat_id=int(chat),
                        text=chunk,
                        parse_mode=ParseMode.HTML,
                        disable_notification=message.silent,
                        reply_markup=markup if number == len(chunks) else None,
                    )
        except RetryAfter as exc:
            return self._rate_limited(chat, retry_after_seconds(exc))
        except (Forbidden, ChatMigrated) as exc:
            return SendResult(Outcome.UNAVAILABLE, self._clean(exc))
        except BadRequest as exc:
            return SendResult(Outcome.REFUSED, self._clean(exc))
        except InvalidToken as exc:
            return SendResult(Outcome.UNAVAILABLE, self._clean(exc), channel_wide=True)
        except (TimedOut, NetworkError) as exc:
            return SendResult(Outcome.UNAVAILABLE, self._clean(exc), channel_wide=True)
        except TelegramError as exc:
            return SendResult(Outcome.UNAVAILABLE, self._clean(exc))
        return DELIVERED

    def _rate_limited(self, chat: str, seconds: float) -> SendResult:
        now = time.monotonic()
        self.chats.pause(chat, seconds)
        self._recent_429 = {
            c: t for c, t in self._recent_429.items() if now - t < GLOBAL_WINDOW and c != chat
        }
        wide = bool(self._recent_429)
        self._recent_429[chat] = now
        if wide:
            self.pacer.pause(seconds)
        return SendResult(Outcome.RATE_LIMITED, f"429: retry after {seconds:g}s", seconds, wide)

    def _clean(self, exc: TelegramError) -> str:
        """The error's text, never the token (it is part of every Bot API URL)."""
        text = f"{type(exc).__name__}: {exc.message}"
        return text.replace(self._token, "<token>")

    async def close(self) -> None:
        await self._request.shutdown()  # the Bot was never initialised: sending needs no getMe
