"""Who wants to hear about each exchange request: how long it took and how it failed.

The exchange layer knows nothing of metrics (imports point one way: the app and its metrics
import the exchanges, never the reverse). `CcxtCalls.once`, the one place every ccxt request
goes through, makes each request with `timed` (so does the keyless `PublicMarket` the paper
exchange reads prices from, as mode `public`), which then calls the observers. Whoever cares
(`bot.metrics`) adds a plain callback with `add_request_observer` and removes it when done.

An observer that raises is logged and ignored: counting must never fail a trade.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RequestSeen:
    """One request to an exchange: which one, what for, how long, and the error kind if it
    failed (`error_kind`), else None."""

    exchange: str
    mode: str
    what: str
    seconds: float
    error_kind: str | None


T = TypeVar("T")
RequestObserver = Callable[[RequestSeen], None]
_observers: list[RequestObserver] = []


def add_request_observer(observer: RequestObserver) -> None:
    _observers.append(observer)


def remove_request_observer(observer: RequestObserver) -> None:
    if observer in _observers:
        _observers.remove(observer)


def observe_request(seen: RequestSeen) -> None:
    for observer in tuple(_observers):
        try:
            observer(seen)
        except Exception:
            log.exception("an exchange request observer failed")


async def timed(exchange: str, mode: str, what: str, call: Callable[[], Awaitable[T]]) -> T:
    """Make one request, then tell the observers how long it took and how it failed."""
    started = time.perf_counter()
    try:
        result = await call()
    except Exception as exc:
        seconds = time.perf_counter() - started
        observe_request(RequestSeen(exchange, mode, what, seconds, error_kind(exc)))
        raise
    observe_request(RequestSeen(exchange, mode, what, time.perf_counter() - started, None))
    return result


def error_kind(exc: BaseException) -> str:
    """A short, stable label for a failed request: `timeout`, `network`, `unavailable`,
    `rate_limited`, `clock`, `auth`, `refused` (the exchange answered no) or `other`."""
    from ccxt.base import errors

    kinds: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
        (errors.RequestTimeout, "timeout"),
        ((errors.DDoSProtection, errors.RateLimitExceeded), "rate_limited"),
        (errors.InvalidNonce, "clock"),
        ((errors.AuthenticationError, errors.PermissionDenied), "auth"),
        (errors.ExchangeNotAvailable, "unavailable"),
        (errors.OperationFailed, "network"),
        (errors.BaseError, "refused"),
    )
    for kind, label in kinds:
        if isinstance(exc, kind):
            return label
    return "other"
