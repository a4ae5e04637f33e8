"""Portfolio status: what the owner holds, what it cost, what it is worth, and the reserve."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from bot.engine.context import Engine
from bot.engine.funds import Funds
from bot.exchanges.base import PriceQuote
from storage import carry, holds, ledger, orders
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
        if order.side == "buy":  # as `profit.Books` counts it: a fee in quote adds to the cost
            held += amount - fee if order.fee_asset == base else amount
            quote_fee = fee if order.fee_asset == order.symbol.split("/")[-1] else Decimal(0)
            cost += (order.filled_quote or Decimal(0)) + quote_fee
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
    waiting_in_other_modes: dict[str, int] = field(default_factory=dict)

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
    balances = await engine.exchange.balances()
    read_at = engine.clock()
    status = await engine.db.run(_status, engine, price, dict(balances))
    memory = engine.memory  # remembered once complete: a read still in hand is not "last known"
    memory.prices[engine.symbol] = price
    memory.balances, memory.balances_at = balances, read_at
    return status


async def remembered_status(engine: Engine) -> PortfolioStatus | None:
    """The portfolio from the last price and balances read, labelled with their time; None
    when nothing was read yet."""
    memory = engine.memory
    price = memory.prices.get(engine.symbol)
    balances, balances_at = memory.balances, memory.balances_at
    if price is None or balances is None or balances_at is None:
        return None
    status = await engine.db.run(_status, engine, price, dict(balances))  # a copy: the loop's
    return replace(status, as_of=min(price.at, balances_at))


def _status(engine: Engine, price: PriceQuote, held: dict[str, Decimal]) -> PortfolioStatus:
    """Everything the books say beside the exchange's figures, in one transaction."""
    settings = engine.settings
    base, quote = settings.base_asset, settings.quote_asset
    exchange = engine.exchange
    with engine.db.transaction() as session:
        reserve = ledger.balance(session, exchange.name, exchange.mode)
        carried = carry.total(session, exchange.name, exchange.mode)
        in_flight = holds.held(session, exchange.name, exchange.mode)
        fills = orders.filled(
            session, exchange=exchange.name, mode=exchange.mode, symbol=engine.symbol
        )
        basis = cost_basis(fills, base)
        waiting = orders.open_in_other_modes(session, exchange.name, exchange.mode)
    zero = Decimal(0)
    quote_funds = Funds(quote, held.get(quote, zero), reserve, in_flight.get(quote, zero),
                        carried)
    base_funds = Funds(base, held.get(base, zero), zero, in_flight.get(base, zero))
    return PortfolioStatus(
        exchange=exchange.name,
        mode=exchange.mode,
        base=base,
        quote=quote,
        price=price,
        base_held=held.get(base, zero),
        quote_balance=held.get(quote, zero),
        reserve=reserve,
        average_cost=basis.average,
        cost=basis.cost,
        quote_funds=quote_funds,
        base_funds=base_funds,
        waiting_in_other_modes=waiting,
    )


def refreshing_status(engine: Engine) -> tuple[asyncio.Future[PortfolioStatus], float]:
    """The fresh read of the portfolio every `/status` shares, started if none is in flight,
    and how long (seconds) it has been on its way."""
    memory = engine.memory
    if memory.refreshing is None or memory.refreshing.done():
        memory.refreshing = asyncio.ensure_future(portfolio_status(engine))
        memory.refresh_started = time.monotonic()
        memory.refreshing.add_done_callback(_seen)
    return memory.refreshing, time.monotonic() - memory.refresh_started


def _seen(read: asyncio.Future[PortfolioStatus]) -> None:
    if not read.cancelled():
        read.exception()  # its askers report it; nobody may be left to ask (a shutdown)
