"""Value against invested, day by day, for the performance chart (`/profit chart`,
`dcabot report --chart`): at each daily close, what was put in, and what it has become (invested
plus realized and unrealized P&L: the holdings at that close and what sales brought back), with
the buys, sales and trend flips to mark on it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.engine.context import Engine
from bot.engine.profit import Trade, books_at, trades
from storage.models import FlipEvent

DAY = timedelta(days=1)
MAX_DAYS = 1000


@dataclass(frozen=True, slots=True)
class DayPoint:
    at: datetime  # the daily close
    invested: float
    value: float


def _points(found: list[Trade], closes: dict[str, dict[datetime, Decimal]],
            moments: list[datetime], now: datetime, current: dict[str, Decimal]
            ) -> tuple[DayPoint, ...]:
    """Value and invested at each daily close and now: one pass over the trades."""
    points = []
    every = [*moments, now]
    for moment, books in zip(every, books_at(found, every), strict=True):
        prices = current if moment == now else {
            s: by_time[moment] for s, by_time in closes.items() if moment in by_time}
        worth = books.invested + books.realized + books.unrealized(prices)
        points.append(DayPoint(moment, float(books.invested), float(worth)))
    return tuple(points)


@dataclass(frozen=True, slots=True)
class ProfitHistory:
    exchange: str
    mode: str
    points: tuple[DayPoint, ...]
    buys: tuple[datetime, ...]
    sells: tuple[datetime, ...]
    flips: tuple[tuple[datetime, str], ...]  # (candle, "up" or "down")
    simulated: bool  # prices (or fills) came from the simulated market: the chart says so


def _flips(session: Session, exchange: str, since: datetime) -> list[tuple[datetime, str]]:
    return [(f.candle_time, f.trend) for f in session.scalars(select(FlipEvent).where(
        FlipEvent.exchange == exchange, FlipEvent.candle_time >= since,
        FlipEvent.trend.in_(("up", "down"))).order_by(FlipEvent.candle_time))]


async def profit_history(engine: Engine, days: int = 365) -> ProfitHistory | None:
    """None when nothing was bought yet (there is nothing to draw)."""
    found = await engine.db.run(trades, engine)
    if not found:
        return None
    days = min(days, MAX_DAYS)
    first_day = found[0].at.replace(hour=0, minute=0, second=0, microsecond=0)
    now = engine.clock()
    span = min(days, (now - first_day).days + 2)
    symbols = list(dict.fromkeys([engine.symbol, *(t.symbol for t in found)]))
    closes = {s: {c.time + DAY: c.close for c in await engine.exchange.closed_candles(s, span)}
              for s in symbols}
    current = {s: (await engine.exchange.price(s)) for s in symbols}
    moments = sorted({t for by_time in closes.values() for t in by_time if first_day <= t < now})
    points = await asyncio.to_thread(_points, found, closes, moments, now,  # CPU work
                                     {s: q.price for s, q in current.items()})
    price = current[engine.symbol]
    flips = await engine.db.transact(_flips, engine.exchange.name, first_day)
    return ProfitHistory(
        exchange=engine.exchange.name, mode=engine.exchange.mode, points=points,
        buys=tuple(t.at for t in found if t.side == "buy"),
        sells=tuple(t.at for t in found if t.side == "sell"),
        flips=tuple(flips), simulated=price.simulated,
    )
