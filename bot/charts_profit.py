"""The performance chart: value against invested over time, buys, sales and flips marked.

Drawn like the other charts (`bot/charts.py`: the Agg canvas, written then renamed). A chart
whose prices came from the simulated market says SIMULATED across it."""

from __future__ import annotations

from pathlib import Path

from bot.charts import _save, _x
from bot.engine.profit_history import ProfitHistory


def render_profit_chart(history: ProfitHistory, path: Path) -> Path:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 5), layout="constrained")
    ax = figure.subplots()
    times = [_x(p.at) for p in history.points]
    ax.plot(times, [p.value for p in history.points], color="#1565c0", linewidth=1.4,
            label="value (invested + P&L)")
    ax.plot(times, [p.invested for p in history.points], color="#757575", linewidth=1.0,
            linestyle="--", label="invested")
    value_at = {p.at.date(): p.value for p in history.points}
    for moments, colour, marker, label in ((history.buys, "#2e7d32", "^", "buy"),
                                           (history.sells, "#ad1457", "v", "sale")):
        shown = [(m, value_at[m.date()]) for m in moments if m.date() in value_at]
        if shown:
            ax.scatter([_x(m) for m, _ in shown], [v for _, v in shown], color=colour,
                       marker=marker, s=18, zorder=3, label=label)
    for candle, trend in history.flips:
        ax.axvline(_x(candle), color="#2e7d32" if trend == "up" else "#c62828",
                   linewidth=0.7, alpha=0.5)
    ax.xaxis_date()
    ax.set_ylabel("USDT")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    last = history.points[-1]
    figure.suptitle(
        f"{history.exchange} {history.mode}: value {last.value:,.2f} USDT for "
        f"{last.invested:,.2f} invested"
        + (" (flips: green up, red down)" if history.flips else "")
    )
    if history.simulated:
        figure.text(0.5, 0.5, "SIMULATED", fontsize=60, color="#c62828", alpha=0.18,
                    ha="center", va="center", rotation=20)
    return _save(figure, path)
