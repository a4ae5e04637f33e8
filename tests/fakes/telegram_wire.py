"""What the fake Telegram Bot API needs to read a request the way Telegram does: parameters from a
query string, a form, JSON or multipart; the HTML `parse_mode` subset; the rate-limit windows.
"""

from __future__ import annotations

import email.parser
import email.policy
import html
import json
import math
import re
import threading
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

# Values kept as strings even when they look like JSON (`text="123"` must stay text).
STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "url",
        "secret_token",
        "callback_query_id",
        "parse_mode",
        "action",
        "language_code",
        "ip_address",
        "emoji",
        "inline_message_id",
        "photo",
        "description",
        "short_description",
        "title",
        "name",
        "query",
        "message_effect_id",
        "business_connection_id",
    }
)

# Telegram's HTML parse mode: https://core.telegram.org/bots/api#html-style
HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    }
)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(\s[^<>]*)?>")
_TAG_WORD = re.compile(r"/?([^\s<>]*)")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")


class TelegramError(Exception):
    """A request Telegram would refuse: its HTTP status and `description`."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def bad_request(description: str) -> TelegramError:
    return TelegramError(400, f"Bad Request: {description}")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (e.g. the `photo` of sendPhoto)."""

    field: str
    filename: str | None
    content_type: str
    data: bytes


def _coerce(key: str, value: str) -> Any:
    if key in STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise bad_request("can't parse multipart request")
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None or part.get_content_type() not in ("text/plain",):
            params[name] = UploadedFile(name, filename, part.get_content_type(), data)
        else:
            charset = part.get_content_charset() or "utf-8"
            params[name] = _coerce(name, data.decode(charset))
    return params


def parse_params(content_type: str, body: bytes, query: bytes) -> dict[str, Any]:
    """Decode a Bot API request's parameters into Python values, files as `UploadedFile`."""
    params: dict[str, Any] = {}
    if query:
        for key, value in parse_qsl(query.decode(), keep_blank_values=True):
            params[key] = _coerce(key, value)
    media_type = content_type.split(";", 1)[0].strip().lower()
    try:
        if media_type == "application/json" and body:
            decoded = json.loads(body)
            if not isinstance(decoded, dict):
                raise bad_request("request body must be a JSON object")
            params.update(decoded)
        elif media_type == "application/x-www-form-urlencoded":
            for key, value in parse_qsl(body.decode(), keep_blank_values=True):
                params[key] = _coerce(key, value)
        elif media_type == "multipart/form-data":
            params.update(_parse_multipart(content_type, body))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request(f"can't parse request: {exc}") from exc
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            attached = params.get(value.removeprefix("attach://"))
            if isinstance(attached, UploadedFile):
                params[key] = attached
    return params


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram and LINE count in."""
    return len(text.encode("utf-16-le")) // 2


def html_to_text(markup: str) -> str:
    """The plain text Telegram keeps from an HTML message, or Telegram's 400.

    Strict like Telegram: a bare `<` (an unescaped dynamic value) or an unsupported or
    unbalanced tag is refused with "can't parse entities".
    """
    out: list[str] = []
    open_tags: list[str] = []
    i = 0

    def refuse(reason: str) -> TelegramError:
        return bad_request(f"can't parse entities: {reason}")

    def offset() -> int:
        return len(markup[:i].encode())

    while i < len(markup):
        char = markup[i]
        if char == "<":
            tag = _TAG.match(markup, i)
            if tag is None or tag.group(2).lower() not in HTML_TAGS:
                word = _TAG_WORD.match(markup, i + 1)
                name = tag.group(2) if tag else (word.group(1) if word else "")
                raise refuse(f'Unsupported start tag "{name}" at byte offset {offset()}')
            name = tag.group(2).lower()
            if tag.group(1):
                if not open_tags or open_tags[-1] != name:
                    raise refuse(f"Unexpected end tag at byte offset {offset()}")
                open_tags.pop()
            else:
                open_tags.append(name)
            i = tag.end()
            continue
        if char == "&":
            entity = _ENTITY.match(markup, i)
            if entity is not None:
                out.append(html.unescape(entity.group()))
                i = entity.end()
                continue
        out.append(char)
        i += 1
    if open_tags:
        raise refuse(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(out)


def formatted_text(params: dict[str, Any], key: str, limit: int, too_long: str) -> tuple[str, str]:
    """(as sent, as Telegram keeps it) for a `text` or `caption` under `parse_mode`."""
    raw = params.get(key)
    if not isinstance(raw, str):
        raw = "" if raw is None else str(raw)
    mode = str(params.get("parse_mode") or "").lower()
    if mode == "html":
        plain = html_to_text(raw)
    elif mode in ("", "markdown", "markdownv2"):
        plain = raw
    else:
        raise bad_request(f"unsupported parse_mode {params['parse_mode']!r}")
    if utf16_len(plain) > limit:
        raise bad_request(too_long)
    return raw, plain


def inline_markup(params: dict[str, Any]) -> dict[str, Any] | None:
    """The inline keyboard a message would carry (Telegram echoes only inline keyboards)."""
    markup = params.get("reply_markup")
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    for row in markup["inline_keyboard"]:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise bad_request("BUTTON_DATA_INVALID")
    return markup


class SlidingWindowLimiter:
    """At most `limit` events per `window` seconds for each key (a sliding log).

    `tolerance` shortens the window a little so that a client pacing itself exactly at the limit
    is not punished for loopback jitter.
    """

    def __init__(self, limit: int, window: float = 1.0, tolerance: float = 0.01) -> None:
        if limit < 1 or window <= tolerance:
            raise ValueError("limit must be >= 1 and window longer than tolerance")
        self.limit = limit
        self.window = window - tolerance
        self._events: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_time(self, key: Hashable, now: float) -> float:
        """Seconds until one more event for `key` is allowed (0.0 when it is allowed now)."""
        with self._lock:
            events = self._events.get(key)
            if events is None:
                return 0.0
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) < self.limit:
                return 0.0
            return events[0] + self.window - now

    def record(self, key: Hashable, now: float) -> None:
        with self._lock:
            self._events.setdefault(key, deque()).append(now)


class FloodControl:
    """Telegram-like flood limits: messages per second overall and per chat, per minute per
    group (negative chat ids). A limit of None is off.
    """

    def __init__(
        self,
        global_per_second: int | None = None,
        per_chat_per_second: int | None = None,
        per_group_per_minute: int | None = None,
    ) -> None:
        self._limiters: dict[str, SlidingWindowLimiter] = {}
        if global_per_second:
            self._limiters["global"] = SlidingWindowLimiter(global_per_second, 1.0)
        if per_chat_per_second:
            self._limiters["chat"] = SlidingWindowLimiter(per_chat_per_second, 1.0)
        if per_group_per_minute:
            self._limiters["group"] = SlidingWindowLimiter(per_group_per_minute, 60.0)

    def refuse(self, chat: str, now: float) -> int | None:
        """`retry_after` seconds if one more message to `chat` now is too many; else counts it."""
        if not self._limiters:
            return None
        checks = [("global", "all"), ("chat", chat)]
        if chat.startswith("-"):
            checks.append(("group", chat))
        active = [(self._limiters[name], key) for name, key in checks if name in self._limiters]
        wait = max(limiter.wait_time(key, now) for limiter, key in active)
        if wait > 0:
            return max(1, math.ceil(wait))  # Telegram answers whole seconds
        for limiter, key in active:
            limiter.record(key, now)
        return None
