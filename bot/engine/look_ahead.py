"""Looking ahead: the next scheduled runs and what each would do now, and the runway (how many
of the coming runs the free USDT still pays for, and the day the money runs out).

Every run takes its amount from the free USDT, whether it buys or saves it to the reserve, so
the runway is the free USDT against the coming runs' amounts in order. It is told once per
shortfall (`runway_low`, keyed by the exchange and the first run it cannot pay), and a day
before a run that would fail for lack of money (`run_unfunded`, keyed by that run).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from bot.engine.accounts import Accounts
from bot.engine.context import Engine
from bot.engine.funds import funds_now, read_balances
from bot.engine.schedule_spec import ScheduleSpec
from bot.engine.trend_watch import read_trend
from bot.exchanges.base import ExchangeError
from bot.i18n import _
from storage import carry, outbox, schedules
from strategies.cdc import Trend

RUNWAY_RUNS = 4  # warn when the free money pays for fewer than this many coming runs
HORIZON = timedelta(days=400)
DAY = timedelta(days=1)
# a schedule leg: id, group, label, exchange, amount, mode, days, local time
Leg = tuple[int, int, str | None, str, Decimal, str, str, str]


@dataclass(frozen=True, slots=True)
class NextRun:
    at: datetime
    schedule_id: int  # the schedule's id as the owner knows it (its first leg's)
    label: str | None
    exchange: str
    amount: Decimal
    mode: str  # cdc, plain, s4
    would: str  # what the rule would do if it ran now
    carried: Decimal = Decimal(0)  # what the leg carries now (the first of its runs shows it)


def _would(mode: str, trend: Trend | None) -> str:
    """What a run would do, in the words that follow "would" (shown by /schedule next)."""
    if mode == "plain":
        return _("buy BTC")
    if mode == "s4":
        return _("buy what S4 holds")
    if trend is Trend.DOWN:
        return _("save it to the reserve (trend down)")
    return _("buy BTC (trend up)") if trend is Trend.UP else _("buy BTC (no trend yet)")


async def _trend_now(engine: Engine) -> Trend | None:
    try:
        return (await read_trend(engine)).trend
    except (ExchangeError, LookupError):
        kept = (engine.trend_source or engine).memory.trend
        return getattr(kept, "trend", None)


async def next_runs(accounts: Accounts, count: int) -> list[NextRun]:
    """The next `count` runs of every leg on the exchanges this bot trades on, soonest first."""
    now, zone = accounts.clock(), accounts.settings.zone
    legs = await accounts.db.transact(_legs, accounts.names)
    carries = await accounts.db.transact(_carries, accounts)
    trends = {name: await _trend_now(accounts.on(name)) for name in {leg[3] for leg in legs}}
    found: list[NextRun] = []
    for leg_id, group, label, exchange, amount, mode, days, local_time in legs:
        spec, after = ScheduleSpec(days, local_time), now
        carried = carries.get(leg_id, Decimal(0))
        for _run in range(count):
            at = spec.next_due(zone, after)
            if at - now > HORIZON:
                break
            found.append(NextRun(at, group, label, exchange, amount, mode,
                                 _would(mode, trends[exchange]), carried))
            after, carried = at, Decimal(0)
    return sorted(found, key=lambda r: r.at)[:count]


def _legs(session: Session, names: Collection[str]) -> list[Leg]:
    return [(s.id, s.leg_of or s.id, s.label, s.exchange, s.amount, s.mode, s.days,
             s.local_time) for s in schedules.active(session)
            if not s.paused and s.exchange in names]


def _carries(session: Session, accounts: Accounts) -> dict[int, Decimal]:
    found: dict[int, Decimal] = {}
    for engine in accounts:
        found.update(carry.by_schedule(session, engine.exchange.name, engine.exchange.mode))
    return found


@dataclass(frozen=True, slots=True)
class Runway:
    exchange: str
    mode: str
    free: Decimal
    covered: int  # how many of the coming runs the free money pays for
    runs: tuple[NextRun, ...]

    @property
    def runs_out(self) -> NextRun | None:
        """The first coming run the money does not pay for."""
        return self.runs[self.covered] if self.covered < len(self.runs) else None


async def runway(engine: Engine, runs: list[NextRun]) -> Runway:
    reading = await read_balances(engine)
    funds = await engine.db.transact(funds_now, engine, reading, engine.settings.quote_asset)
    free = funds.spendable
    mine = tuple(r for r in runs if r.exchange == engine.exchange.name)
    left, covered = free, 0
    for run in mine:
        if left < run.amount:
            break
        left -= run.amount
        covered += 1
    return Runway(engine.exchange.name, engine.exchange.mode, free, covered, mine)


def _told(engine: Engine, kind: str, key: str) -> bool:
    with engine.db.transaction() as session:
        return outbox.told(session, kind, "key", key)


def _tell(engine: Engine, kind: str, key: str, payload: dict[str, object]) -> bool:
    if _told(engine, kind, key):
        return False
    with engine.db.transaction() as session:
        outbox.enqueue(session, kind=kind, now=engine.clock(), urgent=kind == "run_unfunded",
                       payload={"key": key, **payload})
    return True


async def check_runway(accounts: Accounts, warn_below: int = RUNWAY_RUNS) -> list[str]:
    """Tell the owner, once each, of a short runway and of a run due within a day that the
    free money cannot pay; returns the kinds told."""
    runs = await next_runs(accounts, max(warn_below * 4, 8))
    told: list[str] = []
    for engine in accounts:
        try:
            way = await runway(engine, runs)
        except ExchangeError:
            continue  # the balance cannot be read: the next check tells
        short = way.runs_out
        if short is None:
            continue
        where = {"exchange": way.exchange, "mode": way.mode, "free": way.free,
                 "covered": way.covered, "amount": short.amount, "at": short.at.astimezone(UTC),
                 "schedule_id": short.schedule_id, "label": short.label}
        low_key = f"{way.exchange}:{way.mode}:{short.at:%Y-%m-%dT%H:%M}"
        if way.covered < warn_below and await engine.db.run(
                _tell, engine, "runway_low", low_key, where):
            told.append("runway_low")
        run_key = f"{way.exchange}:{short.schedule_id}:{short.at:%Y-%m-%dT%H:%M}"
        if short.at - engine.clock() <= DAY and await engine.db.run(
                _tell, engine, "run_unfunded", run_key, where):
            told.append("run_unfunded")
    return told
