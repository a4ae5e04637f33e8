"""`dcabot replay`: the live engine run over history on a simulated clock, to compare with the
backtester.

Everything is the real thing except the clock and the prices: the schedule is added through the
same use case as `/schedule add`, its due times come from the same cron trigger the scheduler
uses, each run goes through `run_schedule` (which acts on pending flips first), the daily trend
watch runs at 00:05 UTC, and the paper exchange fills at the open of the candle the clock stands
in, with Binance's step sizes and minimums. The database is a fresh SQLite file.

`--strategy s4` (implied by `--gold-csv`) adds an `s4` schedule with S4 executing and the CDC
gate off, as the backtester's s4 runs: the daily S4 watch rotates, each run buys the asset S4
holds. S4 needs both markets, so its replay starts on the first day with a gold candle.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import load_settings
from bot.engine import strategy_settings
from bot.engine.context import Engine
from bot.engine.dca_run import run_schedule
from bot.engine.errors import UserError, shown
from bot.engine.portfolio import cost_basis
from bot.engine.s4_watch import s4_state, s4_watch
from bot.engine.schedule_spec import ScheduleSpec, parse_spec
from bot.engine.schedules import add_schedule
from bot.engine.setup import open_accounts_from_loop
from bot.engine.trend_watch import act_on_flips
from bot.exchanges.markets import gold_symbol
from storage import carry, ledger, orders
from storage.models import CarryEntry, Order, OutboxAlert, ReserveEntry
from strategies.candles import Candle, parse_candles_csv

TREND_WATCH_AT = time(0, 5)
MODES = {"dca": "plain", "plain": "plain", "cdc": "cdc", "s4": "s4"}


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
    strategy: str = "cdc"
    started: str = ""
    gold: Decimal = Decimal(0)
    held: str = "btc"  # the asset S4 holds at the end (s4 only)
    rotations: int = 0
    alerts: dict[str, int] = field(default_factory=dict)
    spent: Decimal = Decimal(0)  # what the BTC buys cost
    carried: Decimal = Decimal(0)  # set aside by runs below the minimum, not bought yet


async def _candles(path: Path) -> list[Candle]:
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    return parse_candles_csv(text, source=path.name)


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


def _strategy(strategy: str | None, gold_csv: Path | None) -> str:
    """The schedule mode for `--strategy` (dca, cdc or s4, as `dcabot backtest` names them)."""
    chosen = strategy or ("s4" if gold_csv is not None else "cdc")
    if chosen not in MODES:
        raise UserError(f"--strategy {shown(chosen)!r} is unknown; choose dca, cdc or s4")
    if chosen == "s4" and gold_csv is None:
        raise UserError("--strategy s4 needs --gold-csv FILE (PAXG/USDT daily candles)")
    if chosen != "s4" and gold_csv is not None:
        raise UserError("--gold-csv is only used by --strategy s4")
    return MODES[chosen]


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
    strategy: str | None = None,
) -> ReplaySummary:
    spec, _, amount = parse_schedule(schedule)
    mode = _strategy(strategy, gold_csv)
    if start > end:
        raise UserError(f"--start {start} is after --end {end}")
    candles = await _candles(csv)
    gold = await _candles(gold_csv) if gold_csv is not None else []
    begin = datetime.combine(start, time(0), UTC)
    if gold:
        begin = max(begin, gold[0].time)  # S4 decides nothing before both markets trade
    finish = datetime.combine(end, time(23, 59), UTC)
    window = [c for c in candles if begin <= c.time <= finish]
    if not window:
        raise UserError(f"{csv.name} has no candles between {start} and {end}")
    gold_closes = {c.time: c.close for c in gold}
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        clock = ReplayClock(begin)
        settings = load_settings(
            _env_file=None,
            data_dir=Path(tmp),
            prices_csv=csv,
            gold_prices_csv=gold_csv,
            mode="paper",
            exchanges=("binance",),  # one paper exchange, whatever the bot's own list says
            mode_binance=None,
            mode_okx=None,
            paper_start_balance=amount * 10_000,
            trend_history_days=4000,  # the most the setting allows: all of a daily CSV
            database_url=f"sqlite:///{Path(tmp) / 'replay.db'}",
            timezone=load_settings().timezone,
        )
        engine = (await open_accounts_from_loop(settings, clock=clock)).default
        try:
            if mode == "s4":
                await engine.db.run(
                    strategy_settings.update, engine, s4_execute=True, cdc_enabled=False
                )
            schedule_row = await add_schedule(
                engine, spec.days, spec.local_time, amount, None, mode, requested_by="replay"
            )
            summary = ReplaySummary(strategy={"plain": "dca"}.get(mode, mode),
                                    started=f"{window[0].time:%Y-%m-%d}")
            return await _run(engine, clock, spec, schedule_row.id, window, begin, finish,
                              summary, gold_closes)
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
    summary: ReplaySummary,
    gold_closes: dict[datetime, Decimal],
) -> ReplaySummary:
    s4 = bool(gold_closes)
    closes = iter(window)
    next_close: Candle | None = next(closes)
    peak = Decimal(0)
    for when, kind in _events(spec, engine, begin, finish):
        while next_close is not None and next_close.time + timedelta(days=1) <= when:
            peak, summary.max_drawdown_pct = await _mark(
                engine, next_close, gold_closes, peak, summary.max_drawdown_pct
            )
            next_close = next(closes, None)
        clock.now = when
        if kind == "run":
            result = await run_schedule(engine, schedule_id, when)
            summary.runs += result.status == "done"
        else:
            await act_on_flips(engine)
            if s4:
                await s4_watch(engine)
    while next_close is not None:
        peak, summary.max_drawdown_pct = await _mark(
            engine, next_close, gold_closes, peak, summary.max_drawdown_pct
        )
        next_close = next(closes, None)
    return await _summarise(engine, summary, window[-1], gold_closes)


async def _holdings(engine: Engine) -> tuple[Decimal, Decimal, Decimal]:
    """BTC, gold and the reserve on the replay's account."""
    balances = await engine.exchange.balances()
    btc = balances.get(engine.settings.base_asset, Decimal(0))
    gold = balances.get(gold_symbol(engine.exchange.name).split("/")[0], Decimal(0))
    reserve = await engine.db.transact(ledger.balance, engine.exchange.name, engine.exchange.mode)
    return btc, gold, reserve


