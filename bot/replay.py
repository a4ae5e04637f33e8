"""`dcabot replay`: the live engine run over history on a simulated clock, to compare with the
backtester.

Everything is the real thing except the clock and the prices: the schedule is added through the
same use case as `/schedule add`, its due times come from the same cron trigger the scheduler
uses, each run goes through `run_schedule` (which acts on pending flips first), the daily trend
watch runs at 00:05 UTC, and the paper exchange fills at the open of the candle the clock stands
in, with Binance's step sizes and minimums. The database is a fresh SQLite file.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import load_settings
from bot.engine.context import Engine
from bot.engine.dca_run import run_schedule
from bot.engine.errors import UserError
from bot.engine.portfolio import cost_basis
from bot.engine.schedule_spec import ScheduleSpec, parse_spec
from bot.engine.schedules import add_schedule
from bot.engine.setup import open_engine
from bot.engine.trend_watch import act_on_flips
from storage import ledger, orders
from storage.models import Order, OutboxAlert, ReserveEntry
from strategies.candles import Candle, parse_candles_csv

TREND_WATCH_AT = time(0, 5)


class ReplayClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ReplaySummary:
    invested: Decimal = Decimal(0)
    btc: Decimal = Decimal(0)
    reserve: Decimal = Decimal(0)
    final_value: Decimal = Decimal(0)
    return_pct: Decimal = Decimal(0)
    max_drawdown_pct: Decimal = Decimal(0)
    buys: int = 0
    sells: int = 0
    avg_cost: Decimal | None = None
    runs: int = 0
    alerts: dict[str, int] = field(default_factory=dict)


def parse_schedule(text: str) -> tuple[ScheduleSpec, str, Decimal]:
    parts = text.split()
    if len(parts) != 3:
        raise UserError(
            f"--schedule {text!r} must be '<days> <HH:MM> <amount>', e.g. 'mon 07:00 100'"
        )
    try:
        amount = Decimal(parts[2])
    except ArithmeticError:
        amount = Decimal(0)
    if not amount.is_finite() or amount <= 0:
        raise UserError(f"--schedule amount {parts[2]!r} must be a positive number, e.g. 100")
    return parse_spec(parts[0], parts[1]), text, amount


def _events(
    spec: ScheduleSpec, engine: Engine, start: datetime, end: datetime
) -> list[tuple[datetime, str]]:
    runs = [
        (t, "run")
        for t in spec.due_between(engine.settings.zone, start - timedelta(microseconds=1), end)
    ]
    day, watches = start.date(), []
    while (when := datetime.combine(day, TREND_WATCH_AT, UTC)) <= end:
        if when >= start:
            watches.append((when, "watch"))
        day += timedelta(days=1)
    return sorted(runs + watches)


async def replay(
    csv: Path,
    schedule: str,
    start: date,
    end: date,
    work_dir: Path | None = None,
    gold_csv: Path | None = None,
) -> ReplaySummary:
    spec, _, amount = parse_schedule(schedule)
    if start > end:
        raise UserError(f"--start {start} is after --end {end}")
    text = await asyncio.to_thread(csv.read_text, encoding="utf-8")
    candles = parse_candles_csv(text, source=csv.name)
    begin = datetime.combine(start, time(0), UTC)
    finish = datetime.combine(end, time(23, 59), UTC)
    window = [c for c in candles if begin <= c.time <= finish]
    if not window:
        raise UserError(f"{csv.name} has no candles between {start} and {end}")
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        clock = ReplayClock(begin)
        settings = load_settings(
            _env_file=None,
            data_dir=Path(tmp),
            prices_csv=csv,
            gold_prices_csv=gold_csv,
            mode="paper",
            paper_start_balance=amount * 10_000,
            trend_history_days=4000,  # the most the setting allows: all of a daily CSV
            database_url=f"sqlite:///{Path(tmp) / 'replay.db'}",
            timezone=load_settings().timezone,
        )
        engine = open_engine(settings, clock=clock)
        try:
            schedule_row = await add_schedule(
                engine, spec.days, spec.local_time, amount, None, "cdc", requested_by="replay"
            )
            return await _run(engine, clock, spec, schedule_row.id, window, begin, finish)
        finally:
            await engine.exchange.close()
            engine.db.dispose()


async def _run(
    engine: Engine,
    clock: ReplayClock,
    spec: ScheduleSpec,
    schedule_id: int,
    window: list[Candle],
    begin: datetime,
    finish: datetime,
) -> ReplaySummary:
    summary = ReplaySummary()
    closes = iter(window)
    next_close: Candle | None = next(closes)
    peak = Decimal(0)
    for when, kind in _events(spec, engine, begin, finish):
        while next_close is not None and next_close.time + timedelta(days=1) <= when:
            peak, summary.max_drawdown_pct = await _mark(
                engine, next_close, peak, summary.max_drawdown_pct
            )
            next_close = next(closes, None)
        clock.now = when
        if kind == "run":
            result = await run_schedule(engine, schedule_id, when)
            summary.runs += result.status == "done"
        else:
            await act_on_flips(engine)
    while next_close is not None:
        peak, summary.max_drawdown_pct = await _mark(
            engine, next_close, peak, summary.max_drawdown_pct
        )
        next_close = next(closes, None)
    return await _summarise(engine, summary, window[-1])


async def _holdings(engine: Engine) -> tuple[Decimal, Decimal]:
    btc = (await engine.exchange.balances()).get(engine.settings.base_asset, Decimal(0))
    with engine.db.transaction() as session:
        return btc, ledger.balance(session, engine.exchange.name, engine.exchange.mode)


async def _mark(
    engine: Engine, candle: Candle, peak: Decimal, drawdown: Decimal
) -> tuple[Decimal, Decimal]:
    btc, reserve = await _holdings(engine)
    value = btc * candle.close + reserve
    peak = max(peak, value)
    if peak > 0:
        drawdown = max(drawdown, (peak - value) / peak * 100)
    return peak, drawdown


def _invested(session: Session, engine: Engine) -> Decimal:
    """What the schedule contributed: its filled buys' requested amounts and its set-asides."""
    bought = session.scalars(
        select(Order.requested_quote).where(Order.cause == "schedule", Order.status == "filled")
    ).all()
    saved = session.scalars(
        select(ReserveEntry.amount).where(ReserveEntry.reason == "dca_to_reserve")
    ).all()
    return sum((a or Decimal(0) for a in [*bought, *saved]), Decimal(0))


async def _summarise(engine: Engine, summary: ReplaySummary, last: Candle) -> ReplaySummary:
    summary.btc, summary.reserve = await _holdings(engine)
    with engine.db.transaction() as session:
        filled = orders.filled(
            session, exchange=engine.exchange.name, mode="paper", symbol=engine.symbol
        )
        kinds = session.execute(
            select(OutboxAlert.kind, func.count()).group_by(OutboxAlert.kind)
        ).all()
        summary.invested = _invested(session, engine)
    bought = [o for o in filled if o.side == "buy"]
    summary.buys, summary.sells = len(bought), len(filled) - len(bought)
    spent = sum((o.filled_quote or Decimal(0) for o in bought), Decimal(0))
    received = cost_basis(bought, engine.settings.base_asset).held
    summary.avg_cost = spent / received if received else None
    summary.final_value = summary.btc * last.close + summary.reserve
    if summary.invested:
        summary.return_pct = (summary.final_value - summary.invested) / summary.invested * 100
    summary.alerts = {kind: int(count) for kind, count in sorted(kinds)}
    return summary
