"""The trend watch: read the CDC trend on closed daily candles and act on a flip exactly once.

Each flip is keyed by exchange, symbol and the flip candle's open time (`flip_events.flip_key`
is unique), so however often the watch runs (daily job, every scheduled run, a restart) a flip is
acted on once. The first watch on a new database records a baseline: flips before the last
closed candle are history, not news. If several flips happened while the bot was down, only the
newest is acted on and the owner is told about the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.engine.context import Engine
from bot.engine.fill_context import cdc_point
from bot.engine.flip_actions import act_on_flip
from bot.exchanges.base import ExchangeError
from storage import outbox
from storage.models import FlipEvent
from strategies.cdc import CdcSeries, Flip, Trend, cdc_series, trend_flips

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class TrendReading:
    series: CdcSeries
    trend: Trend | None
    flips: tuple[Flip, ...]
    last_closed: datetime | None


async def read_trend(engine: Engine) -> TrendReading:
    """The CDC trend on the trend source's closed daily candles (this engine's own market when
    it is the only exchange). While another exchange's market cannot be read, its last reading
    serves as long as no daily candle closed since: it is the same data."""
    source = engine.trend_source or engine
    try:
        candles = await source.exchange.closed_candles(
            source.symbol, engine.settings.trend_history_days
        )
    except ExchangeError:
        kept = source.memory.trend
        if source is engine or not isinstance(kept, TrendReading) or not _current(kept, engine):
            raise
        return kept
    series = cdc_series(candles)
    trend = series.trends[-1] if len(series) else None
    last = candles[-1].time if candles else None
    reading = TrendReading(series, trend, tuple(trend_flips(series)), last)
    source.memory.trend = reading
    return reading


def _current(reading: TrendReading, engine: Engine) -> bool:
    """No daily candle closed after the reading's last one (it closed at `last + DAY`)."""
    last = reading.last_closed
    return last is not None and engine.clock() < last + 2 * DAY


def flip_key(engine: Engine, flip: Flip) -> str:
    return f"flip:{engine.exchange.name}:{engine.symbol}:{flip.time:%Y-%m-%dT%H:%MZ}"


def _claim_new_flips(engine: Engine, reading: TrendReading) -> Flip | None:
    """Record the baseline or the flips not seen yet; returns the flip to act on, if any."""
    try:
        return _record_flips(engine, reading)
    except IntegrityError:  # another process recorded them first: it acts, not us
        return None


def _record_flips(engine: Engine, reading: TrendReading) -> Flip | None:
    name, now = engine.exchange.name, engine.clock()
    with engine.db.transaction() as session:
        watermark = session.scalar(
            select(func.max(FlipEvent.candle_time)).where(
                FlipEvent.exchange == name, FlipEvent.symbol == engine.symbol
            )
        )
        if watermark is None and reading.last_closed is not None:
            watermark = reading.last_closed - DAY
            session.add(
                FlipEvent(
                    flip_key=f"baseline:{name}:{engine.symbol}",
                    exchange=name,
                    symbol=engine.symbol,
                    candle_time=watermark,
                    trend="",
                    status="baseline",
                    outcome="watch started",
                    created_at=now,
                )
            )
        fresh = [f for f in reading.flips if watermark is None or f.time > watermark]
        if not fresh:
            return None
        for flip in fresh:
            superseded = flip is not fresh[-1]
            session.add(
                FlipEvent(
                    flip_key=flip_key(engine, flip),
                    exchange=name,
                    symbol=engine.symbol,
                    candle_time=flip.time,
                    trend=flip.trend.value,
                    status="superseded" if superseded else "started",
                    outcome="a later flip came first" if superseded else "",
                    created_at=now,
                )
            )
            if engine.trend_source is not None:  # the trend's own exchange tells the owner
                continue
            outbox.enqueue(
                session,
                kind="trend_flip",
                now=now,
                urgent=True,
                payload={
                    "exchange": name,
                    "symbol": engine.symbol,
                    "trend": flip.trend.value,
                    "candle": flip.time,
                    "superseded": superseded,
                    **_flip_reading(reading, flip),
                },
            )
        return fresh[-1]


def _flip_reading(reading: TrendReading, flip: Flip) -> dict[str, object]:
    """The zone and the EMAs at the flip's candle, for the card that tells it."""
    try:
        at = reading.series.times.index(flip.time)
    except ValueError:
        return {}
    point = cdc_point(reading.series, at)
    return {key: point[key] for key in ("zone", "ema_fast", "ema_slow")}


async def act_on_flips(engine: Engine, reading: TrendReading | None = None) -> str | None:
    """Act on a flip not acted on yet; returns what was done (None when there was none)."""
    reading = reading or await read_trend(engine)
    flip = await engine.db.run(_claim_new_flips, engine, reading)
    if flip is None:
        return None
    return await act_on_flip(engine, flip, flip_key(engine, flip))
