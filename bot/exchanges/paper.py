"""The paper exchange: a simulated account with the real market's rules.

Balances and fills live in the database, so a restart keeps them. Orders fill at once at the
current price with the taker fee (charged in the asset received, as Binance does), after the same
quantizing and minimum checks a real market applies. A client order id already filled returns the
earlier fill, so retrying an order can never fill it twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy.orm import Session

from bot.exchanges.base import Fill, InsufficientFunds, MarketRules, PriceQuote
from bot.exchanges.quantize import fmt_plain, plan_buy, plan_sell
from bot.exchanges.trade_history import ExchangeOrder, TradePage
from storage import paper
from storage.db import Database
from storage.models import PaperFill
from storage.types import plain_decimal
from strategies.candles import Candle

Clock = Callable[[], datetime]


class MarketFeed(Protocol):
    """Where the paper exchange reads prices and market rules (see `bot.exchanges.feeds`)."""

    async def price(self, symbol: str) -> PriceQuote: ...

    async def reference_price(self, symbol: str) -> PriceQuote: ...

    async def market_rules(self, symbol: str) -> MarketRules: ...

    async def closed_candles(self, symbol: str, limit: int) -> list[Candle]: ...

    async def close(self) -> None: ...


class PaperExchange:
    """Implements `bot.exchanges.base.Exchange` against the paper balances in the database."""

    mode = "paper"

    def __init__(
        self,
        db: Database,
        *,
        name: str,
        feed: MarketFeed,
        taker_fee: Decimal,
        opening_balances: Mapping[str, Decimal],
        clock: Clock,
    ) -> None:
        self.db = db
        self.name = name
        self.feed = feed
        self.taker_fee = taker_fee
        self.opening_balances = dict(opening_balances)
        self.clock = clock
        self._opened = False  # the account has its opening balances (checked once)

    async def price(self, symbol: str) -> PriceQuote:
        return await self.feed.price(symbol)

    async def reference_price(self, symbol: str) -> PriceQuote:
        return await self.feed.reference_price(symbol)

    async def market_rules(self, symbol: str) -> MarketRules:
        return await self.feed.market_rules(symbol)

    async def balances(self) -> dict[str, Decimal]:
        return await self.db.transact(self._balances)

    def _balances(self, session: Session) -> dict[str, Decimal]:
        if not self._opened:
            paper.ensure_opened(session, self.name, self.opening_balances)
            self._opened = True
        return paper.balances(session, self.name)

    def server_now(self) -> datetime:
        return self.clock()

    async def measure_clock(self) -> None:
        """The paper exchange runs on the bot's own clock."""

    async def buy_with_quote(
        self,
        symbol: str,
        quote_amount: Decimal,
        client_order_id: str,
        *,
        on_attempt: Callable[[datetime], Awaitable[None]] | None = None,
    ) -> Fill:
        rules = await self.feed.market_rules(symbol)
        quote = await self.feed.price(symbol)
        plan = plan_buy(rules, quote_amount, quote.price)
        fee = plain_decimal(plan.amount * self.taker_fee)
        return await self.db.run(
            self._settle, rules, "buy", plan.amount, plan.cost, quote, fee, rules.base,
            client_order_id,
        )

    async def sell_base(
        self,
        symbol: str,
        base_amount: Decimal,
        client_order_id: str,
        *,
        on_attempt: Callable[[datetime], Awaitable[None]] | None = None,
    ) -> Fill:
        rules = await self.feed.market_rules(symbol)
        quote = await self.feed.price(symbol)
        plan = plan_sell(rules, base_amount, quote.price)
        fee = plain_decimal(plan.cost * self.taker_fee)
        return await self.db.run(
            self._settle, rules, "sell", plan.amount, plan.cost, quote, fee, rules.quote,
            client_order_id,
        )

    async def find_order(self, symbol: str, client_order_id: str) -> Fill | None:
        row = await self.db.transact(paper.find_fill, self.name, client_order_id)
        return _as_fill(row) if row is not None else None

    async def closed_candles(self, symbol: str, limit: int) -> list[Candle]:
        return await self.feed.closed_candles(symbol, limit)

    async def trade_history(self, symbol: str, cursor: str) -> TradePage:
        """Every paper fill is an order of this bot: the list is the paper fills after `cursor`
        (the last fill's id)."""
        rows = await self.db.transact(paper.fills_after, self.name, symbol, int(cursor or 0))
        orders = tuple(ExchangeOrder(_as_fill(row), row.created_at) for row in rows)
        return TradePage(orders, str(rows[-1].id) if rows else cursor)

    async def order_status(self, symbol: str, exchange_order_id: str) -> tuple[str, bool]:
        number = exchange_order_id.removeprefix("paper-")
        if not number.isdigit():
            return "", True
        row = await self.db.transact(paper.fill_by_id, self.name, int(number))
        return (row.client_order_id if row is not None else ""), True  # fills at once

    async def close(self) -> None:
        await self.feed.close()

    def _settle(
        self,
        rules: MarketRules,
        side: str,
        amount: Decimal,
        cost: Decimal,
        quote: PriceQuote,
        fee: Decimal,
        fee_asset: str,
        client_order_id: str,
    ) -> Fill:
        with self.db.transaction() as session:
            earlier = paper.find_fill(session, self.name, client_order_id)
            if earlier is not None:
                return _as_fill(earlier)
            paper.ensure_opened(session, self.name, self.opening_balances)
            held = paper.balances(session, self.name, lock=True)
            pay_asset, pay = (rules.quote, cost) if side == "buy" else (rules.base, amount)
            get_asset, get = (
                (rules.base, amount - fee) if side == "buy" else (rules.quote, cost - fee)
            )
            if held.get(pay_asset, Decimal(0)) < pay:
                raise InsufficientFunds(
                    f"paper {self.name} account has {fmt_plain(held.get(pay_asset, Decimal(0)))} "
                    f"{pay_asset}; this order needs {fmt_plain(pay)}"
                )
            paper.adjust(session, self.name, pay_asset, -pay)
            paper.adjust(session, self.name, get_asset, get)
            row = PaperFill(
                exchange=self.name,
                client_order_id=client_order_id,
                symbol=rules.symbol,
                side=side,
                amount=amount,
                cost=cost,
                price=quote.price,
                fee=fee,
                fee_asset=fee_asset,
                simulated_price=quote.simulated,
                created_at=self.clock(),
            )
            session.add(row)
            session.flush()
            return _as_fill(row)


def _as_fill(row: PaperFill) -> Fill:
    return Fill(
        client_order_id=row.client_order_id,
        exchange_order_id=f"paper-{row.id}",
        symbol=row.symbol,
        side=row.side,
        amount=row.amount,
        cost=row.cost,
        price=row.price,
        fee=row.fee,
        fee_asset=row.fee_asset,
        simulated_price=row.simulated_price,
        fees=((row.fee_asset, row.fee),),
    )
