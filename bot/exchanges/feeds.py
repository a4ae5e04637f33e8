"""Price and market-rule feeds for the paper exchange, chosen from the settings by the engine.

`FallbackFeed` asks the real exchange's public API and, when it cannot be reached, falls back to
the simulated market with the snapshot rules, trying the exchange again every few minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.exchanges.base import ExchangeUnavailable, MarketRules, PriceQuote
from bot.exchanges.markets import snapshot_rules
from bot.exchanges.prices import CandleReplay, SimulatedMarket
from bot.exchanges.public_market import PublicMarket
from strategies.candles import Candle

Clock = Callable[[], datetime]
RETRY_EXCHANGE_AFTER = timedelta(minutes=10)


def rules_offline(exchange: str, symbol: str) -> MarketRules:
    rules = snapshot_rules(exchange, symbol)
    if rules is None:
        raise ExchangeUnavailable(
            f"no stored market rules for {symbol} on {exchange} while offline; "
            "use binance BTC/USDT or PAXG/USDT, or okx BTC/USDT"
        )
    return rules


class OfflineFeed:
    """Simulated or replayed prices with the snapshot rules: no network, no ccxt.

    `more` adds replays for other symbols (S4's gold), chosen by symbol.
    """

    def __init__(
        self,
        exchange: str,
        prices: SimulatedMarket | CandleReplay,
        more: dict[str, CandleReplay] | None = None,
    ) -> None:
        self.exchange = exchange
        self.main = prices
        self.more = more or {}

    @property
    def offline(self) -> bool:
        """Whether its prices are the simulated market's (no exchange asked)."""
        return isinstance(self.main, SimulatedMarket)

    def source(self, symbol: str) -> SimulatedMarket | CandleReplay:
        return self.more.get(symbol, self.main)

    async def price(self, symbol: str) -> PriceQuote:
        return self.source(symbol).price(symbol)

    async def reference_price(self, symbol: str) -> PriceQuote:
        return await self.price(symbol)

    async def market_rules(self, symbol: str) -> MarketRules:
        return rules_offline(self.exchange, symbol)

    async def closed_candles(self, symbol: str, limit: int) -> list[Candle]:
        return self.source(symbol).closed_candles(symbol, limit)

    async def close(self) -> None:
        return None


class FallbackFeed:
    """The exchange's public data when reachable, else the simulated market (clearly labelled)."""

    def __init__(
        self,
        public: PublicMarket,
        simulated: SimulatedMarket,
        clock: Clock,
        *,
        allow_simulated: bool = True,
    ) -> None:
        self.public = public
        self.simulated = simulated
        self.clock = clock
        self.allow_simulated = allow_simulated
        self._offline_since: datetime | None = None

    @property
    def offline(self) -> bool:
        """Whether the last answer came from the simulated market (the exchange unreachable)."""
        return self._offline_since is not None

    def _exchange_worth_trying(self) -> bool:
        if self._offline_since is None:
            return True
        return self.clock() - self._offline_since >= RETRY_EXCHANGE_AFTER

    async def price(self, symbol: str) -> PriceQuote:
        if self._exchange_worth_trying():
            try:
                quote = await self.public.price(symbol)
            except ExchangeUnavailable:
                if not self.allow_simulated:
                    raise
                self._offline_since = self.clock()
            else:
                self._offline_since = None
                return quote
        return self.simulated.price(symbol)

    async def reference_price(self, symbol: str) -> PriceQuote:
        """The exchange's price, or the error: a market it does not list, or one failed read,
        must not put every price of the account on the simulated market for 10 minutes."""
        if self._offline_since is not None:
            raise ExchangeUnavailable(f"{self.public.exchange_id} is offline")
        return await self.public.price(symbol)

    async def market_rules(self, symbol: str) -> MarketRules:
        if self._offline_since is None:
            try:
                return await self.public.market_rules(symbol)
            except ExchangeUnavailable:
                if not self.allow_simulated:
                    raise
                self._offline_since = self.clock()
        return rules_offline(self.public.exchange_id, symbol)

    async def closed_candles(self, symbol: str, limit: int) -> list[Candle]:
        if self._exchange_worth_trying():
            try:
                return await self.public.closed_candles(symbol, limit)
            except ExchangeUnavailable:
                if not self.allow_simulated:
                    raise
                self._offline_since = self.clock()
        return self.simulated.closed_candles(symbol, limit)

    async def close(self) -> None:
        await self.public.close()
