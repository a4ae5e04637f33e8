"""The engine's collaborators, built once from the settings and handed to every use case."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.config import Settings
from bot.exchanges.base import Exchange
from storage.db import Database

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Engine:
    """Settings, the database, the exchange in use and the clock (simulated in replays)."""

    settings: Settings
    db: Database
    exchange: Exchange
    clock: Clock = system_clock

    @property
    def symbol(self) -> str:
        return self.settings.symbol

    @property
    def mode(self) -> str:
        return self.exchange.mode
