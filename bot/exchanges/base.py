"""What every exchange offers the engine, paper or real, and the errors it may raise.

The paper exchange and the ccxt adapter implement the same `Exchange` protocol and pass the same
contract tests, so the engine never knows which one it is talking to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from strategies.candles import Candle


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
    """An order the exchange executed. `amount` is gross base, `cost` is quote paid or received."""

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

    def net_base(self, base: str) -> Decimal:
        """Base asset that changed hands after a fee charged in the base asset."""
        return self.amount - self.fee if self.fee_asset == base else self.amount

    def net_quote(self, quote: str) -> Decimal:
        """Quote asset that changed hands after a fee charged in the quote asset."""
        return self.cost - self.fee if self.fee_asset == quote else self.cost


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

    async def market_rules(self, symbol: str) -> MarketRules: ...

    async def balances(self) -> dict[str, Decimal]: ...

    async def buy_with_quote(
        self, symbol: str, quote_amount: Decimal, client_order_id: str
    ) -> Fill: ...

    async def sell_base(self, symbol: str, base_amount: Decimal, client_order_id: str) -> Fill: ...

    async def find_order(self, symbol: str, client_order_id: str) -> Fill | None: ...

    async def closed_candles(self, symbol: str, limit: int) -> list[Candle]:
        """The last `limit` closed daily candles, oldest first; never the one still forming."""
        ...

    async def close(self) -> None: ...
