"""Several exchanges' portfolios side by side, and their total.

Each exchange's figures are its own (`portfolio.portfolio_status`); the total is their exact
`Decimal` sum, so what `/status` shows per exchange adds up to what it shows as the total.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.engine.accounts import Accounts
from bot.engine.context import Engine
from bot.engine.portfolio import PortfolioStatus, refreshing_status, remembered_status
from bot.exchanges.base import ExchangeError

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Unreachable:
    exchange: str
    mode: str
    reason: str


@dataclass(frozen=True, slots=True)
class PortfolioTotal:
    """Sums over the exchanges that answered; money values are summed as shown (to the cent)."""

    parts: tuple[PortfolioStatus | Unreachable, ...]

    @property
    def answered(self) -> tuple[PortfolioStatus, ...]:
        return tuple(p for p in self.parts if isinstance(p, PortfolioStatus))

    @property
    def complete(self) -> bool:
        return len(self.answered) == len(self.parts)

    @property
    def by_mode(self) -> dict[str, PortfolioTotal]:
        """Paper money is never added to live money: a total per mode."""
        modes = dict.fromkeys(p.mode for p in self.parts)
        return {mode: PortfolioTotal(tuple(p for p in self.parts if p.mode == mode))
                for mode in modes}

    def _sum(self, values: Sequence[Decimal]) -> Decimal:
        return sum(values, Decimal(0))

    @property
    def base_held(self) -> Decimal:
        return self._sum([p.base_held for p in self.answered])

    @property
    def quote_free(self) -> Decimal:
        return self._sum([p.quote_free.quantize(CENT) for p in self.answered])

    @property
    def reserve(self) -> Decimal:
        return self._sum([p.reserve.quantize(CENT) for p in self.answered])

    @property
    def value(self) -> Decimal:
        return self._sum([p.total_value.quantize(CENT) for p in self.answered])

    @property
    def unrealized_pnl(self) -> Decimal | None:
        known = [p.unrealized_pnl for p in self.answered if p.unrealized_pnl is not None]
        return self._sum([pnl.quantize(CENT) for pnl in known]) if known else None


async def _one(engine: Engine, quick_s: float) -> PortfolioStatus | Unreachable:
    """Fresh figures within `quick_s`, else the last known ones, else the fresh ones when they
    come; an exchange that cannot be read is said so, and the others still show."""
    fresh, waited = refreshing_status(engine)
    try:
        return await asyncio.wait_for(asyncio.shield(fresh), max(quick_s - waited, 0.001))
    except TimeoutError:
        remembered = await remembered_status(engine)
        if remembered is not None:
            return remembered
    except ExchangeError:
        pass
    try:
        return await fresh
    except ExchangeError as exc:
        remembered = await remembered_status(engine)
        if remembered is not None:
            return remembered
        return Unreachable(engine.exchange.name, engine.exchange.mode, str(exc)[:120])


async def portfolio_total(accounts: Accounts, quick_s: float) -> PortfolioTotal:
    parts = await asyncio.gather(*(_one(engine, quick_s) for engine in accounts))
    return PortfolioTotal(tuple(parts))
