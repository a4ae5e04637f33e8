"""What every exchange offers the engine, paper or real, and the errors it may raise.

The paper exchange and the ccxt adapter implement the same `Exchange` protocol and pass the same
contract tests, so the engine never knows which one it is talking to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from strategies.candles import Candle

if TYPE_CHECKING:
    from bot.exchanges.trade_history import TradePage


@dataclass(frozen=True, slots=True)
class MarketRules:
    """The rules an exchange applies to orders on one market (Binance's filters, OKX's sizes)."""

    exchange: str
    symbol: str
    base: str
    quote: str
    amount_step: Decimal
    price_tick: Decimal
    min_amount: Decimal
    min_cost: Decimal
    source: str = "exchange"
    max_amount: Decimal | None = None  # Binance LOT_SIZE maxQty
    max_market_amount: Decimal | None = None  # Binance MARKET_LOT_SIZE maxQty
    max_cost: Decimal | None = None  # Binance NOTIONAL maxNotional (when applied to market)


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """A price and where it came from; `simulated` prices must be labelled on every card."""

    symbol: str
    price: Decimal
    source: str
    simulated: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class Fill:
    """An order the exchange executed. `amount` is gross base, `cost` is quote paid or received.

    `fee` / `fee_asset` is the fee in the asset received (what changes the holdings most);
    `fees` lists every currency the fee was taken in (Binance may take part in BNB and part in
    BTC) with its amount. `complete` is False when the exchange ended the order with only part
    of it filled (a market order that ran out of liquidity: Binance EXPIRED, OKX canceled)."""

    client_order_id: str
    exchange_order_id: str
    symbol: str
    side: str
    amount: Decimal
    cost: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    simulated_price: bool = False
    fees: tuple[tuple[str, Decimal], ...] = ()
    complete: bool = True

    def fee_in(self, asset: str) -> Decimal:
        """The part of the fee taken in `asset`."""
        if self.fees:
            return sum((amount for name, amount in self.fees if name == asset), Decimal(0))
        return self.fee if self.fee_asset == asset else Decimal(0)

    def net_base(self, base: str) -> Decimal:
        """Base asset that changed hands after the part of the fee charged in it."""
        return self.amount - self.fee_in(base)

    def net_quote(self, quote: str) -> Decimal:
        """Quote asset that changed hands after the part of the fee charged in it."""
        return self.cost - self.fee_in(quote)


class ExchangeError(Exception):
    """Base class. The message is safe to show in chat: it names the exchange and the rule."""


class OrderRejected(ExchangeError):
    """The order was not placed (our own check or the exchange refused it). Nothing happened."""


class BelowMinimum(OrderRejected):
    """The order is smaller than the market's minimum amount or cost after quantizing.

    `minimum_cost` is the market's minimum in the quote asset, when that is the rule broken.
    """

    def __init__(self, message: str, minimum_cost: Decimal | None = None) -> None:
        super().__init__(message)
        self.minimum_cost = minimum_cost


class InsufficientFunds(OrderRejected):
    """The account does not hold enough of the asset to pay for the order."""


class UnknownMarket(OrderRejected):
    """The exchange lists no such market, or it is not trading: nothing can be placed on it."""


class OrderUncertain(ExchangeError):
    """The order may or may not exist on the exchange; look it up by client order id."""


class ExchangeUnavailable(ExchangeError):
    """The exchange cannot be reached or refuses service right now; nothing was placed."""


class Exchange(Protocol):
    """The operations the engine needs from an exchange."""

    name: str
    mode: str

    async def price(self, symbol: str) -> PriceQuote: ...

    async def reference_price(self, symbol: str) -> PriceQuote:
        """A price only shown to people (a fiat rate): its failure changes nothing else, e.g.
        it never switches a paper account's prices to the simulated market."""
        ...

    async def market_rules(self, symbol: str) -> MarketRules: ...

    async def balances(self) -> dict[str, Decimal]: ...

    async def buy_with_quote(
        self,
        symbol: str,
        quote_amount: Decimal,
        client_order_id: str,
        *,
        on_attempt: Callable[[datetime], Awaitable[None]] | None = None,
    ) -> Fill:
        """Spend `quote_amount`. `on_attempt(deadline)` is awaited before each request that may
        place the order, with the time (exchange clock) after which it can no longer land."""
        ...

    async def sell_base(
        self,
        symbol: str,
        base_amount: Decimal,
        client_order_id: str,
        *,
        on_attempt: Callable[[datetime], Awaitable[None]] | None = None,
    ) -> Fill: ...

    async def find_order(self, symbol: str, client_order_id: str) -> Fill | None:
        """The order's fill, None when the exchange does not know it (proof of nothing before
        its deadline), `OrderRejected` when it ended with nothing filled."""
        ...

    def server_now(self) -> datetime:
        """Now on the exchange's clock (deadlines are on it)."""
        ...

    async def measure_clock(self) -> None:
        """Measure the exchange's clock if never done (or long ago), so `server_now` can be
        trusted to judge a deadline; `ExchangeError` when it cannot be asked."""
        ...

    async def closed_candles(self, symbol: str, limit: int) -> list[Candle]:
        """The last `limit` closed daily candles, oldest first; never the one still forming."""
        ...

    async def trade_history(self, symbol: str, cursor: str) -> TradePage:
        """The account's orders on `symbol` from the trade list, after `cursor`."""
        ...

    async def order_status(self, symbol: str, exchange_order_id: str) -> tuple[str, bool]:
        """(client order id, done executing) of an order known by its exchange id."""
        ...

    async def close(self) -> None: ...
