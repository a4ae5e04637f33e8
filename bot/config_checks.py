"""The checks behind `bot/config.py`: ranges, amounts, paths, URLs, people, routes.

Each check raises `ValueError` with what a good value looks like; `bot.config` turns the first
one into the single start-up line that names the variable (`bot.config_errors`). No message
here contains the value of a secret (tokens, the master key, DATABASE_URL).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

# NUMERIC(38,18) in PostgreSQL: amounts are stored with at most 18 decimals.
MAX_AMOUNT = Decimal(10) ** 12
MAX_DECIMALS = 18


class Rule(NamedTuple):
    """A number's range, and what a good value is in words."""

    low: float
    high: float
    text: str
    above: bool = False  # `low` itself is refused


NUMBER_RULES: dict[str, Rule] = {
    "request_timeout_s": Rule(0, 300, "must be seconds, above 0 and at most 300", above=True),
    "circuit_failures": Rule(1, 1000, "must be a whole number of failures from 1 to 1000"),
    "circuit_cooldown_s": Rule(1, 86400, "must be seconds from 1 to 86400 (a day)"),
    "confirm_ttl_s": Rule(10, 3600, "must be a whole number of seconds from 10 to 3600"),
    "missed_run_grace_h": Rule(
        1 / 3600, 168, "must be hours from 0.0003 (one second) to 168 (a week)"
    ),
    "trend_history_days": Rule(
        60, 4000, "must be a whole number of days from 60 (the EMAs need the history) to 4000"
    ),
    "telegram_rate": Rule(0.001, 100_000, "must be messages a second from 0.001 to 100000"),
    "telegram_chat_rate": Rule(0.001, 100_000, "must be messages a second from 0.001 to 100000"),
    "telegram_group_rate": Rule(0.001, 100_000, "must be messages a minute from 0.001 to 100000"),
    "line_rate": Rule(0.001, 100_000, "must be messages a second from 0.001 to 100000"),
    "line_quota_reset_day": Rule(1, 28, "must be a day of the month from 1 to 28"),
    "alert_retry_max_s": Rule(1, 86400, "must be seconds from 1 to 86400 (a day)"),
    "stranger_replies": Rule(0, 1000, "must be a whole number of refusals a minute, 0 to 1000"),
    "log_max_mb": Rule(0.001, 1024, "must be megabytes from 0.001 (1 KB) to 1024"),
    "log_backups": Rule(0, 100, "must be a whole number of old log files to keep, 0 to 100"),
}

AMOUNT_RULES: dict[str, str] = {
    "paper_start_balance": "must be a positive amount up to 1000000000000, at most 18 decimals",
    "max_order": "must be a positive amount up to 1000000000000, at most 18 decimals",
    "taker_fee": "must be a fraction from 0 up to (not including) 0.1, at most 18 decimals "
    "(0.001 is 0.1%)",
}

WHOLE_NUMBER = "must be a whole number"


def check_number(field: str, value: float) -> float:
    """A finite number inside the field's range (`NUMBER_RULES`)."""
    rule = NUMBER_RULES[field]
    too_low = value <= rule.low if rule.above else value < rule.low
    if not math.isfinite(value) or too_low or value > rule.high:
        raise ValueError(rule.text)
    return value


def _decimals(value: Decimal) -> int:
    """Digits after the point, trailing zeros not counted (`1.500` has 1)."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        return MAX_DECIMALS + 1  # NaN or Infinity
    kept = "".join(map(str, digits)).rstrip("0")
    return max(0, -(exponent + len(digits) - len(kept))) if kept else 0


def check_amount(field: str, value: Decimal) -> Decimal:
    """A finite amount the database can store: positive and at most 10^12, or the fee's range."""
    if not value.is_finite() or _decimals(value) > MAX_DECIMALS:
        raise ValueError(AMOUNT_RULES[field])
    if field == "taker_fee":
        fine = Decimal(0) <= value < Decimal("0.1")
    else:
        fine = Decimal(0) < value <= MAX_AMOUNT
    if not fine:
        raise ValueError(AMOUNT_RULES[field])
    return value


def check_url(value: str, *, https_only: bool = False, empty_means: str = "") -> str:
    """An http(s) URL with a host, without its trailing slash; empty allowed with `empty_means`."""
    value = value.strip()
    if not value and empty_means:
        return ""
    schemes = ("https",) if https_only else ("http", "https")
    wanted = "an https://" if https_only else "an http:// or https://"
    problem = f"must be {wanted} URL with a host name"
    if empty_means:
        problem = f"must be empty ({empty_means}) or {problem.removeprefix('must be ')}"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(problem) from None
    if (
        parts.scheme not in schemes
        or not parts.hostname
        or parts.query
        or parts.fragment
        or any(c.isspace() or not c.isprintable() for c in value)
    ):
        raise ValueError(problem)
    return value.rstrip("/")


DATABASE_PROBLEM = "must be a postgresql:// URL, or sqlite:/// and a file path"


def check_database_url(value: str) -> str:
    """A PostgreSQL (psycopg 3) or SQLite file URL; empty means the SQLite file in the data dir."""
    value = value.strip()
    if not value:
        return ""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from storage.db import normalise_url

    try:
        url = make_url(normalise_url(value))
    except (ArgumentError, ValueError):
        raise ValueError(DATABASE_PROBLEM) from None  # the URL may hold a password: not shown
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        if not url.database or url.database == ":memory:":
            raise ValueError("sqlite needs a file: sqlite:///<path of the database file>")
    elif url.drivername != "postgresql+psycopg":
        raise ValueError(DATABASE_PROBLEM)
    return value


