"""Helpers for tests that drive the real ccxt (async) against FakeExchange: a ccxt client pointed at
the fake, a fake that fails the test on its own bugs, and a clock a test can move."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import ccxt.async_support as ccxt_async

from bot.exchanges.endpoints import ccxt_options_for, point_at

from .exchange import FakeExchange, RecordedRequest

TIMEOUT_MS = 1000
# not under test, and slow: ccxt's rate limiter stalls ~0.2 s between Binance calls and close()
# sleeps 0.25 s (timeout_on_exit) for TLS shutdown
FAST = {"enableRateLimit": False, "timeout_on_exit": 0}


@asynccontextmanager
async def client(fake: FakeExchange, **settings: Any) -> AsyncIterator[Any]:
    """A real ccxt exchange with the fake's keys, the product's options, pointed at the fake."""
    exchange_class = getattr(ccxt_async, fake.exchange_id)
    config = {"apiKey": fake.api_key, "secret": fake.secret, "timeout": TIMEOUT_MS}
    if fake.exchange_id == "okx":
        config["password"] = fake.passphrase
    product = ccxt_options_for(fake.exchange_id)
    options = {**product.get("options", {}), **settings.pop("options", {})}  # merged, not replaced
    exchange = exchange_class({**config, **product, **FAST, **settings, "options": options})
    point_at(exchange, fake.url)
    try:
        yield exchange
    finally:
        await exchange.close()


@contextmanager
def running(exchange_id: str, **options: Any) -> Iterator[FakeExchange]:
    with FakeExchange(exchange_id, **options) as fake:
        yield fake
    assert fake.errors == []  # the fake's own bugs must not pass for exchange behaviour


class MovableClock:
    """Real time plus an offset that a test moves forward: ban windows and outages can end
    without waiting, while the fake's clock still advances between requests."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def __call__(self) -> float:
        return time.time() * 1000 + self.offset_ms

    def advance(self, seconds: float) -> None:
        self.offset_ms += int(seconds * 1000)

    def to_next_minute(self) -> None:
        """Jump to just past the start of the clock's next minute (a fresh rate-limit window)."""
        self.offset_ms += 60_000 - int(self()) % 60_000 + 50


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A response header, whatever its case (real Binance sends them lower-case)."""
    return next((v for k, v in (headers or {}).items() if k.lower() == name.lower()), None)


async def settled(fake: FakeExchange, endpoint: str, timeout: float = 5.0) -> RecordedRequest:
    """The last request to `endpoint`, once recorded and processed (or refused)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = fake.requests_to(endpoint)
        if found:
            return found[-1]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no request to {endpoint} was recorded")


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
