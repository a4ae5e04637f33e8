"""A chaos year: the live engine on a simulated clock, through the real ccxt against the fake
Binance or OKX, with faults injected at random and the process killed and restarted.

Every simulated day runs what the scheduler would run: the trend watch after the daily close
(and its retries), the weekly DCA on Mondays at 07:00 UTC, and `keep_settling` (look open
orders up, retry runs and flips whose time has come) through the day, every half hour in the
six hours of a run's grace. Before each of these, a
seeded die may inject a fault shaped as the exchange delivers it (an answer lost after the
order was accepted, a dropped connection, a 5xx, a 429 or 418 with Retry-After, a request that
lands late, clock drift of up to 3 s, an outage of minutes to a day), and may kill the work in
flight after a random number of requests; a kill is followed by a restart: a new adapter and
engine on the same database, start-up reconciliation and catch-up, as `dcabot run` does.

`tests/chaos_checks.py` then checks the year: one final outcome per due run and its alert, no
duplicate order, the books equal to the fake's fills, no request inside a ban window.
Used by `tests/test_chaos_year.py` (marked slow) and `bench/chaos.py` (prints the figures).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.config import load_settings
from bot.engine import strategy_settings
from bot.engine.context import Engine
from bot.engine.dca_run import run_schedule
from bot.engine.exchange_state import clock_listener, pause_listener, pause_loader
from bot.engine.missed_runs import catch_up
from bot.engine.reconcile import keep_settling, reconcile
from bot.engine.schedules import add_schedule
from bot.engine.setup import circuit_alert
from bot.engine.trend_watch import act_on_flips
from bot.exchanges.base import ExchangeError
from bot.exchanges.ccxt_calls import RetryPolicy
from bot.exchanges.ccxt_exchange import CcxtExchange
from storage.db import Database
from storage.migrate import upgrade
from tests.exchange_harness import FAST_CLIENT, keys_of
from tests.fakes.exchange import FakeExchange, Fault

START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
RUN_AT = timedelta(hours=7)
WATCH_AT = timedelta(minutes=5)
SETTLE_EVERY = timedelta(hours=6)
RETRY_EVERY = timedelta(minutes=30)
OPENING_USDT = Decimal(20_000)
AMOUNT = Decimal(100)
POLICY = RetryPolicy(
    read_attempts=3,
    backoff_initial_s=0.5,
    backoff_max_s=4.0,
    jitter_s=0.2,
    send_attempts=3,
    lookup_delays_s=(1.0, 2.0, 4.0),
    recv_window_s=5.0,
    settle_margin_s=10.0,
    max_pause_wait_s=30.0,
)
TIMEOUT_S = 0.4  # real seconds before ccxt gives up on a held answer


class SimClock:
    """The simulated time of the bot, the fake and ccxt's signing clock alike."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def ms(self) -> int:
        return int(self.now.timestamp() * 1000)

    async def sleep(self, seconds: float) -> None:
        """The bot's waits (backoffs, look-ups) pass in simulated time."""
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)


@dataclass
class ChaosYear:
    exchange_id: str
    database_url: str
    seed: int
    weeks: int = 52
    fault_chance: float = 0.25
    kill_chance: float = 0.05
    faults: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    restarts: int = 0
    errors: list[str] = field(default_factory=list)


class World:
    """The fake exchange, the database and the engine of the moment (rebuilt on a restart)."""

    def __init__(self, year: ChaosYear, data_dir: Path) -> None:
        self.year = year
        self.rng = random.Random(year.seed)
        self.clock = SimClock(START)
        self.fake = FakeExchange(
            year.exchange_id,
            balances={"USDT": str(OPENING_USDT)},
            clock=self.clock.ms,
            reject_duplicate_client_ids=False,
        )
        self.db = Database(year.database_url)
        upgrade(self.db)
        self.settings = load_settings(
            _env_file=None,
            data_dir=data_dir,
            exchange=year.exchange_id,
            mode="live",
            database_url=year.database_url,
            request_timeout_s=TIMEOUT_S,
            trend_history_days=120,
            missed_run_grace_h=6,
            **{f"{year.exchange_id}_api_url": "http://127.0.0.1:1"},
        )
        self.engine: Engine | None = None
        self.candles = {c.open_ms: c for c in self.fake.venue.candles(
            self.fake.market_id("BTC/USDT"), "1d")}

    def build(self) -> Engine:
        db, clock, name = self.db, self.clock, self.year.exchange_id
        exchange = CcxtExchange(
            name,
            "live",
            clock=clock,
            credentials=keys_of(self.fake),
            base_url=self.fake.url,
            timeout_s=TIMEOUT_S,
            retry=POLICY,
            client_config=FAST_CLIENT,
            sleep=clock.sleep,
            on_circuit_change=circuit_alert(db, clock, "live"),
            on_pause=pause_listener(db, clock, name, "live"),
            load_pause=pause_loader(db, name, "live"),
            on_clock=clock_listener(db, clock, name, "live"),
        )
        exchange.client.milliseconds = clock.ms
        self.engine = Engine(settings=self.settings, db=db, exchange=exchange, clock=clock)
        return self.engine

    def set_price(self) -> None:
        """The fake's price: the open of the simulated day's candle."""
        day = self.clock.now.replace(hour=0, minute=0, second=0, microsecond=0)
        candle = self.candles.get(int(day.timestamp() * 1000))
        if candle is not None:
            self.fake.set_price("BTC/USDT", candle.open)

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.exchange.close()
        self.fake.stop()
        self.db.dispose()


