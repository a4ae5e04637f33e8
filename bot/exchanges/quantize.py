"""Turning a wish ("spend 50 USDT") into an order the market accepts, before anything is sent.

Amounts are truncated *down* to the step so an order never spends more than asked; prices are
truncated to the tick. An order that ends up below the minimum amount or cost is refused here with
a message that says the minimum, instead of being sent and rejected by the exchange.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from bot.exchanges.base import BelowMinimum, MarketRules, OrderRejected
from bot.i18n import _

CENT = Decimal("0.01")


class AboveMaximum(OrderRejected):
    """The order is larger than the market takes in one order."""


def quantize_down(value: Decimal, step: Decimal) -> Decimal:
    """The largest multiple of `step` not above `value` (for value >= 0)."""
    if step <= 0:
        return value
    units = (value / step).to_integral_value(rounding=ROUND_DOWN)
    return units * step


def quantize_amount(amount: Decimal, rules: MarketRules) -> Decimal:
    return quantize_down(amount, rules.amount_step)


def quantize_price(price: Decimal, rules: MarketRules) -> Decimal:
    return quantize_down(price, rules.price_tick)


def fmt_plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros, for messages."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def exchange_title(exchange: str) -> str:
    """How messages name an exchange: "Binance", "OKX"."""
    return {"okx": "OKX"}.get(exchange, exchange.capitalize())


def _exchange_title(rules: MarketRules) -> str:
    return exchange_title(rules.exchange)


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """The quantized order: base `amount` at `price` costs `cost` quote."""

    amount: Decimal
    price: Decimal
    cost: Decimal


def check_cost(rules: MarketRules, quote_amount: Decimal) -> None:
    """Refuse a quote amount below the market's minimum cost, naming that minimum."""
    if quote_amount < rules.min_cost:
        raise BelowMinimum(
            _("{exchange} needs at least {minimum} {quote} per {symbol} order; you asked for "
              "{amount}").format(exchange=_exchange_title(rules), minimum=fmt_plain(rules.min_cost),
                                 quote=rules.quote, symbol=rules.symbol,
                                 amount=fmt_plain(quote_amount)),
            minimum_cost=rules.min_cost,
        )


def plan_buy(rules: MarketRules, quote_amount: Decimal, price: Decimal) -> OrderPlan:
    """Spend at most `quote_amount` at `price`: the base amount, truncated to the step."""
    check_cost(rules, quote_amount)
    amount = quantize_amount(quote_amount / price, rules)
    return _checked(rules, amount, price)


def plan_sell(rules: MarketRules, base_amount: Decimal, price: Decimal) -> OrderPlan:
    """Sell at most `base_amount`, truncated to the step, checked against the minimums."""
    return _checked(rules, quantize_amount(base_amount, rules), price)


def _checked(rules: MarketRules, amount: Decimal, price: Decimal) -> OrderPlan:
    title = _exchange_title(rules)
    for maximum, market in ((rules.max_market_amount, True), (rules.max_amount, False)):
        if maximum is not None and amount > maximum:
            too_much = (_("{exchange} takes at most {maximum} {base} per {symbol} market order; "
                          "this one comes to {amount}: use a smaller amount") if market else
                        _("{exchange} takes at most {maximum} {base} per {symbol} order; this one "
                          "comes to {amount}: use a smaller amount"))
            raise AboveMaximum(too_much.format(exchange=title, maximum=fmt_plain(maximum),
                                               base=rules.base, symbol=rules.symbol,
                                               amount=fmt_plain(amount)))
    if rules.max_cost is not None and amount * price > rules.max_cost:
        raise AboveMaximum(_(
            "{exchange} takes orders worth at most {maximum} {quote} on {symbol}; this one comes "
            "to {amount}").format(exchange=title, maximum=fmt_plain(rules.max_cost),
                                  quote=rules.quote, symbol=rules.symbol,
                                  amount=fmt_plain((amount * price).quantize(CENT))))
    if amount <= 0 or amount < rules.min_amount:
        raise BelowMinimum(_(
            "{exchange} needs at least {minimum} {base} per {symbol} order; this order comes to "
            "{amount}").format(exchange=title,
                               minimum=fmt_plain(max(rules.min_amount, rules.amount_step)),
                               base=rules.base, symbol=rules.symbol, amount=fmt_plain(amount)))
    cost = amount * price
    if cost < rules.min_cost:
        raise BelowMinimum(
            _("{exchange} needs at least {minimum} {quote} per {symbol} order; this order comes "
              "to {amount}").format(exchange=title, minimum=fmt_plain(rules.min_cost),
                                    quote=rules.quote, symbol=rules.symbol,
                                    amount=fmt_plain(cost.quantize(Decimal("0.01")))),
            minimum_cost=rules.min_cost,
        )
    return OrderPlan(amount=amount, price=price, cost=cost)
