"""The engine's collaborators, built once from the settings and handed to every use case."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.config import Settings
from bot.exchanges.base import Exchange, PriceQuote
from storage.db import Database

Clock = Callable[[], datetime]


@dataclass
class MarketMemory:
    """The last price of each symbol and the last balances this process read, with when."""

    prices: dict[str, PriceQuote] = field(default_factory=dict)
    balances: dict[str, Decimal] | None = None
    balances_at: datetime | None = None
    # the fresh read of the portfolio in flight, shared by every /status asked meanwhile
    refreshing: asyncio.Future[Any] | None = None
    refresh_started: float = 0.0  # time.monotonic() when it started
    # the last CDC trend read on this market (a `trend_watch.TrendReading`), for the other
    # exchanges' runs while this one cannot be reached
    trend: Any = None


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Engine:
    """Settings, the database, the exchange in use and the clock (simulated in replays)."""

    settings: Settings
    db: Database
    exchange: Exchange
    clock: Clock = system_clock
    # client order ids this process is sending right now: periodic reconciliation leaves them
    in_flight: set[str] = field(default_factory=set)
    # the last price and balances read, for answers while the exchange is slow to answer
    memory: MarketMemory = field(default_factory=lambda: MarketMemory())
    # the engine whose market gives the CDC trend to every exchange (None: this one)
    trend_source: Engine | None = None

    @property
    def symbol(self) -> str:
        return self.settings.symbol

    @property
    def mode(self) -> str:
        return self.exchange.mode
