"""An exchange's refusal of an order, said the way a person can act on it.

The exchange names the rule it applied: Binance in its message ("Filter failure: LOT_SIZE",
errors.md "Filter failures"; "Order book liquidity is less than ..."), OKX in its code (51020
below the minimum, 51008 insufficient balance, ...). Matching the whole rule name, and telling
a minimum from a maximum by the order's own size, keeps `MARKET_LOT_SIZE` from passing for
`LOT_SIZE` and a too-large order from being called too small.
"""

from __future__ import annotations

import re
from decimal import Decimal

from bot.exchanges.base import (
    BelowMinimum,
    ExchangeError,
    InsufficientFunds,
    MarketRules,
    OrderRejected,
)
from bot.exchanges.quantize import fmt_plain

_FILTER = re.compile(r"Filter failure: ([A-Z_]+)")
LIQUIDITY = "Order book liquidity"
OKX_BELOW_MINIMUM = ("51020",)
OKX_TOO_LARGE = ("51201", "51202", "51203", "51204")  # order value / amount above the limit
OKX_PRICE_LIMIT = ("51137", "51138", "51139")  # beyond the price limit


def refusal(
    where: str,
    description: str,
    reason: str,
    rules: MarketRules,
    amount: Decimal | None = None,
    cost: Decimal | None = None,
) -> ExchangeError:
    """Our error for the exchange's refusal `reason` of the order `description`.

    `amount` and `cost` are the order's base amount and value when known, to tell a minimum
    from a maximum."""
    title = f"{where} refused the {description}"
    found = _FILTER.search(reason)
    code = _okx_code(reason)
    if found:
        return _filter_refusal(title, found.group(1), reason, rules, amount, cost)
    if LIQUIDITY in reason:
        return OrderRejected(
            f"{title}: the order book has too little to fill it right now ({reason}); nothing "
            "was bought. The next run tries again"
        )
    if code in OKX_BELOW_MINIMUM:
        return BelowMinimum(
            f"{title} as too small ({reason}); it needs at least {_minimums(rules)}",
            minimum_cost=rules.min_cost or None,
        )
    if code in OKX_TOO_LARGE:
        return OrderRejected(f"{title} as too large for one order ({reason}); use a smaller amount")
    if code in OKX_PRICE_LIMIT:
        return OrderRejected(
            f"{title}: the price moved beyond the exchange's limit ({reason}); try again later"
        )
    return OrderRejected(f"{title}: {reason}")


def _filter_refusal(
    title: str,
    name: str,
    reason: str,
    rules: MarketRules,
    amount: Decimal | None,
    cost: Decimal | None,
) -> ExchangeError:
    if name in ("LOT_SIZE", "MARKET_LOT_SIZE"):
        maximum = rules.max_market_amount if name == "MARKET_LOT_SIZE" else rules.max_amount
        if amount is not None and maximum is not None and amount > maximum:
            kind = "market order" if name == "MARKET_LOT_SIZE" else "order"
            return OrderRejected(
                f"{title} as too large ({reason}): it takes at most {fmt_plain(maximum)} "
                f"{rules.base} per {kind}; this one came to {fmt_plain(amount)}"
            )
        return BelowMinimum(
            f"{title} ({reason}): the amount must be at least {fmt_plain(rules.min_amount)} "
            f"{rules.base} in steps of {fmt_plain(rules.amount_step)}",
            minimum_cost=None,
        )
    if name in ("NOTIONAL", "MIN_NOTIONAL"):
        if rules.max_cost is not None and cost is not None and cost > rules.max_cost:
            return OrderRejected(
                f"{title} as too large ({reason}): an order may be worth at most "
                f"{fmt_plain(rules.max_cost)} {rules.quote}; this one came to {fmt_plain(cost)}"
            )
        return BelowMinimum(
            f"{title} as too small ({reason}); it needs at least {_minimums(rules)}",
            minimum_cost=rules.min_cost or None,
        )
    if name.startswith("PERCENT_PRICE"):
        return OrderRejected(
            f"{title} ({reason}): the price is too far from its recent average for the exchange "
            "to accept a market order now; the next run tries again"
        )
    return OrderRejected(f"{title}: {reason}")


def insufficient(where: str, description: str, reason: str) -> InsufficientFunds:
    return InsufficientFunds(f"{where} refused the {description}: {reason}")


def _minimums(rules: MarketRules) -> str:
    return (
        f"{fmt_plain(rules.min_cost)} {rules.quote} and {fmt_plain(rules.min_amount)} "
        f"{rules.base} per {rules.symbol} order"
    )


def _okx_code(reason: str) -> str | None:
    found = re.search(r"\(code (\d{5})\)", reason)
    return found.group(1) if found else None
