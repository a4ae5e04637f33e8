"""No secret reaches a log line: the `RedactSecrets` filter on every handler `bot.logs` installs.

It rewrites each record's finished text (the message with its `%s` arguments filled in, the
traceback, the stack) before any handler formats it, replacing

* every secret known to this process: the secret settings actually configured (tokens, the
  master key, the database password), and exchange keys as the engine opens them
  (`remember_secret`), each also as it looks percent-encoded in a URL;
* anything shaped like a credential, configured or not: Telegram bot tokens (also inside
  `https://api.telegram.org/bot<token>/...`), `Bearer <token>`, the value of an
  `Authorization`, `X-MBX-APIKEY` or `OK-ACCESS-KEY/-PASSPHRASE/-SIGN` header, a
  `signature=` query parameter, and 64-character alphanumeric strings (Binance API keys and
  secrets, HMAC-SHA256 signatures).

The filter sits on the handlers, not on a logger: a record from any library (httpx logs the
Telegram URL with its token in it) passes through it on its way out.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote

REDACTED = "[REDACTED]"
SHORTEST_SECRET = 6  # a shorter value would blank out ordinary words; no real token is that short

_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Telegram bot token: the bot id, ':', then 35 characters (30 or more here)
    (re.compile(r"(?<!\d)\d{6,12}:[A-Za-z0-9_-]{30,}"), REDACTED),
    # exchange and HTTP authentication headers, as `name: value`, `name=value` or a dict item
    (
        re.compile(
            r"(?i)\b((?:x-mbx-apikey|ok-access-(?:key|passphrase|sign)|authorization)"
            r"['\"]?\s*[:=]\s*['\"]?(?:(?:bearer|basic)\s+)?)[^\s'\",;&}]+"
        ),
        r"\1" + REDACTED,
    ),
    (re.compile(r"\b([Bb]earer\s+)[A-Za-z0-9\-._~+/]{8,}=*"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b(signature=)[^&\s'\"]+"), r"\1" + REDACTED),
    (re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])"), REDACTED),
)


class _SecretBook:
    """The secret values known to this process, as one pattern (longest first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self.pattern: re.Pattern[str] | None = None

    def add(self, values: Iterable[str | None]) -> None:
        with self._lock:
            before = len(self._values)
            for value in values:
                if value is None or len(value.strip()) < SHORTEST_SECRET:
                    continue
                self._values.update({value, value.strip(), quote(value, safe="")})
            if len(self._values) != before:
                ordered = sorted(self._values, key=len, reverse=True)
                self.pattern = re.compile("|".join(map(re.escape, ordered)))

    def forget_all(self) -> None:
        with self._lock:
            self._values.clear()
            self.pattern = None


_BOOK = _SecretBook()


def remember_secret(*values: str | None) -> None:
    """Never log these values (exchange keys as they are opened, configured tokens)."""
    _BOOK.add(values)


def forget_secrets() -> None:
    """Drop the remembered values (a new configuration replaces the old one; tests)."""
    _BOOK.forget_all()


def redact(text: str) -> str:
    """`text` with every known secret and every credential-shaped string replaced."""
    pattern = _BOOK.pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    for shape, replacement in _SHAPES:
        text = shape.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record's message, traceback and stack with `redact`; never drops a record.

    The message is formatted here (`getMessage`), so a secret passed as a `%s` argument is
    caught too; the record then carries the finished text and no arguments. Redacting twice
    (a record passing two handlers) changes nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the message: keep both, redacted
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
