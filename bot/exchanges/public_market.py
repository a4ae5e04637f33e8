"""An exchange's public market data through ccxt: ticker prices and market rules, no keys.

ccxt is imported here, lazily, on first use: it costs ~0.7 s and ~100 MB, which paper mode with a
CSV or the simulated market never pays.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from bot.exchanges.base import ExchangeUnavailable, MarketRules, PriceQuote
from bot.exchanges.markets import rules_from_ccxt_market
from bot.exchanges.request_observers import timed
from bot.exchanges.single_flight import SingleFlight
from strategies.candles import Candle

T = TypeVar("T")
Clock = Callable[[], datetime]
DAY = timedelta(days=1)
PUBLIC = "public"  # the mode its requests are counted under: keyless market data
OHLCV_PAGE = 500


def _candle(row: list[Any]) -> Candle:
    stamp, *values = row[:6]
    open_, high, low, close, volume = (Decimal(str(v if v is not None else 0)) for v in values)
    return Candle(datetime.fromtimestamp(stamp / 1000, UTC), open_, high, low, close, volume)


async def closed_daily_candles(
    fetch_page: Callable[[int], Awaitable[list[list[Any]]]], limit: int, now: datetime
) -> list[Candle]:
    """The last `limit` closed daily candles, paging forward from `limit + 1` days ago.

    `fetch_page(since_ms)` returns ccxt OHLCV rows from `since_ms` on. The candle that contains
    `now` is still forming and is dropped: a trend decided on it could flip back by the close.
    """
    since_ms = int((now - DAY * (limit + 1)).timestamp() * 1000)
    end_ms = int(now.timestamp() * 1000)
    by_time: dict[int, list[Any]] = {}
    while since_ms < end_ms:
        fresh = [row for row in await fetch_page(since_ms) if row[0] not in by_time]
        if not fresh:
            break
        by_time.update((row[0], row) for row in fresh)
        since_ms = max(row[0] for row in fresh) + int(DAY.total_seconds() * 1000)
    candles = [_candle(row) for _, row in sorted(by_time.items())]
    return [c for c in candles if c.time + DAY <= now][-limit:]


def create_ccxt_client(
    exchange_id: str, *, base_url: str = "", timeout_s: float = 30.0, **config: Any
) -> Any:
    """A ccxt async client for `exchange_id`, pointed at `base_url` when one is set."""
    import ccxt.async_support as ccxt_async

    from bot.exchanges.endpoints import ccxt_options_for, point_at

    if not hasattr(ccxt_async, exchange_id):
        raise ExchangeUnavailable(f"ccxt does not know an exchange called {exchange_id!r}")
    options = ccxt_options_for(exchange_id)
    client = getattr(ccxt_async, exchange_id)(
        {"timeout": int(timeout_s * 1000), "enableRateLimit": True, **options, **config}
    )
    if base_url:
        point_at(client, base_url)
    return client


class PublicMarket:
    """Ticker and market rules of one exchange, read through ccxt without credentials."""

    def __init__(
        self,
        exchange_id: str,
        clock: Clock,
        *,
        base_url: str = "",
        timeout_s: float = 10.0,
        client_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.exchange_id = exchange_id
        self.clock = clock
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.client_config = dict(client_config or {})
        self._client: Any = None
        self._rules: dict[str, MarketRules] = {}
        self._prices: SingleFlight[PriceQuote] = SingleFlight()

    def _ccxt(self) -> Any:
        if self._client is None:
            self._client = create_ccxt_client(
                self.exchange_id,
                base_url=self.base_url,
                timeout_s=self.timeout_s,
                **self.client_config,
            )
        return self._client

    async def _timed(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """One keyless request, timed for the request observers (metrics), as mode `public`."""
        return await timed(self.exchange_id, PUBLIC, what, call)

    async def market_rules(self, symbol: str) -> MarketRules:
        if symbol not in self._rules:
            import ccxt

            try:
                markets = await self._timed("the market list", self._ccxt().load_markets)
            except ccxt.BaseError as exc:
                raise ExchangeUnavailable(
                    f"{self.exchange_id}: cannot load markets ({type(exc).__name__})"
                ) from None
            if symbol not in markets:
                raise ExchangeUnavailable(f"{self.exchange_id} has no market {symbol}")
            self._rules[symbol] = rules_from_ccxt_market(self.exchange_id, markets[symbol])
        return self._rules[symbol]

    async def price(self, symbol: str) -> PriceQuote:
        """The ticker; callers asking at the same time share one request (`SingleFlight`)."""
        return await self._prices.run(symbol, lambda: self._fetch_price(symbol))

    async def _fetch_price(self, symbol: str) -> PriceQuote:
        import ccxt

        try:
            ticker = await self._timed(
                f"the {symbol} ticker", lambda: self._ccxt().fetch_ticker(symbol)
            )
        except ccxt.BaseError as exc:
            raise ExchangeUnavailable(
                f"{self.exchange_id}: no ticker for {symbol} ({type(exc).__name__})"
            ) from None
        last = ticker.get("last") or ticker.get("close")
        if last is None:
            raise ExchangeUnavailable(f"{self.exchange_id}: ticker for {symbol} has no price")
        return PriceQuote(
            symbol, Decimal(str(last)), f"{self.exchange_id} ticker", False, self.clock()
        )

    async def closed_candles(self, symbol: str, limit: int) -> list[Candle]:
        """Closed daily candles through ccxt, paginated; the forming candle is dropped."""
        import ccxt

        async def fetch_page(since_ms: int) -> list[list[Any]]:
            rows: list[list[Any]] = await self._timed(
                f"the {symbol} candles",
                lambda: self._ccxt().fetch_ohlcv(symbol, "1d", since=since_ms, limit=OHLCV_PAGE),
            )
            return rows

        try:
            return await closed_daily_candles(fetch_page, limit, self.clock())
        except ccxt.BaseError as exc:
            raise ExchangeUnavailable(
                f"{self.exchange_id}: no candles for {symbol} ({type(exc).__name__})"
            ) from None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
