"""Text and JSON renderings of a backtest result and of the CDC signal.

Transport-agnostic: the CLI prints them, and the chat `/backtest` and `/signal` commands can put
the same text in a card, so the numbers a user reads never differ by channel.

JSON carries money as **strings** holding the exact `Decimal` (no exponent, trailing zeros
dropped): JSON numbers are read as binary floats by most parsers and would lose digits.
Indicator values (EMAs) are floats already and are written as JSON numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from strategies.backtest import BacktestResult, Strategy
from strategies.cdc import CdcSeries, current_trend_since, trend_flips
from strategies.indicators import EMA_FAST_PERIOD, EMA_SLOW_PERIOD

SIGNAL_FLIPS_SHOWN = 5


@dataclass(frozen=True, slots=True)
class RunSettings:
    """The parameters a backtest ran with, echoed in its text summary."""

    amount: Decimal
    every: int
    fee: Decimal
    sell_percent: Decimal


def plain_decimal(value: Decimal) -> str:
    """An exact decimal string without exponent or trailing zeros: `46100`, `0.0123`."""
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def backtest_json(result: BacktestResult) -> dict[str, Any]:
    """The `--json` object: exact decimal strings for money, integers for counts."""
    out: dict[str, Any] = {
        "strategy": result.strategy.value,
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "candles": result.candles,
        "invested": plain_decimal(result.invested),
        "btc": plain_decimal(result.btc),
        "reserve": plain_decimal(result.reserve),
        "final_value": plain_decimal(result.final_value),
        "return_pct": plain_decimal(result.return_pct),
        "max_drawdown_pct": plain_decimal(result.max_drawdown_pct),
        "buys": result.buys,
        "sells": result.sells,
        "avg_cost": None if result.avg_cost is None else plain_decimal(result.avg_cost),
        "dca_final_value": plain_decimal(result.dca_final_value),
    }
    if result.strategy is Strategy.S4:
        out["gold"] = plain_decimal(result.gold)
        out["rotations"] = len(result.rotations)
    return out


def _usdt(value: Decimal) -> str:
    return f"{value:,.2f} USDT"


def backtest_text(result: BacktestResult, settings: RunSettings) -> str:
    """A short human summary, rounded for reading (cents, satoshis); `--json` is exact."""
    dca_return = (result.dca_final_value - result.invested) / result.invested * 100
    sell = (
        f", sell {settings.sell_percent}% on a flip to down"
        if result.strategy is Strategy.CDC
        else ""
    )
    lines = [
        f"{result.strategy.value} backtest, {result.start} to {result.end} "
        f"({result.candles:,} candles): {settings.amount} USDT every {settings.every} candles, "
        f"fee {settings.fee}{sell}",
        f"  invested       {_usdt(result.invested)}",
        f"  BTC held       {result.btc:.8f}",
    ]
    if result.strategy is Strategy.S4:
        lines.append(f"  gold held      {result.gold:.8f} PAXG ({len(result.rotations)} rotations)")
    cost = "-" if result.avg_cost is None else f"{_usdt(result.avg_cost)} per BTC, fees included"
    lines += [
        f"  reserve        {_usdt(result.reserve)}",
        f"  final value    {_usdt(result.final_value)}",
        f"  return         {result.return_pct:+.2f} %",
        f"  max drawdown   {result.max_drawdown_pct:.2f} %",
        f"  buys / sells   {result.buys} / {result.sells}",
        f"  average cost   {cost}",
        f"  plain DCA      {_usdt(result.dca_final_value)} ({dca_return:+.2f} %)",
    ]
    return "\n".join(lines)


def signal_json_lines(series: CdcSeries) -> Iterator[str]:
    """One JSON object per candle: time, close (exact string), ema_fast, ema_slow, zone, trend."""
    for row in series.rows():
        yield json.dumps(
            {
                "time": row.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "close": plain_decimal(row.close),
                "ema_fast": row.ema_fast,
                "ema_slow": row.ema_slow,
                "zone": None if row.zone is None else row.zone.value,
                "trend": None if row.trend is None else row.trend.value,
            }
        )


def when(moment: datetime, interval: timedelta) -> str:
    """A candle time as a user reads it: the date for daily candles, else date and UTC time."""
    return moment.strftime("%Y-%m-%d" if interval >= timedelta(days=1) else "%Y-%m-%d %H:%M UTC")


def signal_text(series: CdcSeries, interval: timedelta) -> str:
    """Zone, trend, since when, and the last flips of a (closed-candle) series."""
    i = len(series) - 1
    fast, slow, zone = series.ema_fast[i], series.ema_slow[i], series.zones[i]
    lines = [f"last closed candle {when(series.times[i], interval)}, close {series.closes[i]:,}"]
    if zone is None or fast is None or slow is None:
        lines.append("zone   none (EMAs warming up or tied)")
    else:
        lines.append(
            f"zone   {zone.value} (EMA{EMA_FAST_PERIOD} {fast:,.2f}, "
            f"EMA{EMA_SLOW_PERIOD} {slow:,.2f})"
        )
    since = current_trend_since(series)
    if since is None:
        lines.append("trend  not set yet (no green or red candle so far)")
    else:
        lines.append(f"trend  {since.trend.value} since {when(since.time, interval)}")
    flips = trend_flips(series)[-SIGNAL_FLIPS_SHOWN:]
    if flips:
        lines.append("last flips:")
        lines += [f"  {when(f.time, interval)}  {f.trend.value}" for f in reversed(flips)]
    return "\n".join(lines)
