"""Read-only analysis for the chat: the CDC signal now, and "what would this have done?".

Both use cases read the exchange's closed daily candles and run the very functions of
`strategies/` that the backtester and the live rules use, so a chat answer never disagrees with
`dcabot signal` or `dcabot backtest` on the same candles. They write no rows; the only thing
they leave behind is a PNG chart under `<data_dir>/charts`, of which the newest `CHARTS_KEPT`
are kept so a small disk never fills.

Charts (matplotlib) and backtests are CPU work: they run in a worker thread (`asyncio.to_thread`)
so the event loop keeps answering webhooks while a chart renders.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

from bot.charts import render_backtest_chart, render_signal_chart
from bot.engine.context import Engine
from bot.engine.errors import UserError, shown
from bot.exchanges.base import ExchangeError, PriceQuote
from bot.exchanges.markets import gold_symbol
from bot.exchanges.shipped_history import SOURCE as SHIPPED_SOURCE
from bot.exchanges.shipped_history import is_shipped
from bot.i18n import _
from strategies.backtest import (
    DEFAULT_AMOUNT,
    DEFAULT_EVERY,
    DEFAULT_SELL_PERCENT,
    BacktestInputError,
    BacktestResult,
    Strategy,
    run_backtest,
)
from strategies.candles import Candle
from strategies.cdc import CdcSeries, Flip, Trend, Zone, cdc_series, current_trend_since
from strategies.cdc import trend_flips as all_trend_flips
from strategies.indicators import EMA_SLOW_PERIOD
from strategies.s4 import align_by_time

# /signal reads this many days: the chart shows the last 180, the rest lets the EMAs settle.
SIGNAL_HISTORY_DAYS = 500
FLIPS_SHOWN = 5
# EMA(26) with alpha 2/27 forgets its seed by a factor (25/27)^270 ~ 1e-9 after 270 candles, so
# this much history before a backtest's start makes its zones those of the full history.
EMA_WARMUP_DAYS = 270
DEFAULT_WINDOW_DAYS = 730  # /backtest without dates: the last two years
MAX_HISTORY_DAYS = 4000  # Binance's BTC/USDT history begins in 2017; this covers it
CHARTS_KEPT = 50

# matplotlib is not thread-safe; renders take turns in the worker threads, never in the loop.
_DRAWING = threading.Lock()


@dataclass(frozen=True, slots=True)
class SignalView:
    """The CDC state at the last closed daily candle, the price now, and the chart file."""

    symbol: str
    price: PriceQuote
    series: CdcSeries
    since: Flip | None
    flips: tuple[Flip, ...]  # the last few, newest first
    chart: Path
    offline_history: str = ""  # where the candles came from when no exchange was reachable

    @property
    def last_time(self) -> datetime:
        return self.series.times[-1]

    @property
    def close(self) -> Decimal:
        return self.series.closes[-1]

    @property
    def zone(self) -> Zone | None:
        return self.series.zones[-1]

    @property
    def trend(self) -> Trend | None:
        return self.series.trends[-1]

    @property
    def ema_fast(self) -> float | None:
        return self.series.ema_fast[-1]

    @property
    def ema_slow(self) -> float | None:
        return self.series.ema_slow[-1]


@dataclass(frozen=True, slots=True)
class ComparisonView:
    """One strategy and its yardstick over the same candles, schedule and fee.

    The yardstick is plain DCA; when plain DCA is the strategy asked for, it is cdc (the bot's
    default), because DCA against itself would say nothing.
    """

    chosen: BacktestResult
    baseline: BacktestResult
    amount: Decimal
    every: int
    fee: Decimal
    sell_percent: Decimal
    history_start: date  # the first candle fetched: a requested start before it moves here
    price: PriceQuote  # says whether the candles came from the simulated market
    chart: Path
    offline_history: str = ""  # where the candles came from when no exchange was reachable


def offline_history(symbol: str, candles: list[Candle], price: PriceQuote) -> str:
    """Said on the card when the candles are the real ones shipped with dcabot (offline)."""
    if not price.simulated or not is_shipped(symbol, candles):
        return ""
    return _("real {source}, up to {day}").format(source=SHIPPED_SOURCE,
                                                  day=f"{candles[-1].time:%Y-%m-%d}")


async def _fetch_candles(engine: Engine, symbol: str, limit: int) -> list[Candle]:
    try:
        return await engine.exchange.closed_candles(symbol, limit)
    except ExchangeError as exc:
        name = engine.exchange.name
        raise UserError(_("Could not get {symbol} candles from {exchange}: {reason}").format(
            symbol=symbol, exchange=name, reason=exc)) from None


async def _fetch_gold(engine: Engine, limit: int) -> list[Candle]:
    """Gold candles from the same exchange; s4 cannot run without them, so say so plainly."""
    market = gold_symbol(engine.exchange.name)
    try:
        gold = await engine.exchange.closed_candles(market, limit)
    except (ExchangeError, LookupError) as exc:
        raise UserError(
            _("s4 needs gold prices ({market} daily candles) and the price feed has none: "
              "{reason}").format(market=market, reason=exc)
        ) from None
    if not gold:
        raise UserError(_("s4 needs gold prices ({market} daily candles); none were "
                          "returned").format(market=market))
    return gold


async def _price(engine: Engine) -> PriceQuote:
    try:
        return await engine.exchange.price(engine.symbol)
    except ExchangeError as exc:
        raise UserError(_("Could not get the {symbol} price: {reason}").format(
            symbol=engine.symbol, reason=exc)) from None


def _prune_charts(folder: Path, keep: int) -> None:
    """Delete all but the newest `keep` charts; another render may be pruning at the same time."""
    dated: list[tuple[float, Path]] = []
    for path in folder.glob("*.png"):
        try:
            dated.append((path.stat().st_mtime, path))
        except FileNotFoundError:
            continue
    dated.sort(reverse=True)
    for _time, path in dated[keep:]:
        path.unlink(missing_ok=True)


def _draw(render: Callable[[Path], Path], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with _DRAWING:
        path = render(folder / f"{uuid.uuid4().hex}.png")
    _prune_charts(folder, CHARTS_KEPT)
    return path


async def render_chart(engine: Engine, render: Callable[[Path], Path]) -> Path:
    return await asyncio.to_thread(_draw, render, engine.settings.data_dir / "charts")


async def trend_signal(engine: Engine, limit: int = SIGNAL_HISTORY_DAYS) -> SignalView:
    """Zone, trend and flips on the last `limit` closed daily candles, with a chart."""
    candles = await _fetch_candles(engine, engine.symbol, limit)
    if len(candles) < EMA_SLOW_PERIOD:
        raise UserError(
            _("Only {count} closed daily {symbol} candles so far; the CDC EMAs need at least "
              "{needed}").format(count=len(candles), symbol=engine.symbol, needed=EMA_SLOW_PERIOD)
        )
    price = await _price(engine)
    series = cdc_series(candles)
    chart = await render_chart(engine, lambda path: render_signal_chart(series, path))
    flips = all_trend_flips(series)[-FLIPS_SHOWN:]
    return SignalView(
        symbol=engine.symbol,
        price=price,
        series=series,
        since=current_trend_since(series),
        flips=tuple(reversed(flips)),
        chart=chart,
        offline_history=offline_history(engine.symbol, candles, price),
    )


def history_days(start: date | None, today: date) -> int:
    """How many daily candles a backtest from `start` fetches: the window plus EMA warm-up."""
    if start is None:
        return DEFAULT_WINDOW_DAYS + EMA_WARMUP_DAYS
    wanted = (today - start).days + EMA_WARMUP_DAYS
    return min(max(wanted, DEFAULT_WINDOW_DAYS + EMA_WARMUP_DAYS), MAX_HISTORY_DAYS)


def parse_strategy(text: str) -> Strategy:
    try:
        return Strategy(text.lower())
    except ValueError:
        raise UserError(_("{text} is not a strategy; choose dca, cdc or s4").format(
            text=repr(shown(text)))) from None


def _run_pair(
    candles: Sequence[Candle],
    gold: Sequence[Candle] | None,
    chosen: Strategy,
    start: date,
    end: date | None,
    amount: Decimal,
    every: int,
    fee: Decimal,
) -> tuple[BacktestResult, BacktestResult]:
    """Both runs, on the same days: for s4 only days with a gold candle, as s4 itself uses."""
    baseline = Strategy.CDC if chosen is Strategy.DCA else Strategy.DCA
    base_candles = [b for b, _gold in align_by_time(candles, gold)] if gold is not None else candles
    run = partial(run_backtest, amount=amount, every=every, start=start, end=end, fee=fee)
    try:
        first = run(candles, strategy=chosen, gold=gold)
        second = run(base_candles, strategy=baseline)
    except BacktestInputError as exc:
        problem = str(exc)
        raise UserError(problem[:1].upper() + problem[1:]) from None
    return first, second


async def compare_backtests(
    engine: Engine,
    strategy: Strategy | str,
    start: date | None,
    end: date | None,
    amount: Decimal = DEFAULT_AMOUNT,
    every: int = DEFAULT_EVERY,
) -> ComparisonView:
    """Backtest `strategy` and its yardstick over the exchange's closed daily candles.

    Without dates the window is the last `DEFAULT_WINDOW_DAYS` closed days. The fee is the one
    the bot pays (`DCABOT_TAKER_FEE`); cdc sells the backtester's default percent on a flip.
    """
    chosen = strategy if isinstance(strategy, Strategy) else parse_strategy(strategy)
    if start is not None and end is not None and start > end:
        raise UserError(_("The start {start} is after the end {end}; give the earlier date "
                          "first").format(start=start, end=end))
    limit = history_days(start, engine.clock().date())
    candles = await _fetch_candles(engine, engine.symbol, limit)
    if not candles:
        raise UserError(_("No closed daily {symbol} candles yet to backtest on").format(
            symbol=engine.symbol))
    last_day = candles[-1].time.date()
    if start is None:
        start = last_day - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    elif start > last_day:
        raise UserError(_("No closed candles from {start}: the last one is {last}").format(
            start=start, last=last_day))
    gold = await _fetch_gold(engine, limit) if chosen is Strategy.S4 else None
    fee = engine.settings.taker_fee
    first, second = await asyncio.to_thread(
        _run_pair, candles, gold, chosen, start, end, amount, every, fee
    )
    price = await _price(engine)
    drawn = second if first.strategy is Strategy.DCA else first  # its chart shows plain DCA too
    chart = await render_chart(engine, lambda path: render_backtest_chart(drawn, path))
    return ComparisonView(
        chosen=first,
        baseline=second,
        amount=amount,
        every=every,
        fee=fee,
        sell_percent=DEFAULT_SELL_PERCENT,
        history_start=max(c[0].time for c in (candles, gold) if c).date(),
        price=price,
        chart=chart,
        offline_history=offline_history(engine.symbol, candles, price),
    )
