"""A local fake of the Telegram Bot API that python-telegram-bot talks to through `base_url`.

    with FakeTelegramAPI() as tg:
        bot = Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url)

It answers like Telegram (the `{"ok": ..., "result"|"description"}` envelope, the same error
descriptions), keeps what was sent per chat, and can enforce rate limits or inject faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, Self

from ._server import (
    Call,
    Fault,
    FaultBook,
    Receive,
    Scope,
    Send,
    ServedFake,
    ThreadedASGIServer,
    header_map,
    read_body,
    send_json,
    wait_until,
    wait_until_async,
)
from .telegram_api_methods import SentMessage, TelegramState
from .telegram_updates import (
    make_bot_blocked_update,
    make_callback_update,
    make_edited_message_update,
    make_group_message_update,
    make_message_update,
    make_sticker_update,
    make_unknown_update,
)
from .telegram_wire import FloodControl, TelegramError, parse_params

__all__ = [
    "FakeTelegramAPI",
    "SentMessage",
    "make_bot_blocked_update",
    "make_callback_update",
    "make_edited_message_update",
    "make_group_message_update",
    "make_message_update",
    "make_sticker_update",
    "make_unknown_update",
]

BLOCKED = "Forbidden: bot was blocked by the user"
# Methods that deliver a message and so count against Telegram's flood limits.
SENDING_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup"})


class FakeTelegramAPI(ServedFake):
    """Fake Bot API server. Limits are off unless given; `long_poll_cap` bounds getUpdates waits."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        username: str = "dcabot_test_bot",
        global_per_second: int | None = None,
        per_chat_per_second: int | None = None,
        per_group_per_minute: int | None = None,
        long_poll_cap: float = 0.5,
    ) -> None:
        self.token = token
        self.long_poll_cap = long_poll_cap
        self.state = TelegramState(bot_id=int(token.split(":", 1)[0]), username=username)
        self._faults = FaultBook()
        self._blocked: set[str] = set()
        self._calls: list[Call] = []
        self._lock = threading.Lock()
        self._flood = FloodControl()
        self.rate_limited_count = 0
        self._updates_changed: asyncio.Event | None = None
        self._server = ThreadedASGIServer(self._app, name="fake-telegram")
        self.set_rate_limits(global_per_second, per_chat_per_second, per_group_per_minute)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        self._updates_changed = None  # made on the server's (new) event loop
        return super().start()

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def base_url(self) -> str:
        """For `Bot(base_url=...)` / `ApplicationBuilder().base_url(...)`: PTB appends the token."""
        return f"{self._server.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self._server.url}/file/bot"

    # -- configuration and faults -----------------------------------------------------------

    def set_rate_limits(
        self,
        global_per_second: int | None = None,
        per_chat_per_second: int | None = None,
        per_group_per_minute: int | None = None,
    ) -> None:
        """Enforce Telegram-like flood limits on sending methods (None disables each one)."""
        self._flood = FloodControl(global_per_second, per_chat_per_second, per_group_per_minute)

    def fail_next(
        self,
        method: str,
        times: int = 1,
        *,
        status: int = 400,
        description: str = "Bad Request",
        retry_after: int | None = None,
        chat_id: int | str | None = None,
        delay: float = 0.0,
    ) -> None:
        """The next `times` calls of `method` (for `chat_id` only, if given) fail so."""
        payload: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            payload["parameters"] = {"retry_after": retry_after}
        target = None if chat_id is None else str(chat_id)
        self._faults.add(Fault(method, times, status, payload, delay=delay, target=target))

    def rate_limit_next(
        self,
        method: str = "sendMessage",
        times: int = 1,
        *,
        retry_after: int = 3,
        chat_id: int | str | None = None,
    ) -> None:
        self.fail_next(
            method,
            times,
            status=429,
            chat_id=chat_id,
            retry_after=retry_after,
            description=f"Too Many Requests: retry after {retry_after}",
        )

    def server_error_next(
        self,
        method: str = "sendMessage",
        times: int = 1,
        *,
        status: int = 502,
        chat_id: int | str | None = None,
    ) -> None:
        phrase = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        self.fail_next(
            method,
            times,
            status=status,
            chat_id=chat_id,
            description=phrase.get(status, "Internal Server Error"),
        )

    def forbid_next(
        self,
        method: str = "sendMessage",
        times: int = 1,
        *,
        chat_id: int | str | None = None,
        description: str = BLOCKED,
    ) -> None:
        self.fail_next(method, times, status=403, description=description, chat_id=chat_id)

    def bad_request_next(
        self, method: str, description: str, times: int = 1, *, chat_id: int | str | None = None
    ) -> None:
        if not description.startswith("Bad Request"):
            description = f"Bad Request: {description}"
        self.fail_next(method, times, status=400, description=description, chat_id=chat_id)

    def delay_next(
        self, method: str, seconds: float, times: int = 1, *, chat_id: int | str | None = None
    ) -> None:
        """Answer normally, but only after `seconds` (a slow Telegram)."""
        target = None if chat_id is None else str(chat_id)
        self._faults.add(Fault(method, times, None, delay=seconds, target=target))

    def block_chat(self, chat_id: int | str) -> None:
        """The user blocked the bot: every send to this chat is 403 until unblocked."""
        self._blocked.add(str(chat_id))

    def unblock_chat(self, chat_id: int | str) -> None:
        self._blocked.discard(str(chat_id))

    def clear_faults(self) -> None:
        self._faults.clear()

    # -- polling ----------------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates (polling mode); wakes a waiting long poll."""
        self.state.queue_update(update)
        loop, event = self._server.loop, self._updates_changed
        if loop is not None and event is not None:
            loop.call_soon_threadsafe(event.set)

    # -- what happened ----------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def messages(self, chat_id: int | str) -> list[SentMessage]:
        """What the bot sent to a chat, oldest first, with edits applied (deleted ones too)."""
        return self.state.messages(str(chat_id))

    @property
    def sent_messages(self) -> list[SentMessage]:
        return self.state.all_messages()

    @property
    def webhook(self) -> dict[str, Any]:
        return dict(self.state.webhook)

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        return self.state.get_commands(scope, language_code)

    def wait_for_messages(self, chat_id: int | str, count: int = 1, timeout: float = 5.0) -> None:
        wait_until(lambda: len(self.messages(chat_id)) >= count, timeout)

    async def wait_for_messages_async(
        self, chat_id: int | str, count: int = 1, timeout: float = 5.0
    ) -> None:
        await wait_until_async(lambda: len(self.messages(chat_id)) >= count, timeout)

    def stats(self) -> dict[str, Any]:
        """Counters for benchmarks (also served as JSON at `/_fake/stats`)."""
        sent = self.sent_messages
        per_chat: dict[str, int] = {}
        for message in sent:
            per_chat[message.chat_id] = per_chat.get(message.chat_id, 0) + 1
        return {
            "calls": len(self.calls),
            "sent_messages": len(sent),
            "rate_limited_count": self.rate_limited_count,
            "first_sent_at": sent[0].sent_at if sent else None,
            "last_sent_at": sent[-1].sent_at if sent else None,
            "messages_per_chat": per_chat,
        }

    def reset(self) -> None:
        """Forget calls, messages, faults and counters (the webhook and commands too)."""
        with self._lock:
            self._calls.clear()
        self._faults.clear()
        self._blocked.clear()
        self.rate_limited_count = 0
        self.state.reset()

    # -- the server -------------------------------------------------------------------------

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if self._updates_changed is None:
            self._updates_changed = asyncio.Event()
        body = await read_body(receive)
        if scope["path"] == "/_fake/stats":
            await send_json(send, 200, self.stats())
            return
        parts = scope["path"].split("/")
        if len(parts) != 3 or not parts[1].startswith("bot"):
            self._record(Call(scope["path"], {}, time.time(), 404))
            await send_json(send, 404, _error(404, "Not Found"))
            return
        method = parts[2]
        if parts[1][3:] != self.token:
            self._record(Call(method, {}, time.time(), 401))
            await send_json(send, 401, _error(401, "Unauthorized"))
            return
        headers = header_map(scope)
        try:
            params = parse_params(headers.get("content-type", ""), body, scope["query_string"])
        except TelegramError as exc:
            self._record(Call(method, {}, time.time(), exc.status))
            await send_json(send, exc.status, _error(exc.status, exc.description))
            return
        status, payload = await self._answer(method, params)
        chat = params.get("chat_id")
        self._record(Call(method, params, time.time(), status, None if chat is None else str(chat)))
        await send_json(send, status, payload)

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    async def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat = params.get("chat_id")
        target = None if chat is None else str(chat)
        fault = self._faults.take(method, target)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                if fault.status == 429:
                    self.rate_limited_count += 1
                return fault.status, fault.payload
        if method in SENDING_METHODS and target is not None:
            if target in self._blocked:
                return 403, _error(403, BLOCKED)
            refused = self._check_limits(target)
            if refused is not None:
                return refused
        if method == "getUpdates":
            return await self._get_updates(params)
        handler: Callable[[dict[str, Any]], Any] | None = self.state.handler(method)
        if handler is None:
            return 404, _error(404, "Not Found")
        try:
            return 200, {"ok": True, "result": handler(params)}
        except TelegramError as exc:
            return exc.status, _error(exc.status, exc.description)

    def _check_limits(self, target: str) -> tuple[int, dict[str, Any]] | None:
        seconds = self._flood.refuse(target, time.monotonic())
        if seconds is None:
            return None
        self.rate_limited_count += 1
        payload = _error(429, f"Too Many Requests: retry after {seconds}")
        payload["parameters"] = {"retry_after": seconds}
        return 429, payload

    async def _get_updates(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.state.webhook.get("url"):
            return 409, _error(
                409,
                "Conflict: can't use getUpdates method while webhook is "
                "active; use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), self.long_poll_cap)
        deadline = time.monotonic() + timeout
        event = self._updates_changed
        assert event is not None
        while True:
            event.clear()
            updates = self.state.take_updates(offset, limit)
            remaining = deadline - time.monotonic()
            if updates or remaining <= 0:
                return 200, {"ok": True, "result": updates}
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)


def _error(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}
