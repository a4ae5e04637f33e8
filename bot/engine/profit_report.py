"""`/profit`, `/daily`, `/weekly`, `/monthly`: the books (`profit`) over a period, valued.

A period's P&L is what it realized plus how much the unrealized P&L moved during it, so the
periods of a year add up to the year. Holdings are valued at a period's end at the close of the
last daily candle closed by then (the current price for the period still running); periods
start at midnight in the owner's time zone (weeks on Monday).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.engine.context import Engine
from bot.engine.profit import ZERO, Books, Trade, books_at, books_of, trades
from bot.engine.reserve import recorded_reserve

UNITS = ("day", "week", "month")
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ProfitView:
    exchange: str
    mode: str
    since: datetime | None  # None: since the first trade
    invested: Decimal  # all time: quote spent on buys
    bought: Decimal  # in the period
    sold: Decimal
    fees: dict[str, Decimal]  # in the period, by cause
    realized: Decimal  # in the period
    unrealized: Decimal  # now
    value: Decimal  # holdings now, at the current price
    reserve: Decimal
    total_realized: Decimal  # all time
    uncosted: Decimal = ZERO  # all time: proceeds of coins the books never saw bought

    @property
    def fees_total(self) -> Decimal:
        return sum(self.fees.values(), ZERO)

    @property
    def return_pct(self) -> Decimal | None:
        """Realized and unrealized P&L since the start, over what was invested."""
        if not self.invested:
            return None
        return (self.total_realized + self.unrealized) / self.invested * 100


@dataclass(frozen=True, slots=True)
class PeriodRow:
    start: datetime
    end: datetime
    bought: Decimal
    sold: Decimal
    fees: Decimal
    value: Decimal  # holdings at the period's end
    pnl: Decimal


def _between(later: Books, earlier: Books
             ) -> tuple[Decimal, Decimal, dict[str, Decimal], Decimal]:
    fees = {cause: later.fees[cause] - earlier.fees.get(cause, ZERO) for cause in later.fees}
    return (later.bought - earlier.bought, later.sold - earlier.sold,
            {c: v for c, v in fees.items() if v}, later.realized - earlier.realized)


async def current_prices(engine: Engine, found: list[Trade]) -> dict[str, Decimal]:
    symbols = dict.fromkeys(t.symbol for t in found)
    return {s: (await engine.exchange.price(s)).price for s in symbols}


async def profit_view(engine: Engine, since: datetime | None = None) -> ProfitView:
    found = await engine.db.run(trades, engine)
    books = books_of(found)
    before = books_of(t for t in found if since is not None and t.at < since)
    prices = await current_prices(engine, found)
    bought, sold, fees, realized = _between(books, before)
    reserve = await engine.db.run(recorded_reserve, engine)
    return ProfitView(
        exchange=engine.exchange.name,
        mode=engine.exchange.mode,
        since=since,
        invested=books.invested,
        bought=bought,
        sold=sold,
        fees=fees,
        realized=realized,
        unrealized=books.unrealized(prices),
        value=books.value(prices),
        reserve=reserve,
        total_realized=books.realized,
        uncosted=books.uncosted,
    )


def period_start(when: datetime, unit: str, zone: ZoneInfo) -> datetime:
    local = when.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        local -= timedelta(days=local.weekday())
    elif unit == "month":
        local = local.replace(day=1)
    return local


def _next(start: datetime, unit: str) -> datetime:
    if unit == "day":
        following = start.replace(tzinfo=None) + DAY
    elif unit == "week":
        following = start.replace(tzinfo=None) + 7 * DAY
    else:
        following = (start.replace(tzinfo=None, day=28) + 4 * DAY).replace(day=1)
    return following.replace(tzinfo=start.tzinfo)  # midnight on the wall clock, DST or not


Span = tuple[datetime, datetime]
Closes = dict[str, list[tuple[datetime, Decimal]]]  # per market: (closed at, close)


def periods(now: datetime, unit: str, count: int, zone: ZoneInfo) -> list[Span]:
    """The last `count` periods up to the one running now, oldest first."""
    starts = [period_start(now, unit, zone)]
    while len(starts) < count:
        starts.insert(0, period_start(starts[0] - timedelta(seconds=1), unit, zone))
    return [(start, _next(start, unit)) for start in starts]


async def _closes(engine: Engine, symbols: list[str], days: int) -> Closes:
    found = {}
    for symbol in symbols:
        candles = await engine.exchange.closed_candles(symbol, days)
        found[symbol] = [(c.time + DAY, c.close) for c in candles]  # (closed at, close)
    return found


def _price_at(closes: list[tuple[datetime, Decimal]], when: datetime) -> Decimal | None:
    known = [close for closed_at, close in closes if closed_at <= when]
    return known[-1] if known else None


async def period_rows(engine: Engine, unit: str, count: int) -> list[PeriodRow]:
    now, zone = engine.clock(), engine.settings.zone
    spans = periods(now, unit, count, zone)
    found = await engine.db.run(trades, engine)
    symbols = list(dict.fromkeys(t.symbol for t in found))
    days = min(max((now - spans[0][0]).days + 2, 2), 1000)
    closes = await _closes(engine, symbols, days) if symbols else {}
    current = await current_prices(engine, found)

    def prices_at(when: datetime) -> dict[str, Decimal]:
        if when >= now:
            return current
        at = {s: _price_at(closes[s], when) for s in symbols}
        return {s: p for s, p in at.items() if p is not None}

    def rows() -> list[PeriodRow]:  # CPU work in a worker thread: a year of trades is work
        edges = [start for start, _ in spans] + [spans[-1][1]]
        snapshots = books_at(found, edges)
        made = []
        for (start, end), earlier, later in zip(spans, snapshots, snapshots[1:], strict=False):
            bought, sold, fees, realized = _between(later, earlier)
            end_prices, start_prices = prices_at(end), prices_at(start)
            moved = later.unrealized(end_prices) - earlier.unrealized(start_prices)
            made.append(PeriodRow(start, end, bought, sold, sum(fees.values(), ZERO),
                                  later.value(end_prices), realized + moved))
        return made

    return await asyncio.to_thread(rows)