def _kind(path: Path) -> str:
    """`dir`, `file`, `other`, or `none` when nothing is there; an unusable path is a ValueError."""
    try:
        if path.is_dir():
            return "dir"
        if path.is_file():
            return "file"
        return "other" if path.exists() else "none"
    except OSError as exc:  # too long, no permission
        raise ValueError(f"cannot be used: {exc.strerror}") from None
    except ValueError as exc:  # a NUL byte
        raise ValueError(f"cannot be used: {exc}") from None


def check_data_dir(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must be a directory path, not empty")
    if isinstance(value, str | Path) and _kind(Path(value)) not in ("none", "dir"):
        raise ValueError("is a file, not a directory")
    return value


def check_csv_path(value: Path | None) -> Path | None:
    if value is not None and _kind(value) != "file":
        raise ValueError(
            f"{str(value)!r} is not a file here (a relative path is from the working directory)"
        )
    return value


_PRINCIPAL_ADDRESS = {
    "telegram": (re.compile(r"^\d{1,20}$"), "a telegram user id is digits"),
    "line": (re.compile(r"^U[0-9a-f]{32}$"), "a LINE user id is U and 32 hex digits"),
    "terminal": (re.compile(r"^[A-Za-z0-9_\-]{1,40}$"), "terminal:local"),
}


def split_principals(value: Any) -> Any:
    """`channel:user_id` items separated by commas, at least one when the value is not blank."""
    if not isinstance(value, str):
        return value
    items = [part.strip() for part in value.split(",") if part.strip()]
    if value.strip() and not items:
        raise ValueError("names nobody: list channel:user_id separated by commas")
    for item in items:
        channel, _, address = item.partition(":")
        if channel not in _PRINCIPAL_ADDRESS:
            raise ValueError(f"{item!r} is not channel:user_id with channel telegram or line")
        pattern, what = _PRINCIPAL_ADDRESS[channel]
        if not pattern.match(address):
            raise ValueError(f"{item!r}: {what}")
    return tuple(items)


def check_not_admins(viewers: tuple[str, ...], admins: Iterable[str]) -> tuple[str, ...]:
    both = sorted(set(viewers) & set(admins))
    if both:
        raise ValueError(f"{both[0]} is also in DCABOT_ADMINS: list each person once")
    return viewers


_TELEGRAM_TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_\-]{1,200}$")
_TOKEN = re.compile(r"^[\x21-\x7e]{1,2000}$")  # printable ASCII, no spaces: an HTTP header


def check_telegram_token(value: str) -> str:
    if value and not _TELEGRAM_TOKEN.match(value):
        raise ValueError("must be the token from @BotFather: digits, ':', then letters")
    return value


def check_opaque_secret(value: str) -> str:
    if value and not _TOKEN.match(value):
        raise ValueError("must be printable characters without spaces, as LINE shows it")
    return value


_BEARER = re.compile(r"^[A-Za-z0-9\-._~+/]{16,256}=*$")  # RFC 6750's b64token, long enough


def check_bearer_token(text: str) -> None:
    if text and not _BEARER.match(text):
        raise ValueError("must be 16-256 characters of A-Z, a-z, 0-9 and - . _ ~ + /")


def check_master_key(text: str) -> None:
    if not text.strip():
        return
    from storage.master_key import MasterKeyError, decode_master_key

    try:
        decode_master_key(text, "it")
    except MasterKeyError:
        raise ValueError(
            "must be the base64 of 32 random bytes (44 characters ending in '='), "
            "or unset to use the key file"
        ) from None


def check_symbol(value: str) -> str:
    if not re.fullmatch(r"[A-Z0-9]{1,20}/[A-Z0-9]{1,20}", value):
        raise ValueError(f"{value!r} is not BASE/QUOTE in capitals")
    base, quote = value.split("/")
    if base == quote:
        raise ValueError(f"{value!r} buys {base} with itself")
    return value


def check_quote(value: str, symbol: str | None) -> str:
    """Empty is the quote of DCABOT_SYMBOL; anything else must be that quote."""
    value = value.strip()
    if symbol is None:  # DCABOT_SYMBOL is invalid and reported first
        return value
    quote = symbol.split("/")[1]
    if value and value != quote:
        raise ValueError(
            f"DCABOT_SYMBOL={symbol} is quoted in {quote}, not {value}: unset it or set "
            f"it to the symbol's quote (e.g. DCABOT_QUOTE={quote})"
        )
    return quote


_TOKEN_OF = {"telegram": "TELEGRAM_BOT_TOKEN", "line": "LINE_CHANNEL_ACCESS_TOKEN"}


def check_routes(text: str, tokens: Mapping[str, str]) -> None:
    """Parse the routes; everyone must be reachable on a channel whose token is set."""
    from bot.notify.routes import TERMINAL, parse_routes

    usable = {TERMINAL, *(channel for channel, token in tokens.items() if token)}
    for person in parse_routes(text):
        if person.reachable_on(usable):
            continue
        channels = sorted({r.channel for r in person.routes})
        missing = [_TOKEN_OF[channel] for channel in channels]
        verb, fix = ("is", "set it") if len(missing) == 1 else ("are", "set one")
        raise ValueError(
            f"{person.name} is reached only on {' and '.join(channels)}, and "
            f"{' and '.join(missing)} {verb} not set: {fix}, or add terminal to {person.name}"
        )
