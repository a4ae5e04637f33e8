"""CDC Action Zone: zones, latched trend and flips, checked against an independent literal
reading of the issue's definitions (exact rationals, Pine's barssince form of the latch) and
against hand-read values for dated candles of the real daily BTC series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from strategies.candles import Candle
from strategies.cdc import (
    Flip,
    PriceSource,
    Trend,
    Zone,
    cdc_rows,
    cdc_series,
    classify_zone,
    current_trend_since,
    latest_flip,
    next_trend,
    source_values,
    trend_flips,
)
from tests.shared_data import BTC_DAILY, csv_rows, load_candles
from tests.test_indicators import exact_ema


def literal_zone(price: Fraction, fast: Fraction | None, slow: Fraction | None) -> str | None:
    """The six zone definitions of the issue, word for word; at most one may hold."""
    if fast is None or slow is None:
        return None
    bull, bear = fast > slow, fast < slow
    matches = [
        name
        for name, holds in (
            ("green", bull and price > fast),
            ("blue", bear and price > fast and price > slow),
            ("lightblue", bear and price > fast and price < slow),
            ("red", bear and price < fast),
            ("orange", bull and price < fast and price < slow),
            ("yellow", bull and price < fast and price > slow),
        )
        if holds
    ]
    assert len(matches) <= 1
    return matches[0] if matches else None


def literal_trends(zones: list[str | None]) -> list[str | None]:
    """Pine's form: buy = first green of a run, sell = first red of a run; the trend is up
    when the last buy is more recent than the last sell."""
    last_buy = last_sell = None
    out: list[str | None] = []
    for i, zone in enumerate(zones):
        previous = zones[i - 1] if i else None
        if zone == "green" and previous != "green":
            last_buy = i
        if zone == "red" and previous != "red":
            last_sell = i
        if last_buy is None and last_sell is None:
            out.append(None)
        elif last_sell is None or (last_buy is not None and last_buy > last_sell):
            out.append("up")
        else:
            out.append("down")
    return out


def _reference() -> tuple[list[str], list[str | None], list[str | None]]:
    rows = csv_rows(BTC_DAILY)
    closes = [Fraction(row[4]) for row in rows]
    fast, slow = exact_ema(closes, 12), exact_ema(closes, 26)
    zones = [literal_zone(p, f, s) for p, f, s in zip(closes, fast, slow, strict=True)]
    return [row[0] for row in rows], zones, literal_trends(zones)


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def test_every_daily_zone_and_trend_matches_the_literal_definition() -> None:
    times, zones, trends = _reference()
    series = cdc_series(load_candles(BTC_DAILY))
    assert [z.value if z else None for z in series.zones] == zones
    assert [t.value if t else None for t in series.trends] == trends
    literal_flips = [
        (times[i], trends[i]) for i in range(1, len(trends)) if trends[i] != trends[i - 1]
    ]
    flips = trend_flips(series)
    assert [(f.time.strftime("%Y-%m-%dT%H:%M:%SZ"), f.trend.value) for f in flips] == literal_flips
    assert len(flips) == 88


# Hand-read from the file and the exact EMAs (rounded to cents):
#   day         close      EMA12      EMA26      reading
#   2017-09-11   4208.47    4345.20    4337.02   bull, close under both -> orange, no trend yet
#   2017-09-12   4163.72    4317.28    4324.19   bear, close under EMA12 -> red, first trend: down
#   2020-03-12   4800.00    7916.52    8541.84   bear, under EMA12 (COVID crash) -> red, down
#   2021-11-10  64882.43   63528.71   61377.72   bull, over EMA12 (cycle top) -> green, up
#   2022-11-09  15922.81   19587.17   19788.96   bear, under EMA12 (FTX) -> red, down
#   2025-10-06 124658.54  118961.73  116533.04   bull, over EMA12 -> green, up
DATED = [
    ("2017-09-11", "4208.47", 4345.20, 4337.02, Zone.ORANGE, None),
    ("2017-09-12", "4163.72", 4317.28, 4324.19, Zone.RED, Trend.DOWN),
    ("2020-03-12", "4800", 7916.52, 8541.84, Zone.RED, Trend.DOWN),
    ("2021-11-10", "64882.43", 63528.71, 61377.72, Zone.GREEN, Trend.UP),
    ("2022-11-09", "15922.81", 19587.17, 19788.96, Zone.RED, Trend.DOWN),
    ("2025-10-06", "124658.54", 118961.73, 116533.04, Zone.GREEN, Trend.UP),
]


@pytest.mark.parametrize(("day", "close", "fast", "slow", "zone", "trend"), DATED)
def test_dated_daily_candles(
    day: str, close: str, fast: float, slow: float, zone: Zone, trend: Trend | None
) -> None:
    rows = {row.time: row for row in cdc_rows(load_candles(BTC_DAILY))}
    row = rows[_at(day)]
    assert row.close == Decimal(close)
    assert row.ema_fast == pytest.approx(fast, abs=0.005)
    assert row.ema_slow == pytest.approx(slow, abs=0.005)
    assert (row.zone, row.trend) == (zone, trend)


def test_first_daily_flips() -> None:
    flips = trend_flips(cdc_series(load_candles(BTC_DAILY)))
    assert flips[:3] == [
        Flip(_at("2017-09-12"), Trend.DOWN),
        Flip(_at("2017-09-30"), Trend.UP),
        Flip(_at("2018-01-14"), Trend.DOWN),
    ]


@pytest.mark.parametrize("cut", [26, 27, 400, 1500, 3063])
def test_truncating_the_series_never_changes_earlier_rows(cut: int) -> None:
    candles = load_candles(BTC_DAILY)
    full = cdc_series(candles)
    part = cdc_series(candles[:cut])
    assert part.zones == full.zones[:cut]
    assert part.trends == full.trends[:cut]
    assert part.ema_fast == full.ema_fast[:cut]
    assert part.ema_slow == full.ema_slow[:cut]


def test_latest_flip_and_trend_since_at_the_end_of_the_daily_file() -> None:
    candles = load_candles(BTC_DAILY)
    series = cdc_series(candles)
    assert latest_flip(series) == Flip(_at("2026-01-05"), Trend.UP)
    assert current_trend_since(series) == Flip(_at("2026-01-05"), Trend.UP)
    day_before = cdc_series(candles[:-1])
    assert latest_flip(day_before) is None
    assert current_trend_since(day_before) == Flip(_at("2025-10-15"), Trend.DOWN)


def test_zone_table() -> None:
    assert classify_zone(11, 10, 9) is Zone.GREEN
    assert classify_zone(9.5, 10, 9) is Zone.YELLOW
    assert classify_zone(8, 10, 9) is Zone.ORANGE
    assert classify_zone(8, 9, 10) is Zone.RED
    assert classify_zone(9.5, 9, 10) is Zone.LIGHTBLUE
    assert classify_zone(11, 9, 10) is Zone.BLUE


def test_no_zone_while_warming_up_or_on_exact_ties() -> None:
    assert classify_zone(10, None, None) is None
    assert classify_zone(10, 10, None) is None
    assert classify_zone(11, 10, 10) is None  # neither bull nor bear
    assert classify_zone(10, 10, 9) is None  # price on the fast EMA
    assert classify_zone(9, 10, 9) is None  # bull, price on the slow EMA


def test_trend_latches_on_green_and_red_only() -> None:
    trend = None
    seen = []
    for zone in [None, Zone.YELLOW, Zone.GREEN, Zone.GREEN, Zone.YELLOW, Zone.BLUE, Zone.RED,
                 Zone.LIGHTBLUE, Zone.GREEN]:
        trend = next_trend(trend, zone)
        seen.append(trend)
    assert seen == [None, None, Trend.UP, Trend.UP, Trend.UP, Trend.UP, Trend.DOWN,
                    Trend.DOWN, Trend.UP]


def _candles(closes: list[float]) -> list[Candle]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        Candle(start + timedelta(days=i), Decimal(str(c)), Decimal(str(c + 2)),
               Decimal(str(c - 2)), Decimal(str(c)), Decimal(1))
        for i, c in enumerate(closes)
    ]


def test_flat_prices_give_no_zone_and_no_trend() -> None:
    series = cdc_series(_candles([100.0] * 40))
    assert set(series.zones) == {None}
    assert set(series.trends) == {None}
    assert trend_flips(series) == []
    assert current_trend_since(series) is None


def test_a_rise_after_a_flat_start_flips_up_on_its_first_green_candle() -> None:
    series = cdc_series(_candles([100.0] * 30 + [101.0, 102.0, 103.0]))
    assert series.zones[30] is Zone.GREEN
    assert trend_flips(series) == [Flip(series.times[30], Trend.UP)]


def test_ohlc4_source_is_the_mean_of_the_four_prices() -> None:
    candle = Candle(datetime(2024, 1, 1, tzinfo=UTC), Decimal(10), Decimal(16), Decimal(8),
                    Decimal(14), Decimal(1))
    assert source_values([candle], PriceSource.OHLC4) == [12.0]
    assert source_values([candle], PriceSource.CLOSE) == [14.0]
