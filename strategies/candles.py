"""OHLCV candles: the one input every strategy decision is made from.

Prices and volume are `Decimal` because they flow into fills and money; the candle time is the
**open** time in UTC, as Binance and ccxt report it. A candle only counts once it has closed
(`closed_candles`): using a candle that is still forming would let a decision see the future of
its own bar and repaint.

The CSV format is the one in `shared/data/SOURCES.md`::

    timestamp,open,high,low,close,volume
    2017-08-17T00:00:00Z,4261.48,4485.39,4200.74,4285.08,795.150377
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise

CSV_HEADER = ("timestamp", "open", "high", "low", "close", "volume")
_PRICE_FIELDS = ("open", "high", "low", "close")
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Candle:
    """One closed (or forming) bar; `time` is its tz-aware UTC open time."""

    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class CandleDataError(ValueError):
    """A candle file that cannot be trusted; the message names the source, line and problem.

    Line numbers are file lines as an editor shows them: the header is line 1, the first
    candle line 2.
    """

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.line = line
        self.problem = problem


def _parse_number(text: str, field: str, source: str, line: int) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CandleDataError(source, line, f"{field} {text!r} is not a number") from None
    if not value.is_finite():
        raise CandleDataError(source, line, f"{field} {text!r} is not a finite number")
    return value


def _parse_time(text: str, source: str, line: int) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CandleDataError(
            source, line, f"timestamp {text!r} is not ISO-8601 (like 2024-01-01T00:00:00Z)"
        ) from None
    offset = moment.utcoffset()
    if offset is None:
        raise CandleDataError(source, line, f"timestamp {text!r} has no time zone (end it in Z)")
    if offset:
        moment = moment.astimezone(UTC)
    return moment


def parse_candles_csv(text: str, *, source: str = "CSV") -> list[Candle]:
    """Parse and validate a candle CSV; raise `CandleDataError` on the first bad line.

    Validation is strict because a silently skipped or reordered candle changes every EMA after
    it: the header must be exactly `timestamp,open,high,low,close,volume`, timestamps strictly
    increase (no duplicates), prices are finite and positive, volume finite and not negative.
    Blank lines at the end are ignored.
    """
    lines = text.lstrip("\ufeff").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise CandleDataError(source, None, "is empty (expected a header line)")
    header = tuple(name.strip() for name in lines[0].split(","))
    if header != CSV_HEADER:
        missing = [name for name in CSV_HEADER if name not in header]
        detail = f"missing column {', '.join(missing)}" if missing else "unexpected columns"
        raise CandleDataError(
            source, 1, f"{detail}; the header must be exactly {','.join(CSV_HEADER)}"
        )
    candles: list[Candle] = []
    previous: datetime | None = None
    for line_no, row in enumerate(lines[1:], start=2):
        fields = row.split(",")
        if len(fields) != len(CSV_HEADER):
            raise CandleDataError(
                source, line_no, f"has {len(fields)} fields, expected {len(CSV_HEADER)}"
            )
        moment = _parse_time(fields[0].strip(), source, line_no)
        if previous is not None and moment <= previous:
            problem = "duplicate" if moment == previous else "out of order (before the line above)"
            raise CandleDataError(source, line_no, f"timestamp {fields[0].strip()} is {problem}")
        previous = moment
        prices = [
            _parse_number(fields[i].strip(), name, source, line_no)
            for i, name in enumerate(_PRICE_FIELDS, start=1)
        ]
        for name, price in zip(_PRICE_FIELDS, prices, strict=True):
            if price <= _ZERO:
                raise CandleDataError(source, line_no, f"{name} {price} is not positive")
        volume = _parse_number(fields[5].strip(), "volume", source, line_no)
        if volume < _ZERO:
            raise CandleDataError(source, line_no, f"volume {volume} is negative")
        candles.append(Candle(moment, prices[0], prices[1], prices[2], prices[3], volume))
    return candles


def closed_candles(candles: Sequence[Candle], now: datetime, interval: timedelta) -> list[Candle]:
    """Keep only candles that had closed at `now` (open time + interval <= now).

    The caller passes `now`, so this stays free of the clock; the live engine passes the
    scheduler's tick time and the CLI the wall clock.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    kept = len(candles)
    while kept and candles[kept - 1].time + interval > now:
        kept -= 1
    return list(candles[:kept])


def candle_interval(candles: Sequence[Candle]) -> timedelta:
    """The bar length of a series: the smallest gap between consecutive candles.

    The smallest gap, not the first or the most common, because real exchange data has outage
    gaps (SOURCES.md lists 28 in the hourly BTC file) that only ever make gaps longer.
    """
    if len(candles) < 2:
        raise ValueError("need at least two candles to tell their interval")
    return min(b.time - a.time for a, b in pairwise(candles))