FAULTS: list[tuple[str, Callable[[FakeExchange, random.Random, SimClock], None]]] = [
    ("order answer lost", lambda f, r, c: f.inject(
        f.order_endpoint, Fault.accept_then_timeout(hold=TIMEOUT_S + 0.3))),
    ("order connection dropped", lambda f, r, c: f.inject(
        f.order_endpoint, Fault.accept_then_drop())),
    ("connection reset", lambda f, r, c: f.inject(f.order_endpoint, Fault.disconnect())),
    ("5xx", lambda f, r, c: f.inject(
        f.order_endpoint, Fault.server_error(r.choice([500, 502, 503])))),
    ("429 with Retry-After", lambda f, r, c: f.inject(
        f.order_endpoint, Fault.rate_limited(retry_after=r.randint(1, 90)))),
    ("order lands late", lambda f, r, c: f.inject(
        f.order_endpoint, Fault.lands_late(r.choice([2.0, 8.0, 20.0]), hold=TIMEOUT_S + 0.2))),
    ("clock drift", lambda f, r, c: f.set_skew(r.randint(-3000, 3000))),
    ("outage", lambda f, r, c: f.down(
        seconds=r.choice([300, 1800, 3 * 3600, 12 * 3600, 24 * 3600]),
        mode=r.choice(["refuse", "503"]))),
]
BINANCE_ONLY = [
    ("418 ban with Retry-After", lambda f, r, c: f.inject(
        f.order_endpoint, Fault.ip_banned(retry_after=r.choice([120, 600, 3600, 7200])))),
]


def maybe_fault(world: World) -> None:
    year, rng = world.year, world.rng
    if rng.random() >= year.fault_chance:
        return
    choices = FAULTS + (BINANCE_ONLY if year.exchange_id == "binance" else [])
    name, inject = rng.choice(choices)
    inject(world.fake, rng, world.clock)
    year.faults[name] += 1


async def guarded(world: World, work: Callable[[Engine], Awaitable[Any]]) -> None:
    """Run one piece of the scheduler's work; maybe kill it after a few requests and restart
    the bot as a new process would."""
    assert world.engine is not None
    task = asyncio.ensure_future(work(world.engine))
    kill_after = (
        world.rng.randint(1, 6) if world.rng.random() < world.year.kill_chance else None
    )
    start = len(world.fake.requests)
    while not task.done():
        if kill_after is not None and len(world.fake.requests) - start >= kill_after:
            task.cancel()
            break
        await asyncio.sleep(0.001)
    try:
        await task
    except asyncio.CancelledError:
        world.year.kills += 1
        await restart(world)
    except ExchangeError:
        pass  # an outage met outside a run: the scheduler's job would retry it
    except Exception as exc:  # a bug: recorded, the year goes on
        world.year.errors.append(f"{world.clock.now:%Y-%m-%d %H:%M}: {exc!r}")


async def restart(world: World) -> None:
    if world.engine is not None:
        await world.engine.exchange.close()
    engine = world.build()
    world.year.restarts += 1
    try:
        await reconcile(engine)
        await catch_up(engine, timedelta(hours=world.settings.missed_run_grace_h))
    except ExchangeError:
        pass


async def live_a_year(year: ChaosYear, data_dir: Path) -> World:
    """Run the year; returns the world (closed by the caller after the checks)."""
    world = World(year, data_dir)
    world.fake.start()
    engine = world.build()
    strategy_settings.update(engine, sell_percent=Decimal(50))
    schedule = await add_schedule(engine, "mon", "07:00", AMOUNT, None, "cdc",
                                  requested_by="chaos")
    day = START
    for _ in range(year.weeks * 7):
        for at, work in day_plan(day, schedule.id):
            world.clock.now = max(world.clock.now, at)
            world.set_price()
            maybe_fault(world)
            await guarded(world, work)
        day += timedelta(days=1)
    world.fake.clear_faults()  # a quiet week: what is open settles
    world.fake.up()
    world.fake.set_skew(0)
    for _ in range(7 * 4):
        world.clock.now += SETTLE_EVERY
        world.set_price()
        await guarded(world, keep_settling)
    return world


def day_plan(day: datetime, schedule_id: int) -> list[tuple[datetime, Any]]:
    plan: list[tuple[datetime, Any]] = [(day + WATCH_AT, act_on_flips)]
    if day.weekday() == 0:
        due = day + RUN_AT
        plan.append((due, lambda engine: run_schedule(engine, schedule_id, due)))
        # the scheduler settles every minute; here every half hour within the run's grace
        plan += [(due + RETRY_EVERY * k, keep_settling) for k in range(1, 12)]
    plan += [(day + SETTLE_EVERY * k, keep_settling) for k in range(1, 4)]
    return sorted(plan, key=lambda item: item[0])
