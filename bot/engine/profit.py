"""Money you can account for: what was put in, what it is worth, what was made and paid.

The books are the filled orders of one account (exchange and mode), replayed in the order they
filled, by the **average-cost method**, one position per market (BTC/USDT, and gold for S4):

- a buy adds the base it delivered (less a fee taken in base) and the quote it cost;
- a sale takes base out at the position's average cost; its realized P&L is the proceeds (less
  a fee taken in quote) minus that cost; the part of a sale beyond what the books hold (coins
  deposited, or bought before the bot's history) has no known cost: its proceeds are counted
  apart (`uncosted`), never as profit;
- a fee paid in a third currency (BNB) is charged to realized P&L when paid, at the value
  recorded with the fill;
- `invested` is the quote spent on buys; fees are totalled by cause, valued in the quote.

Everything is exact `Decimal`; nothing is rounded until a card shows it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from bot.engine.context import Engine
from bot.i18n import _
from storage.models import Order, OrderFee

ZERO = Decimal(0)
# the books' fee keys, by order cause: English in the books, `cause_shown` for a reader
CAUSES = {
    "schedule": "schedule",
    "flip_sell": "flip sell",
    "flip_buy": "deploy",
    "deploy": "deploy",
    "buy_now": "manual",
    "sell_now": "manual",
    "rotation": "S4",
    "external": "external",
}


def cause_shown(label: str) -> str:
    """A fee key of the books (a `CAUSES` value) in the reader's language."""
    shown = {"schedule": _("schedule"), "flip sell": _("flip sell"), "deploy": _("deploy"),
             "manual": _("manual"), "external": _("external")}
    return shown.get(label, label)


@dataclass(frozen=True, slots=True)
class Trade:
    """One filled order as the books need it."""

    at: datetime
    symbol: str
    side: str
    base: Decimal  # filled amount of base
    quote: Decimal  # filled cost or proceeds in quote
    fees: tuple[tuple[str, Decimal, Decimal | None], ...]  # (asset, amount, value in quote)
    cause: str

    @property
    def base_asset(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote_asset(self) -> str:
        return self.symbol.split("/")[1]

    def fee_in(self, asset: str) -> Decimal:
        return sum((amount for a, amount, _value in self.fees if a == asset), ZERO)

    @property
    def fee_value(self) -> Decimal:
        """Every fee valued in the quote (a base fee at the fill's price when not recorded)."""
        total = ZERO
        for asset, amount, value in self.fees:
            if value is not None:
                total += value
            elif asset == self.quote_asset:
                total += amount
            elif asset == self.base_asset and self.base:
                total += amount * self.quote / self.base
        return total


@dataclass
class Position:
    held: Decimal = ZERO
    cost: Decimal = ZERO

    @property
    def average(self) -> Decimal | None:
        return self.cost / self.held if self.held > 0 else None


@dataclass
class Books:
    """The account's books after some trades; `apply` them in fill order."""

    positions: dict[str, Position] = field(default_factory=dict)
    invested: Decimal = ZERO
    realized: Decimal = ZERO
    bought: Decimal = ZERO  # quote spent on buys (same as invested, kept per period)
    sold: Decimal = ZERO  # quote received from sales, before fees
    fees: dict[str, Decimal] = field(default_factory=dict)  # by cause, valued in quote
    # proceeds of coins sold that the books never saw bought (deposited, or bought before the
    # history the bot has): not P&L, since their cost is unknown
    uncosted: Decimal = ZERO

    def apply(self, trade: Trade) -> Decimal:
        """Book one trade; returns the realized P&L it made."""
        position = self.positions.setdefault(trade.symbol, Position())
        base, quote = trade.base_asset, trade.quote_asset
        other = sum(
            (v or ZERO for a, _amount, v in trade.fees if a not in (base, quote)), ZERO
        )
        cause = CAUSES.get(trade.cause, trade.cause)
        self.fees[cause] = self.fees.get(cause, ZERO) + trade.fee_value
        made = -other
        if trade.side == "buy":
            position.held += trade.base - trade.fee_in(base)
            position.cost += trade.quote + trade.fee_in(quote)
            self.invested += trade.quote
            self.bought += trade.quote
        else:
            sold = min(trade.base, position.held)
            cost_out = position.cost * sold / position.held if position.held > 0 else ZERO
            position.held -= sold
            position.cost -= cost_out
            proceeds = trade.quote - trade.fee_in(quote)
            covered = proceeds * sold / trade.base if trade.base else ZERO
            made += covered - cost_out
            self.uncosted += proceeds - covered
            self.sold += trade.quote
        self.realized += made
        return made

    def unrealized(self, prices: dict[str, Decimal]) -> Decimal:
        return sum(
            (p.held * prices[s] - p.cost for s, p in self.positions.items()
             if p.held > 0 and s in prices),
            ZERO,
        )

    def value(self, prices: dict[str, Decimal]) -> Decimal:
        return sum(
            (p.held * prices[s] for s, p in self.positions.items() if s in prices), ZERO
        )


def trades(engine: Engine, until: datetime | None = None) -> list[Trade]:
    """The account's filled orders as trades, in the order they filled."""
    exchange = engine.exchange
    query = (
        select(Order)
        .where(Order.exchange == exchange.name, Order.mode == exchange.mode,
               Order.status == "filled")
        .order_by(Order.id)
    )
    with engine.db.transaction() as session:
        rows = list(session.scalars(query))
        fees: dict[int, list[OrderFee]] = {}
        if rows:
            for fee in session.scalars(select(OrderFee).where(
                    OrderFee.order_id.in_([o.id for o in rows]))):
                fees.setdefault(fee.order_id, []).append(fee)
        found = [_trade(order, fees.get(order.id, [])) for order in rows]
    found.sort(key=lambda t: t.at)  # stable: orders filled in the same instant keep their ids'
    return [t for t in found if until is None or t.at <= until]


def _trade(order: Order, fees: Sequence[OrderFee]) -> Trade:
    if fees:
        paid = tuple((f.asset, f.amount, f.quote_value) for f in fees)
    elif order.fee:
        paid = ((order.fee_asset or "", order.fee, None),)
    else:
        paid = ()
    return Trade(
        at=order.updated_at,
        symbol=order.symbol,
        side=order.side,
        base=order.filled_base or ZERO,
        quote=order.filled_quote or ZERO,
        fees=paid,
        cause=order.cause,
    )


def books_of(found: Iterable[Trade]) -> Books:
    books = Books()
    for trade in found:
        books.apply(trade)
    return books


def books_at(found: Sequence[Trade], moments: Sequence[datetime]) -> list[Books]:
    """The books as they stood just before each of `moments` (in order), in one pass over the
    trades (sorted as `trades` returns them)."""
    books, taken, snapshots = Books(), 0, []
    for moment in moments:
        while taken < len(found) and found[taken].at < moment:
            books.apply(found[taken])
            taken += 1
        snapshots.append(copy.deepcopy(books))
    return snapshots
