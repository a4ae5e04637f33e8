"""PNG charts for `dcabot backtest --chart`, `dcabot signal --chart` and the chat commands.

matplotlib is imported inside the render functions, so commands that draw nothing do not pay
its import time, and through `Figure` + the Agg canvas rather than `pyplot`: no global figure
state, nothing to close, safe from a web worker. Files are written to a temporary name and
renamed into place, so a failed render never leaves a half-written chart behind.

Long histories are thinned to about `MAX_POINTS` points before drawing (a chart is a few
thousand pixels wide; 77,000 hourly candles would only slow the render); trend flips and
rotations are always drawn at their exact candles.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from strategies.backtest import BacktestResult
from strategies.cdc import CdcSeries, Flip, Trend, Zone, trend_flips
from strategies.indicators import EMA_FAST_PERIOD, EMA_SLOW_PERIOD

MAX_POINTS = 4000
SIGNAL_CANDLES = 180
ZONE_COLOURS: dict[Zone | None, str] = {
    Zone.GREEN: "#2e7d32",
    Zone.BLUE: "#1565c0",
    Zone.LIGHTBLUE: "#4fc3f7",
    Zone.RED: "#c62828",
    Zone.ORANGE: "#ef6c00",
    Zone.YELLOW: "#f9a825",
    None: "#9e9e9e",
}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # matplotlib's default date epoch


def _x(moment: datetime) -> float:
    """A candle time as matplotlib's date number (days since its epoch); axes call
    `xaxis_date()` to label them as dates."""
    return (moment - _EPOCH).total_seconds() / 86400


def _thin(count: int) -> list[int]:
    """Indices to draw: every k-th point so at most about MAX_POINTS remain, plus the last."""
    step = max(1, count // MAX_POINTS)
    picked = list(range(0, count, step))
    if picked and picked[-1] != count - 1:
        picked.append(count - 1)
    return picked


def _zone_price_line(
    ax: Any, times: Sequence[datetime], prices: Sequence[float], zones: Sequence[Zone | None]
) -> list[Any]:
    """The price as one line whose colour follows the zone of each candle; returns legend
    handles for the zone colours."""
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    picked = _thin(len(times))
    xs = [_x(times[i]) for i in picked]
    ys = [prices[i] for i in picked]
    segments = [[(xs[k - 1], ys[k - 1]), (xs[k], ys[k])] for k in range(1, len(xs))]
    colours = [ZONE_COLOURS[zones[picked[k]]] for k in range(1, len(xs))]
    ax.add_collection(LineCollection(segments, colors=colours, linewidths=1.2))
    ax.set_xlim(xs[0], xs[-1] if len(xs) > 1 else xs[0] + 1)
    ax.set_ylim(min(ys) * 0.95, max(ys) * 1.05)
    ax.xaxis_date()
    return [Line2D([], [], color=ZONE_COLOURS[zone], label=zone.value) for zone in Zone]


def _legend(ax: Any, zone_handles: list[Any]) -> None:
    handles = zone_handles + list(ax.get_legend_handles_labels()[0])
    ax.legend(handles=handles, loc="upper left", fontsize=7, ncol=5, frameon=False)


def _flip_markers(
    ax: Any, flips: Sequence[Flip], price_at: dict[datetime, float]
) -> None:
    for trend, marker, colour in ((Trend.UP, "^", "#2e7d32"), (Trend.DOWN, "v", "#c62828")):
        chosen = [f.time for f in flips if f.trend is trend and f.time in price_at]
        if chosen:
            ax.scatter(
                [_x(t) for t in chosen], [price_at[t] for t in chosen], marker=marker, color=colour,
                s=28, zorder=3, label=f"flip {trend.value}",
            )


def _save(figure: Any, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        figure.savefig(temporary, format="png", dpi=110)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def render_backtest_chart(result: BacktestResult, path: Path, *, title: str | None = None) -> Path:
    """Price with zone colours and trend flips above; strategy value vs plain DCA below."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 7), layout="constrained")
    price_ax, value_ax = figure.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    closes = [float(c) for c in result.closes]
    zone_handles = _zone_price_line(price_ax, result.times, closes, result.zones)
    price_ax.set_yscale("log")
    price_ax.set_ylabel("BTC/USDT close")
    price_at = dict(zip(result.times, closes, strict=True))
    _flip_markers(price_ax, result.flips, price_at)
    for rotation in result.rotations:
        price_ax.axvline(_x(rotation.time), color="#b8860b", linewidth=0.6, alpha=0.6)
    _legend(price_ax, zone_handles)
    picked = _thin(len(result.times))
    times = [_x(result.times[i]) for i in picked]
    value_ax.plot(times, [float(result.values[i]) for i in picked],
                  color="#1565c0", linewidth=1.2, label=f"{result.strategy.value} strategy")
    value_ax.plot(times, [float(result.dca_values[i]) for i in picked],
                  color="#757575", linewidth=1.0, label="plain DCA")
    value_ax.set_ylabel("value (USDT)")
    value_ax.legend(loc="upper left", fontsize=8, frameon=False)
    value_ax.grid(alpha=0.3)
    price_ax.grid(alpha=0.3, which="both")
    figure.suptitle(
        title or f"{result.strategy.value} backtest {result.start} to {result.end}: "
        f"return {_pct(result.return_pct)}, plain DCA "
        f"{_pct((result.dca_final_value - result.invested) / result.invested * 100)}"
    )
    return _save(figure, path)


def render_signal_chart(
    series: CdcSeries, path: Path, *, candles: int = SIGNAL_CANDLES, title: str | None = None
) -> Path:
    """The last `candles` closes coloured by zone, with both EMAs and the trend flips."""
    from matplotlib.figure import Figure

    start = max(0, len(series) - candles)
    times = series.times[start:]
    closes = [float(c) for c in series.closes[start:]]
    figure = Figure(figsize=(10, 5), layout="constrained")
    ax = figure.subplots()
    zone_handles = _zone_price_line(ax, times, closes, series.zones[start:])
    for values, colour, period in (
        (series.ema_fast[start:], "#212121", EMA_FAST_PERIOD),
        (series.ema_slow[start:], "#8e24aa", EMA_SLOW_PERIOD),
    ):
        shown = [(t, v) for t, v in zip(times, values, strict=True) if v is not None]
        if shown:
            ax.plot([_x(t) for t, _ in shown], [v for _, v in shown], color=colour,
                    linewidth=0.9, linestyle="--", label=f"EMA{period}")
    recent = [f for f in trend_flips(series) if f.time >= times[0]]
    _flip_markers(ax, recent, dict(zip(times, closes, strict=True)))
    _legend(ax, zone_handles)
    ax.grid(alpha=0.3)
    zone = series.zones[-1]
    figure.suptitle(
        title or f"CDC Action Zone, last close {series.times[-1]:%Y-%m-%d %H:%M} UTC: "
        f"{zone.value if zone else 'no zone'}, trend {series.trends[-1] or 'not set'}"
    )
    return _save(figure, path)


def _pct(value: Decimal) -> str:
    return f"{value:+.2f} %"
