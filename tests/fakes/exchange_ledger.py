"""The one fake account both venues trade on: balances, prices, orders and their trades.

A market order executes as one or more trades at the current price (`trades_per_order`), possibly
for only part of its quantity (a venue whose book runs dry: Binance EXPIRED, OKX canceled). The
commission of each trade is taken from the asset received, unless a fee-discount asset is set up
(Binance's BNB, see ../faqs/commission_faq.md): then, while that asset's balance covers it, the
trade pays the discounted commission in it instead, so one order can pay fees in two currencies.

A LIMIT order placed by hand (`rest`) executes part of its quantity at once and rests on the book
with the rest (Binance PARTIALLY_FILLED, OKX partially_filled; NEW / live with nothing executed):
what it still may spend is locked (Binance `locked`, OKX `frozenBal`) until `complete` fills the
rest in a later trade, as a maker. Its trades are at its limit price; the fake has one commission
rate for makers and takers (Binance's default account: makerCommission = takerCommission = 10).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from .exchange_core import floor_to_step, is_multiple

EIGHT_PLACES = Decimal("1e-8")


@dataclass(frozen=True)
class FeePolicy:
    taker: Decimal  # commission rate of a taker trade
    discount_asset: str | None = None  # e.g. "BNB": pay commissions in it while it lasts
    discount: Decimal = Decimal("0.25")  # paid in the discount asset: (1 - discount) of the rate


@dataclass(frozen=True)
class FakeTrade:
    trade_id: int
    qty: Decimal  # base
    quote_qty: Decimal
    price: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    maker: bool = False  # the resting side of the trade (Binance isMaker, OKX execType "M")


@dataclass(frozen=True)
class FakeOrder:
    """An order the fake accepted; amounts are what the venue would report.

    `amount`, `cost` and `fee` are what executed: base filled, quote spent or received before
    fees, and the commission taken in `fee_asset` (the asset received). `fees` adds the
    commissions paid in other assets (a fee-discount asset)."""

    exchange: str
    order_id: str
    client_order_id: str
    symbol: str  # the venue's market id: BTCUSDT, BTC-USDT
    side: str  # "buy" or "sell"
    amount: Decimal
    cost: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    created_ms: int
    params: Mapping[str, Any]  # the request's parameters as sent
    requested: Decimal = Decimal(0)  # the base quantity the order asked for (Binance origQty)
    # or "expired": the book ran dry before it filled (see Fault); a resting LIMIT order is
    # "new" (nothing executed yet) or "partially_filled" until it is "filled"
    status: str = "filled"
    trades: tuple[FakeTrade, ...] = ()
    order_type: str = "market"  # or "limit" (placed by hand, see Ledger.rest)

    @property
    def resting(self) -> bool:
        """Still on the book: it may fill more later."""
        return self.status in ("new", "partially_filled")

    @property
    def updated_ms(self) -> int:
        """Its last change: its last trade, else its placement."""
        return max([self.created_ms, *(t.time_ms for t in self.trades)])

    @property
    def fees(self) -> dict[str, Decimal]:
        """Commission per asset over all the order's trades."""
        totals: dict[str, Decimal] = {}
        for trade in self.trades:
            asset = trade.commission_asset
            totals[asset] = totals.get(asset, Decimal(0)) + trade.commission
        return totals

    @property
    def average(self) -> Decimal | None:
        return self.cost / self.amount if self.amount else None


@dataclass(frozen=True)
class Execution:
    """What a venue asks the ledger to execute: a market order of `qty` base at `price`."""

    exchange: str
    order_id: str
    client_order_id: str
    symbol: str
    base: str
    quote: str
    side: str  # "buy" / "sell"
    qty: Decimal
    price: Decimal
    step: Decimal  # the lot step each trade's quantity is a multiple of
    fraction: Decimal  # of `qty` that finds liquidity
    quantum: Decimal | None  # rounding of quote amounts and commissions (Binance: 8 places)
    time_ms: int
    params: Mapping[str, Any]


