"""Market rules: read from the exchange through ccxt, or from a dated snapshot when offline.

The snapshot lets the paper exchange apply the real market's step, tick and minimums even on a
machine with no network. Sources: Binance `GET /api/v3/exchangeInfo` of 2024-09-08 (BTCUSDT,
PAXGUSDT) and OKX `GET /api/v5/public/instruments` as stored in ccxt's test fixtures (BTC-USDT).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.exchanges.base import MarketRules

_D = Decimal

SNAPSHOT: dict[tuple[str, str], MarketRules] = {
    ("binance", "BTC/USDT"): MarketRules(
        "binance",
        "BTC/USDT",
        "BTC",
        "USDT",
        _D("0.00001"),
        _D("0.01"),
        _D("0.00001"),
        _D("5"),
        source="snapshot 2024-09-08",
    ),
    ("binance", "PAXG/USDT"): MarketRules(
        "binance",
        "PAXG/USDT",
        "PAXG",
        "USDT",
        _D("0.0001"),
        _D("1"),
        _D("0.0001"),
        _D("5"),
        source="snapshot 2024-09-08",
    ),
    ("okx", "BTC/USDT"): MarketRules(
        "okx",
        "BTC/USDT",
        "BTC",
        "USDT",
        _D("0.00000001"),
        _D("0.1"),
        _D("0.00001"),
        _D("0"),
        source="snapshot (ccxt fixture)",
    ),
}


# The tokenized gold S4 rotates into, per exchange: one table, used everywhere.
GOLD_SYMBOLS = {"binance": "PAXG/USDT", "okx": "XAUT/USDT"}


def gold_symbol(exchange: str) -> str:
    return GOLD_SYMBOLS.get(exchange, "PAXG/USDT")


def snapshot_rules(exchange: str, symbol: str) -> MarketRules | None:
    return SNAPSHOT.get((exchange, symbol))


def _decimal(value: Any, default: str = "0") -> Decimal:
    if value is None or value == "":
        return Decimal(default)
    return Decimal(str(value)).normalize()


def rules_from_ccxt_market(exchange: str, market: dict[str, Any]) -> MarketRules:
    """Build rules from a ccxt unified market (ccxt 4 uses TICK_SIZE precision for both venues)."""
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    step = _decimal(precision.get("amount"), "0.00000001")
    amount_limits = limits.get("amount") or {}
    return MarketRules(
        exchange=exchange,
        symbol=str(market["symbol"]),
        base=str(market["base"]),
        quote=str(market["quote"]),
        amount_step=step,
        price_tick=_decimal(precision.get("price"), "0.00000001"),
        min_amount=max(_decimal(amount_limits.get("min")), step),
        min_cost=_decimal((limits.get("cost") or {}).get("min")),
        max_amount=_maximum(amount_limits.get("max")),
        max_market_amount=_maximum((limits.get("market") or {}).get("max")),
        max_cost=_maximum((limits.get("cost") or {}).get("max")),
    )


def _maximum(value: Any) -> Decimal | None:
    """A maximum from ccxt; none when absent or zero (Binance's "no limit")."""
    number = _decimal(value)
    return number if number > 0 else None


def quote_step(market: dict[str, Any], rules: MarketRules) -> Decimal:
    """The step ccxt truncates a quote amount to: the price tick (Binance's quoteOrderQty), or
    the cost precision where a market has one (OKX's `sz`); the coarser of the two."""
    precision = market.get("precision") or {}
    cost = precision.get("cost")
    cost_step = _decimal(cost) if cost not in (None, "") else None
    return max(cost_step, rules.price_tick) if cost_step else rules.price_tick
