"""Turning ccxt's order and trade structures into a `Fill`, exactly.

ccxt hands numbers over as floats; each one is read back through `str()` (its shortest repr) into a
`Decimal` and never multiplied as a float. Some of ccxt's numbers are not what was executed: for an
OKX buy by quote amount `cost` is the amount asked, not spent. So a fill is built from the trades
when there are any (each carries its amount, cost and fee), else from filled × average.

Binance's order query carries no fee at all; the adapter then asks for the order's trades
(`needs_trades`), because a fee charged in the bought asset changes what the account holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from bot.exchanges.base import BelowMinimum, Fill, MarketRules
from bot.exchanges.markets import quote_step
from bot.exchanges.quantize import check_cost, fmt_plain, quantize_down

FINAL_STATUSES = frozenset({"closed", "canceled", "cancelled", "expired", "rejected"})

Order = Mapping[str, Any]


def to_decimal(value: Any) -> Decimal | None:
    """A ccxt number (float, int or str) as an exact decimal; None when absent."""
    if value is None or value == "":
        return None
    number = Decimal(str(value))
    return number if number.is_finite() else None


def is_final(order: Order) -> bool:
    """A market order that is done executing (ccxt leaves status None in OKX's create answer)."""
    return str(order.get("status") or "") in FINAL_STATUSES


def needs_trades(order: Order) -> bool:
    """True when the order says what executed but not what it cost in fees."""
    if _trade_rows(order.get("trades")):
        return False
    return not _fee_rows(order)


def fill_from_order(
    order: Order,
    *,
    client_order_id: str,
    symbol: str,
    base: str,
    quote: str,
    trades: Sequence[Order] | None = None,
) -> Fill | None:
    """The fill a final order amounts to, or None when nothing executed."""
    side = str(order.get("side") or "")
    executions = _trade_rows(trades) or _trade_rows(order.get("trades"))
    if executions:
        amount = sum((_number(t, "amount") for t in executions), Decimal(0))
        cost = sum((_trade_cost(t) for t in executions), Decimal(0))
        fees = _sum_fees(fee for t in executions for fee in _fee_rows(t))
        prices = {_number(t, "price") for t in executions}
        price = prices.pop() if len(prices) == 1 else None
    else:
        amount = to_decimal(order.get("filled")) or Decimal(0)
        price = to_decimal(order.get("average"))
        cost = amount * price if price else to_decimal(order.get("cost")) or Decimal(0)
        fees = _sum_fees(_fee_rows(order))
    if amount <= 0:
        return None
    if price is None:
        price = (cost / amount).normalize()
    received = base if side == "buy" else quote
    fee_asset = received if received in fees or not fees else next(iter(fees))
    status = str(order.get("status") or "closed")
    return Fill(
        client_order_id=str(order.get("clientOrderId") or client_order_id),
        exchange_order_id=str(order.get("id") or ""),
        symbol=symbol,
        side=side,
        amount=amount,
        cost=cost,
        price=price,
        fee=fees.get(fee_asset, Decimal(0)),
        fee_asset=fee_asset,
        fees=tuple(sorted(fees.items())),
        complete=status == "closed",
    )


def _number(row: Order, key: str) -> Decimal:
    return to_decimal(row.get(key)) or Decimal(0)


def _trade_cost(trade: Order) -> Decimal:
    cost = to_decimal(trade.get("cost"))
    return cost if cost is not None else _number(trade, "amount") * _number(trade, "price")


def _trade_rows(value: Any) -> list[Order]:
    if not isinstance(value, list | tuple):
        return []
    return [t for t in value if isinstance(t, Mapping) and to_decimal(t.get("amount"))]


def _fee_rows(row: Order) -> list[Order]:
    fees = row.get("fees")
    if isinstance(fees, list | tuple) and fees:
        return [f for f in fees if isinstance(f, Mapping) and f.get("currency")]
    fee = row.get("fee")
    return [fee] if isinstance(fee, Mapping) and fee.get("currency") else []


def _sum_fees(rows: Any) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for row in rows:
        cost = to_decimal(row.get("cost"))
        if cost is not None:
            currency = str(row["currency"])
            totals[currency] = totals.get(currency, Decimal(0)) + abs(cost)
    return totals


def describe_fill(fill: Fill, rules: MarketRules) -> str:
    """A fill for the log: "bought 0.001 BTC for 90 USDT at 90000 (fee ...), order <ids>"."""
    fees = ", ".join(f"{format(amount, 'f')} {asset}" for asset, amount in fill.fees) or "none"
    return (
        f"{'bought' if fill.side == 'buy' else 'sold'} {format(fill.amount, 'f')} {rules.base} "
        f"for {format(fill.cost, 'f')} {rules.quote} at {format(fill.price, 'f')} (fee {fees})"
        f"{'' if fill.complete else ', partly filled'}, order {fill.client_order_id} / "
        f"{fill.exchange_order_id}"
    )


def quote_to_spend(
    title: str, market: dict[str, Any], rules: MarketRules, quote_amount: Decimal
) -> Decimal:
    """What a market buy for `quote_amount` may spend: at least the minimum cost, cut down to
    the quote step the exchange takes (ccxt truncates `quoteOrderQty` to the price tick)."""
    check_cost(rules, quote_amount)
    step = quote_step(market, rules)
    spend = quantize_down(quote_amount, step)
    if spend <= 0:
        raise BelowMinimum(
            f"{title} takes {rules.symbol} buys in steps of {fmt_plain(step)} {rules.quote}; "
            f"{fmt_plain(quote_amount)} comes to nothing"
        )
    return spend