class Ledger:
    """Balances, prices and orders of the one fake account, guarded by one lock."""

    def __init__(
        self, balances: Mapping[str, Decimal], fees: FeePolicy, trades_per_order: int = 1
    ) -> None:
        if trades_per_order < 1:
            raise ValueError("trades_per_order must be at least 1")
        self.lock = threading.RLock()
        self.balances: dict[str, Decimal] = dict(balances)
        self.prices: dict[str, Decimal] = {}  # venue market id -> price
        self.orders: list[FakeOrder] = []
        self.archived: set[str] = set()  # order ids whose look-ups the venue no longer answers
        self.locked: dict[str, Decimal] = {}  # held by resting orders: not free to spend
        self._resting: dict[str, tuple[Execution, Decimal]] = {}  # order id -> (spec, locked)
        self.fees = fees
        self.trades_per_order = trades_per_order
        self.market_id: Callable[[str], str] = lambda symbol: symbol.replace("/", "")
        self._last_id = 100_000
        self._last_trade = 700_000

    @property
    def taker_fee(self) -> Decimal:
        return self.fees.taker

    def next_order_id(self) -> int:
        with self.lock:
            self._last_id += 1
            return self._last_id

    def free(self, asset: str) -> Decimal:
        with self.lock:
            return self.balances.get(asset, Decimal(0))

    def find(
        self, symbol: str | None, *, client_id: str | None, order_id: str | None
    ) -> FakeOrder | None:
        """The latest order with this client id or order id (in `symbol`, if given)."""
        with self.lock:
            for order in reversed(self.orders):
                if symbol is not None and order.symbol != symbol:
                    continue
                if client_id is not None and order.client_order_id == client_id:
                    return order
                if order_id is not None and order.order_id == order_id:
                    return order
        return None

    def execute(self, spec: Execution) -> FakeOrder:
        """Fill `spec.fraction` of the order in trades, move the balances, book the order."""
        with self.lock:
            filled = floor_to_step(spec.qty * spec.fraction, spec.step)
            trades = [self._trade(spec, qty) for qty in self._split(filled, spec.step)]
            status = "filled" if filled == spec.qty else "expired"
            order = self._book(spec, trades, status, "market")
            self.orders.append(order)
            return order

    def rest(self, spec: Execution, filled_now: Decimal) -> FakeOrder:
        """A LIMIT order of `spec.qty` at `spec.price` that executes `filled_now` at once (a taker
        trade) and rests with the rest, whose spend is locked. ValueError if the account cannot
        cover the whole order or `filled_now` is not a lot multiple short of the quantity."""
        if not (0 <= filled_now < spec.qty and is_multiple(filled_now, spec.step)):
            raise ValueError(f"filled_now must be a multiple of {spec.step} below {spec.qty}")
        with self.lock:
            spend_asset = spec.quote if spec.side == "buy" else spec.base
            spend = _round(spec.qty * spec.price, spec.quantum) if spec.side == "buy" else spec.qty
            if self.free(spend_asset) < spend:
                raise ValueError(f"not enough {spend_asset} for the whole order: {spend}")
            trades = [self._trade(spec, filled_now)] if filled_now else []
            rest = spec.qty - filled_now
            hold = _round(rest * spec.price, spec.quantum) if spec.side == "buy" else rest
            self.balances[spend_asset] = self.free(spend_asset) - hold
            self.locked[spend_asset] = self.locked.get(spend_asset, Decimal(0)) + hold
            self._resting[spec.order_id] = (spec, hold)
            order = self._book(spec, trades, "partially_filled" if trades else "new", "limit")
            self.orders.append(order)
            return order

    def complete(self, order_id: str, time_ms: int) -> FakeOrder:
        """Fill the rest of a resting order in one more trade (a maker, at its limit price) at
        `time_ms` (at least a millisecond after its last trade); the order is then filled."""
        with self.lock:
            if order_id not in self._resting:
                raise KeyError(f"no resting order {order_id!r}")
            spec, hold = self._resting.pop(order_id)
            index, order = next(
                (i, o) for i, o in enumerate(self.orders) if o.order_id == order_id
            )
            spend_asset = spec.quote if spec.side == "buy" else spec.base
            self.locked[spend_asset] -= hold  # released, then spent by the trade
            self.balances[spend_asset] = self.free(spend_asset) + hold
            later = replace(spec, time_ms=max(time_ms, order.updated_ms + 1))
            trade = self._trade(later, spec.qty - order.amount, maker=True)
            done = self._book(spec, [*order.trades, trade], "filled", "limit")
            self.orders[index] = done
            return done

    def _book(
        self, spec: Execution, trades: list[FakeTrade], status: str, order_type: str
    ) -> FakeOrder:
        return FakeOrder(
            exchange=spec.exchange,
            order_id=spec.order_id,
            client_order_id=spec.client_order_id,
            symbol=spec.symbol,
            side=spec.side,
            amount=sum((t.qty for t in trades), Decimal(0)),
            cost=sum((t.quote_qty for t in trades), Decimal(0)),
            price=spec.price,
            fee=sum(
                (t.commission for t in trades if t.commission_asset == _received(spec)),
                Decimal(0),
            ),
            fee_asset=_received(spec),
            created_ms=spec.time_ms,
            params=dict(spec.params),
            requested=spec.qty,
            status=status,
            trades=tuple(trades),
            order_type=order_type,
        )

    def _split(self, filled: Decimal, step: Decimal) -> list[Decimal]:
        parts = min(self.trades_per_order, max(1, int(filled / step) if step > 0 else 1))
        if filled <= 0:
            return []
        each = floor_to_step(filled / parts, step)
        return [each] * (parts - 1) + [filled - each * (parts - 1)]

    def _trade(self, spec: Execution, qty: Decimal, *, maker: bool = False) -> FakeTrade:
        quote_qty = _round(qty * spec.price, spec.quantum)
        received = _received(spec)
        commission = _round(
            (qty if spec.side == "buy" else quote_qty) * self.fees.taker, spec.quantum
        )
        asset = received
        discounted = self._discounted(spec, received, commission)
        if discounted is not None and self.free(str(self.fees.discount_asset)) >= discounted:
            commission, asset = discounted, str(self.fees.discount_asset)
        sign = 1 if spec.side == "buy" else -1
        self.balances[spec.base] = self.free(spec.base) + sign * qty
        self.balances[spec.quote] = self.free(spec.quote) - sign * quote_qty
        self.balances[asset] = self.free(asset) - commission
        self._last_trade += 1
        return FakeTrade(
            self._last_trade, qty, quote_qty, spec.price, commission, asset, spec.time_ms, maker
        )

    def _discounted(self, spec: Execution, received: str, commission: Decimal) -> Decimal | None:
        """The commission in the discount asset, or None when there is none to pay it with:
        its value converted at the discount asset's price, less the discount."""
        asset = self.fees.discount_asset
        if asset is None or asset == received:
            return None
        price = self.prices.get(self.market_id(f"{asset}/{spec.quote}"))
        if not price:
            return None
        in_quote = commission * spec.price if received == spec.base else commission
        return (in_quote / price * (1 - self.fees.discount)).quantize(EIGHT_PLACES)


def _received(spec: Execution) -> str:
    return spec.base if spec.side == "buy" else spec.quote


def _round(value: Decimal, quantum: Decimal | None) -> Decimal:
    return value.quantize(quantum) if quantum is not None else value