def _gold_close(gold_closes: dict[datetime, Decimal], candle: Candle) -> Decimal:
    return gold_closes.get(candle.time, Decimal(0))


async def _mark(
    engine: Engine,
    candle: Candle,
    gold_closes: dict[datetime, Decimal],
    peak: Decimal,
    drawdown: Decimal,
) -> tuple[Decimal, Decimal]:
    btc, gold, reserve = await _holdings(engine)
    value = btc * candle.close + gold * _gold_close(gold_closes, candle) + reserve
    peak = max(peak, value)
    if peak > 0:
        drawdown = max(drawdown, (peak - value) / peak * 100)
    return peak, drawdown


def _invested(session: Session, engine: Engine) -> Decimal:
    """What the schedule contributed: its filled buys' requested amounts (less the carry they
    spent, counted when carried), its set-asides and what it carried."""
    bought = session.scalars(
        select(Order.requested_quote).where(Order.cause == "schedule", Order.status == "filled")
    ).all()
    saved = session.scalars(
        select(ReserveEntry.amount).where(ReserveEntry.reason == "dca_to_reserve")
    ).all()
    carried = session.scalars(
        select(CarryEntry.amount).where(CarryEntry.reason == carry.CARRIED)
    ).all()
    return sum((a or Decimal(0) for a in [*bought, *saved, *carried]), Decimal(0)) - (
        carry.spent_by_filled(session))


def _books(session: Session, engine: Engine) -> tuple[list[Order], list[Any], Decimal]:
    """The replay's filled orders, its alerts counted by kind, and what it invested."""
    filled = [o for symbol in (engine.symbol, gold_symbol(engine.exchange.name))
              for o in orders.filled(session, exchange=engine.exchange.name, mode="paper",
                                     symbol=symbol)]
    kinds = session.execute(select(OutboxAlert.kind, func.count()).group_by(OutboxAlert.kind))
    return filled, list(kinds.all()), _invested(session, engine)


async def _summarise(
    engine: Engine, summary: ReplaySummary, last: Candle, gold_closes: dict[datetime, Decimal]
) -> ReplaySummary:
    summary.btc, summary.gold, summary.reserve = await _holdings(engine)
    filled, kinds, summary.invested = await engine.db.transact(_books, engine)
    bought = [o for o in filled if o.side == "buy"]
    summary.buys, summary.sells = len(bought), len(filled) - len(bought)
    btc_buys = [o for o in bought if o.symbol == engine.symbol]
    spent = summary.spent = sum((o.filled_quote or Decimal(0) for o in btc_buys), Decimal(0))
    summary.carried = await engine.db.transact(carry.total, engine.exchange.name, "paper")
    received = cost_basis(btc_buys, engine.settings.base_asset).held
    summary.avg_cost = spent / received if received else None
    summary.final_value = (
        summary.btc * last.close + summary.gold * _gold_close(gold_closes, last) + summary.reserve
        + summary.carried
    )
    if gold_closes:
        state = await engine.db.run(s4_state, engine)
        summary.held, summary.rotations = state.active.value, len(state.rotations)
    if summary.invested:
        summary.return_pct = (summary.final_value - summary.invested) / summary.invested * 100
    summary.alerts = {kind: int(count) for kind, count in sorted(kinds)}
    return summary
