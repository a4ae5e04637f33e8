"""Values also in the owner's money (`DCABOT_DISPLAY_FIAT=THB`): the rate of 1 USDT from a
market of the first exchange (`DCABOT_FIAT_MARKET=USDT/THB`, read at most every 5 minutes) or
a fixed rate (`DCABOT_FIAT_RATE`), always shown with where it came from and how old it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from bot.engine.context import Engine
from bot.exchanges.base import ExchangeError
from bot.i18n import _

FRESH = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class FiatRate:
    currency: str
    rate: Decimal  # of 1 USDT
    source: str
    at: datetime | None  # None: a fixed rate

    def of(self, usdt: Decimal) -> Decimal:
        return usdt * self.rate

    def label(self, now: datetime) -> str:
        if self.at is None:
            return _("{rate} a USDT, {source}").format(rate=self.rate, source=self.source)
        minutes = int((now - self.at).total_seconds() // 60)
        if minutes < 1:
            return _("{rate} a USDT, {source}, just now").format(rate=self.rate,
                                                                  source=self.source)
        return _("{rate} a USDT, {source}, {minutes} min ago").format(
            rate=self.rate, source=self.source, minutes=minutes)


async def fiat_rate(engine: Engine, *, read: bool = True) -> FiatRate | None:
    """The rate to show values with, or None when no fiat is set or no rate can be had.
    Without `read` (an answer that may not wait for the exchange) the kept rate of any age."""
    settings = engine.settings
    currency = settings.display_fiat
    if not currency:
        return None
    market = settings.fiat_market
    if market:
        kept = engine.memory.prices.get(market)
        if kept is not None and (engine.clock() - kept.at < FRESH or not read):
            return FiatRate(currency, kept.price, f"{engine.exchange.name} {market}", kept.at)
        try:
            quote = await engine.exchange.reference_price(market) if read else None
        except (ExchangeError, LookupError):
            quote = None
        if quote is not None and not quote.simulated:
            engine.memory.prices[market] = quote
            return FiatRate(currency, quote.price, f"{engine.exchange.name} {market}", quote.at)
    if settings.fiat_rate is not None:
        return FiatRate(currency, settings.fiat_rate, _("fixed (DCABOT_FIAT_RATE)"), None)
    return None
