"""Every exchange the bot trades on, side by side: one engine per exchange, one database.

`DCABOT_EXCHANGES=binance,okx` opens an engine for each (its own mode, keys, circuit breaker,
rate gate and clock), all sharing the database, the clock and the settings; the first is the
default for commands that name no exchange. The CDC trend is read on one of them
(`DCABOT_SIGNAL_EXCHANGE`) for all, so two exchanges never disagree on a flip.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bot.config import Settings
from bot.engine.context import Clock, Engine
from bot.engine.errors import UserError, shown
from bot.i18n import _
from storage.db import Database


@dataclass
class Accounts:
    """The engines by exchange name, in the order `DCABOT_EXCHANGES` lists them."""

    engines: dict[str, Engine]

    @classmethod
    def of(cls, engine: Engine) -> Accounts:
        """One exchange only (tests, replays, and every one-exchange bot)."""
        return cls({engine.exchange.name: engine})

    @property
    def default(self) -> Engine:
        return next(iter(self.engines.values()))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.engines)

    @property
    def settings(self) -> Settings:
        return self.default.settings

    @property
    def db(self) -> Database:
        return self.default.db

    @property
    def clock(self) -> Clock:
        return self.default.clock

    @property
    def several(self) -> bool:
        return len(self.engines) > 1

    def __iter__(self) -> Iterator[Engine]:
        return iter(self.engines.values())

    def on(self, name: str | None) -> Engine:
        """The engine of the exchange a command named, the default when it named none."""
        if name is None:
            return self.default
        engine = self.engines.get(name.lower())
        if engine is None:
            raise UserError(
                _("{text} is not an exchange this bot trades on; use {exchanges}").format(
                    text=repr(shown(name)), exchanges=_(" or ").join(self.names))
            )
        return engine

    def is_exchange(self, word: str) -> bool:
        return word.lower() in self.engines

    async def close(self) -> None:
        for engine in self:
            await engine.exchange.close()
