"""CDC Action Zone V3 (piriya33, TradingView): zones, the latched trend and its flips.

On a price source (close by default, or ohlc4) take `fast = EMA(src, 12)` and
`slow = EMA(src, 26)`; bull means fast > slow, bear means fast < slow. Each candle gets a zone:

    green     bull and src > fast              red        bear and src < fast
    yellow    bull and slow < src < fast       blue       bear and src > fast and src > slow
    orange    bull and src < fast and src < slow
    lightblue bear and fast < src < slow

A zone is `None` while the slow EMA is still warming up, and on an exact tie (fast == slow, or
src equal to an EMA), where the original script paints no colour either.

The **trend** is what gates the DCA. It is latched: it turns `up` on the first green candle of
a run of greens, `down` on the first red candle of a run of reds, and otherwise keeps its value
(`None` until the first green or red). Since only green can set `up` and only red `down`, this
is the same as "up on green, down on red, else unchanged", which is how it is computed.

A **flip** is a candle whose trend differs from the previous candle's, including the first time
a trend is established (None -> up or down). Everything here is a function of the candles up to
and including each index, so truncating the input never changes an earlier row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from strategies.candles import Candle
from strategies.indicators import EMA_FAST_PERIOD, EMA_SLOW_PERIOD, ema


class Zone(StrEnum):
    GREEN = "green"
    BLUE = "blue"
    LIGHTBLUE = "lightblue"
    RED = "red"
    ORANGE = "orange"
    YELLOW = "yellow"


class Trend(StrEnum):
    UP = "up"
    DOWN = "down"


# Enum members bound to module names: the per-candle loops below look them up 77,000 times,
# and a module global is cheaper than an enum class attribute on Python 3.11.
_GREEN, _BLUE, _LIGHTBLUE = Zone.GREEN, Zone.BLUE, Zone.LIGHTBLUE
_RED, _ORANGE, _YELLOW = Zone.RED, Zone.ORANGE, Zone.YELLOW
_UP, _DOWN = Trend.UP, Trend.DOWN


class PriceSource(StrEnum):
    """Which price of a candle feeds the EMAs."""

    CLOSE = "close"
    OHLC4 = "ohlc4"


@dataclass(frozen=True, slots=True)
class CdcRow:
    """One candle's indicator state, as `dcabot signal --json` prints it."""

    time: datetime
    close: Decimal
    ema_fast: float | None
    ema_slow: float | None
    zone: Zone | None
    trend: Trend | None


@dataclass(frozen=True, slots=True)
class Flip:
    """The trend changed on the candle opened at `time` (a closed candle) to `trend`."""

    time: datetime
    trend: Trend


@dataclass(frozen=True, slots=True)
class CdcSeries:
    """Column-wise CDC state for a whole series; columns are index-aligned with the candles.

    Columns rather than row objects because the backtester walks 77,000 hourly candles within a
    100 ms budget; `rows()` gives the row view.
    """

    times: tuple[datetime, ...]
    closes: tuple[Decimal, ...]
    ema_fast: tuple[float | None, ...]
    ema_slow: tuple[float | None, ...]
    zones: tuple[Zone | None, ...]
    trends: tuple[Trend | None, ...]

    def __len__(self) -> int:
        return len(self.times)

    def rows(self) -> list[CdcRow]:
        return [
            CdcRow(*fields)
            for fields in zip(
                self.times, self.closes, self.ema_fast, self.ema_slow, self.zones, self.trends,
                strict=True,
            )
        ]


def classify_zone(src: float, fast: float | None, slow: float | None) -> Zone | None:
    """The zone of one candle from its source price and EMAs (None while warming up or tied)."""
    if fast is None or slow is None:
        return None
    if fast > slow:
        if src > fast:
            return _GREEN
        if src < fast:
            if src < slow:
                return _ORANGE
            if src > slow:
                return _YELLOW
        return None
    if fast < slow:
        if src < fast:
            return _RED
        if src > fast:
            if src > slow:
                return _BLUE
            if src < slow:
                return _LIGHTBLUE
    return None


def next_trend(previous: Trend | None, zone: Zone | None) -> Trend | None:
    """The latched trend after a candle in `zone` (see the module docstring)."""
    if zone is Zone.GREEN:
        return Trend.UP
    if zone is Zone.RED:
        return Trend.DOWN
    return previous


def source_values(
    candles: Sequence[Candle], source: PriceSource = PriceSource.CLOSE
) -> list[float]:
    """The EMA input per candle: the close, or ohlc4 = (open + high + low + close) / 4."""
    if source is PriceSource.CLOSE:
        return [float(c.close) for c in candles]
    return [(float(c.open) + float(c.high) + float(c.low) + float(c.close)) / 4 for c in candles]


def cdc_from_values(
    times: Sequence[datetime], closes: Sequence[Decimal], values: Sequence[float]
) -> CdcSeries:
    """CDC on any float source (S4 feeds it the BTC/gold price ratio)."""
    fast = ema(values, EMA_FAST_PERIOD)
    slow = ema(values, EMA_SLOW_PERIOD)
    zones = list(map(classify_zone, values, fast, slow))
    trends: list[Trend | None] = []
    trend: Trend | None = None
    append = trends.append
    green, red, up, down = _GREEN, _RED, _UP, _DOWN
    for zone in zones:
        if zone is green:
            trend = up
        elif zone is red:
            trend = down
        append(trend)
    return CdcSeries(
        tuple(times), tuple(closes), tuple(fast), tuple(slow), tuple(zones), tuple(trends)
    )


def cdc_series(candles: Sequence[Candle], source: PriceSource = PriceSource.CLOSE) -> CdcSeries:
    """Zones and trend for every candle; pass closed candles only (see `closed_candles`)."""
    return cdc_from_values(
        [c.time for c in candles], [c.close for c in candles], source_values(candles, source)
    )


def cdc_rows(candles: Sequence[Candle], source: PriceSource = PriceSource.CLOSE) -> list[CdcRow]:
    """Per-candle rows: time, close, ema_fast, ema_slow, zone, trend."""
    return cdc_series(candles, source).rows()


def flip_indices(trends: Sequence[Trend | None]) -> list[int]:
    """Indices of the candles on which the trend changed (never index 0: no trend before it)."""
    return [i for i in range(1, len(trends)) if trends[i] is not trends[i - 1]]


def trend_flips(series: CdcSeries) -> list[Flip]:
    """Every trend flip, oldest first: the flip candle's open time and the new trend."""
    flips: list[Flip] = []
    for i in flip_indices(series.trends):
        trend = series.trends[i]
        if trend is not None:  # a trend, once set, never returns to None
            flips.append(Flip(series.times[i], trend))
    return flips


def latest_flip(series: CdcSeries) -> Flip | None:
    """The flip made by the last candle of the series, if it made one.

    The live engine calls this on closed candles after each daily close: a non-None answer is
    the event that `rules.decide_on_flip` reacts to.
    """
    n = len(series)
    if n >= 2 and series.trends[-1] is not series.trends[-2]:
        trend = series.trends[-1]
        if trend is not None:
            return Flip(series.times[-1], trend)
    return None


def current_trend_since(series: CdcSeries) -> Flip | None:
    """The flip that started the trend in force at the last candle (None if no trend yet)."""
    trends = series.trends
    if not trends or trends[-1] is None:
        return None
    i = len(trends) - 1
    while i > 0 and trends[i - 1] is trends[-1]:
        i -= 1
    return Flip(series.times[i], trends[-1])
