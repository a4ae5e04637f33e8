"""Candle CSV parsing and validation, and the closed-candle rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from strategies.candles import (
    Candle,
    CandleDataError,
    candle_interval,
    closed_candles,
    parse_candles_csv,
)
from tests.shared_data import BTC_DAILY, BTC_HOURLY, csv_rows, load_candles

HEADER = "timestamp,open,high,low,close,volume"
GOOD = [
    "2024-01-01T00:00:00Z,100,110,90,105,1.5",
    "2024-01-02T00:00:00Z,105,120,100,115,2",
]


def _csv(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def test_parses_decimals_and_utc_open_times() -> None:
    candles = parse_candles_csv(_csv(*GOOD) + "\n\n")
    assert candles[0] == Candle(datetime(2024, 1, 1, tzinfo=UTC), Decimal(100), Decimal(110),
                                Decimal(90), Decimal(105), Decimal("1.5"))
    assert len(candles) == 2


def test_an_offset_timestamp_is_converted_to_utc() -> None:
    (candle,) = parse_candles_csv(_csv("2024-01-01T07:00:00+07:00,1,1,1,1,0"))
    assert candle.time == datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_csv(*GOOD, header="timestamp,open,high,low,close"), "line 1: missing column volume"),
        (_csv(*GOOD, header="time,open,high,low,close,volume"), "line 1: missing column timestamp"),
        (_csv(GOOD[0], "2024-01-02T00:00:00Z,105,120,100,115"), "line 3: has 5 fields"),
        (_csv(GOOD[1], GOOD[0]), "line 3: timestamp 2024-01-01T00:00:00Z is out of order"),
        (_csv(GOOD[0], GOOD[0]), "line 3: timestamp 2024-01-01T00:00:00Z is duplicate"),
        (_csv(GOOD[0], "2024-01-02T00:00:00Z,105,abc,100,115,2"), "line 3: high 'abc' is not a"),
        (_csv("2024-01-01T00:00:00Z,NaN,1,1,1,1"), "line 2: open 'NaN' is not a finite number"),
        (_csv(GOOD[0], "2024-01-02T00:00:00Z,105,120,0,115,2"), "line 3: low 0 is not positive"),
        (_csv("2024-01-01T00:00:00Z,1,1,1,-3,1"), "line 2: close -3 is not positive"),
        (_csv("2024-01-01T00:00:00Z,1,1,1,1,-1"), "line 2: volume -1 is negative"),
        (_csv("2024-01-01T00:00:00,1,1,1,1,1"), "line 2: timestamp '2024-01-01T00:00:00' has no"),
        (_csv("yesterday,1,1,1,1,1"), "line 2: timestamp 'yesterday' is not ISO-8601"),
        ("", "is empty"),
    ],
)
def test_bad_files_name_the_line_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(CandleDataError) as caught:
        parse_candles_csv(text, source="btc.csv")
    assert str(caught.value).startswith("btc.csv")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_closed_candles_drops_the_forming_candle() -> None:
    candles = parse_candles_csv(_csv(*GOOD))
    day = timedelta(days=1)
    assert closed_candles(candles, datetime(2024, 1, 3, tzinfo=UTC), day) == candles
    assert closed_candles(candles, datetime(2024, 1, 2, 23, 59, tzinfo=UTC), day) == candles[:1]
    assert closed_candles(candles, datetime(2024, 1, 1, 12, tzinfo=UTC), day) == []
    with pytest.raises(ValueError, match="timezone"):
        closed_candles(candles, datetime(2024, 1, 3), day)


def test_real_files_parse_and_tell_their_interval() -> None:
    daily, hourly = load_candles(BTC_DAILY), load_candles(BTC_HOURLY)
    hour = timedelta(hours=1)
    # tests/data keeps the hourly file's first months (see its SOURCES.md): the 4,700 hours from
    # the listing hour 2017-08-17T04:00 to 2018-02-28T23:00 (195 days x 24 + 20), less the 40
    # that the three outages SOURCES.md lists in that span took (6 + 1 + 33): 4,660 candles
    assert (hourly[0].time, hourly[-1].time) == (
        datetime(2017, 8, 17, 4, tzinfo=UTC), datetime(2018, 2, 28, 23, tzinfo=UTC)
    )
    assert (hourly[-1].time - hourly[0].time) // hour + 1 == 4700
    gaps = [
        (a.time, (b.time - a.time) // hour - 1)
        for a, b in pairwise(hourly)
        if b.time - a.time != hour
    ]
    assert gaps == [
        (datetime(2017, 9, 6, 16, tzinfo=UTC), 6),
        (datetime(2018, 1, 4, 3, tzinfo=UTC), 1),
        (datetime(2018, 2, 8, 0, tzinfo=UTC), 33),
    ]
    assert (len(daily), len(hourly)) == (3064, 4660)
    assert (len(csv_rows(BTC_DAILY)), len(csv_rows(BTC_HOURLY))) == (3064, 4660)  # none dropped
    assert candle_interval(daily) == timedelta(days=1)
    assert candle_interval(hourly) == hour  # despite the 3 outage gaps, one of 33 hours
    assert daily[0].close == Decimal("4285.08")
    assert daily[0].time == datetime(2017, 8, 17, tzinfo=UTC)
