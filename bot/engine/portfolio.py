"""Portfolio status: what the owner holds, what it cost, what it is worth, and the reserve."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from bot.engine.context import Engine
from bot.engine.funds import BalanceReading, Funds, funds_now, read_balances
from bot.exchanges.base import PriceQuote
from storage import ledger, orders
from storage.models import Order


@dataclass(frozen=True, slots=True)
class CostBasis:
    """Average-cost accounting: sells take out base at the average cost, buys add to it."""

    held: Decimal
    cost: Decimal

    @property
    def average(self) -> Decimal | None:
        return self.cost / self.held if self.held > 0 else None


def cost_basis(fills: Iterable[Order], base: str) -> CostBasis:
    held, cost = Decimal(0), Decimal(0)
    for order in fills:
        amount = order.filled_base or Decimal(0)
        fee = order.fee or Decimal(0)
        if order.side == "buy":
            held += amount - fee if order.fee_asset == base else amount
            cost += order.filled_quote or Decimal(0)
        elif held > 0:
            sold = min(amount, held)
            cost -= cost * sold / held
            held -= sold
    return CostBasis(held=held, cost=cost)


@dataclass(frozen=True, slots=True)
class PortfolioStatus:
    exchange: str
    mode: str
    base: str
    quote: str
    price: PriceQuote
    base_held: Decimal
    quote_balance: Decimal
    reserve: Decimal
    average_cost: Decimal | None
    cost: Decimal
    quote_funds: Funds
    base_funds: Funds
    as_of: datetime | None = None  # set when the figures are the last known, not fresh

    @property
    def quote_free(self) -> Decimal:
        """Quote the bot may spend on a buy: the balance less the reserve and what orders in
        flight hold (`funds`)."""
        return self.quote_funds.spendable

    @property
    def base_value(self) -> Decimal:
        return self.base_held * self.price.price

    @property
    def total_value(self) -> Decimal:
        return self.base_value + self.quote_balance

    @property
    def unrealized_pnl(self) -> Decimal | None:
        if self.average_cost is None:
            return None
        return self.base_value - self.base_held * self.average_cost

    @property
    def unrealized_pct(self) -> Decimal | None:
        pnl = self.unrealized_pnl
        basis = self.base_held * self.average_cost if self.average_cost is not None else None
        if pnl is None or not basis:
            return None
        return pnl / basis * 100


async def portfolio_status(engine: Engine) -> PortfolioStatus:
    """The portfolio now, read fresh from the exchange (and remembered for `remembered`)."""
    price = await engine.exchange.price(engine.symbol)
    reading = await read_balances(engine)
    memory = engine.memory
    memory.prices[engine.symbol] = price
    memory.balances, memory.balances_at = reading.balances, engine.clock()
    return _status(engine, price, reading)


def remembered_status(engine: Engine) -> PortfolioStatus | None:
    """The portfolio from the last price and balances read, labelled with their time; None
    when nothing was read yet."""
    memory = engine.memory
    price = memory.prices.get(engine.symbol)
    if price is None or memory.balances is None or memory.balances_at is None:
        return None
    with engine.db.transaction() as session:
        epoch = ledger.epoch(session, engine.exchange.name, engine.exchange.mode)
    status = _status(engine, price, BalanceReading(memory.balances, epoch))
    return replace(status, as_of=min(price.at, memory.balances_at))


def _status(engine: Engine, price: PriceQuote, reading: BalanceReading) -> PortfolioStatus:
    settings = engine.settings
    base, quote = settings.base_asset, settings.quote_asset
    exchange = engine.exchange
    held = reading.balances
    with engine.db.transaction() as session:
        quote_funds = funds_now(session, engine, reading, quote)
        base_funds = funds_now(session, engine, reading, base)
        reserve = quote_funds.reserve
        fills = orders.filled(
            session, exchange=exchange.name, mode=exchange.mode, symbol=engine.symbol
        )
        basis = cost_basis(fills, base)
    return PortfolioStatus(
        exchange=exchange.name,
        mode=exchange.mode,
        base=base,
        quote=quote,
        price=price,
        base_held=held.get(base, Decimal(0)),
        quote_balance=held.get(quote, Decimal(0)),
        reserve=reserve,
        average_cost=basis.average,
        cost=basis.cost,
        quote_funds=quote_funds,
        base_funds=base_funds,
    )
