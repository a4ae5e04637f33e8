"""One request in flight per key: callers asking the same thing at once share one answer.

A hundred people sending `/status` in the same second need one ticker request, not a hundred
queued behind ccxt's rate limiter (and behind one slow answer). Only reads whose answer may be
shared are coalesced: never the balances an order's funds are checked against.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Future[T]] = {}

    async def run(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(fetch())
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        return await asyncio.shield(flight)

    def _landed(self, key: str, flight: asyncio.Future[T]) -> None:
        self._flights.pop(key, None)
        if not flight.cancelled():
            flight.exception()  # seen here: its askers may all have gone (a shutdown)
