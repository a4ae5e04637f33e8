"""Unattended: every due run ends in one outcome the owner hears about, through the real ccxt
against the fake Binance and OKX having their bad days (an outage, a restart in another mode).

The fake's clock and the bot's ccxt clock are one movable clock, so windows of minutes pass
without waiting; the bot's own clock (`Clock`) moves with it where the tests say.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.chat.commands.portfolio import status_card
from bot.engine import strategy_settings
from bot.engine.context import Engine
from bot.engine.dca_run import resume_unfinished_runs, retry_due_runs, run_key, run_schedule
from bot.engine.orders import OrderRequest, place_order
from bot.engine.portfolio import portfolio_status
from bot.engine.reconcile import other_modes_waiting, reconcile_orders
from bot.engine.run_outcomes import retry_later
from bot.engine.schedules import add_schedule
from bot.exchanges.ccxt_exchange import CcxtExchange
from storage import holds, orders, outbox, schedules
from storage.db import Database
from storage.models import OutboxAlert, ScheduleRun
from tests.conftest import Clock, write_buy_intent
from tests.exchange_harness import adapter, engine_with, running, settings_for, sqlite_database
from tests.fakes.exchange import FakeExchange, Fault
from tests.fakes.exchange_clients import MovableClock

DUE = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


@pytest.fixture
def movable() -> MovableClock:
    return MovableClock()


@pytest.fixture(params=["binance", "okx"])
def fake(request: pytest.FixtureRequest, movable: MovableClock) -> Iterator[FakeExchange]:
    with running(request.param, balances={"USDT": "1000"}, clock=movable) as started:
        yield started


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = sqlite_database(tmp_path)
    yield database
    database.dispose()


def on_movable(exchange: CcxtExchange, movable: MovableClock) -> CcxtExchange:
    """The bot's ccxt signs and times with the fake's movable clock."""
    exchange.client.milliseconds = lambda: int(movable())
    return exchange


@pytest.fixture
async def engine(
    tmp_path: Path, db: Database, fake: FakeExchange, clock: Clock, movable: MovableClock
) -> AsyncIterator[Engine]:
    exchange = on_movable(adapter(fake, clock), movable)
    built = engine_with(tmp_path, db, fake, exchange, clock)
    built.settings = settings_for(tmp_path, fake, missed_run_grace_h=1)
    strategy_settings.update(built, cdc_enabled=False)
    yield built
    await exchange.close()


def alert_kinds(db: Database) -> list[str]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboxAlert.kind).order_by(OutboxAlert.id)))


def the_run(db: Database) -> ScheduleRun:
    with db.transaction() as session:
        return session.scalars(select(ScheduleRun)).one()


async def daily_schedule(engine: Engine) -> int:
    view = await add_schedule(
        engine, "daily", "10:00", Decimal(20), None, "plain", requested_by="owner"
    )
    return view.id


async def test_a_run_meeting_an_outage_retries_then_buys_and_says_so_twice(
    engine: Engine, db: Database, fake: FakeExchange, clock: Clock, movable: MovableClock
) -> None:
    schedule_id = await daily_schedule(engine)
    fake.down(mode="503")
    clock.now = DUE
    first = await run_schedule(engine, schedule_id, DUE)
    assert first.status == schedules.RETRYING, first
    run = the_run(db)
    assert run.attempts == 1 and run.next_attempt_at is not None
    assert alert_kinds(db)[-1] == "run_delayed"
    for minutes in (2, 4, 8):  # still down: retried quietly
        clock.advance(minutes=minutes)
        movable.advance(minutes * 60)
        await retry_due_runs(engine)
    assert alert_kinds(db).count("run_delayed") == 1 and the_run(db).status == schedules.RETRYING
    fake.up()
    clock.advance(minutes=20)
    movable.advance(20 * 60)
    results = await retry_due_runs(engine)
    assert [r.status for r in results] == ["done"], results
    run = the_run(db)
    assert run.status == schedules.DONE and run.outcome.startswith("bought")
    kinds = alert_kinds(db)
    assert kinds.count("run_delayed") == 1 and kinds.count("dca_bought") == 1
    assert "schedule_missed" not in kinds
    assert len(fake.orders) == 1


async def test_a_run_still_unreachable_after_the_grace_is_missed_once(
    engine: Engine, db: Database, fake: FakeExchange, clock: Clock, movable: MovableClock
) -> None:
    schedule_id = await daily_schedule(engine)
    fake.down(mode="refuse")
    clock.now = DUE
    await run_schedule(engine, schedule_id, DUE)
    for _ in range(20):
        clock.advance(minutes=10)
        movable.advance(600)
        await retry_due_runs(engine)
    run = the_run(db)
    assert run.status == schedules.MISSED and run.outcome.startswith("missed: ")
    kinds = alert_kinds(db)
    assert kinds.count("run_delayed") == 1 and kinds.count("schedule_missed") == 1
    with db.transaction() as session:
        missed = [
            outbox.payload_of(a)
            for a in session.scalars(
                select(OutboxAlert).where(OutboxAlert.kind == "schedule_missed")
            )
        ]
    assert "could not be reached before the 1 h grace ran out" in str(missed[0]["reason"])
    assert fake.orders == []


async def test_a_restart_in_another_mode_never_settles_the_live_order(
    tmp_path: Path, db: Database, fake: FakeExchange, clock: Clock, movable: MovableClock
) -> None:
    """A live order left unconfirmed, then a restart in testnet: it waits for a live bot."""
    write_buy_intent(db, "dcbbnlive000000000000000000", "tok", exchange=fake.exchange_id,
                     mode="live", now=clock(), quote=Decimal(500))
    testnet = on_movable(adapter(fake, clock, mode="testnet"), movable)
    engine = engine_with(tmp_path, db, fake, testnet, clock)
    result = await reconcile_orders(engine)
    card = status_card(await portfolio_status(engine))
    await testnet.close()
    assert (result.recorded, result.failed, result.unknown, result.waiting) == (0, 0, 0, 0)
    assert other_modes_waiting(engine) == {"live": 1}
    waiting = {f.label: f.value for f in card.fields}["Waiting"]
    assert waiting == "1 live order of an earlier run: start the bot in live mode to settle it"
    with db.transaction() as session:
        [order] = orders.unsettled(session)
        assert order.mode == "live" and order.status == orders.SENDING
    assert fake.requests_to(fake.order_query_endpoint) == []  # not even looked up on testnet


async def test_an_unconfirmed_order_keeps_its_hold_until_settled(
    engine: Engine, db: Database, fake: FakeExchange, clock: Clock
) -> None:
    fake.inject(fake.order_endpoint, Fault.accept_then_timeout(hold=5))
    fake.inject(fake.order_query_endpoint, Fault.server_error(503), times=None)
    outcome = await place_order(
        engine, OrderRequest("buy_now", "k", "buy", quote_amount=Decimal(30))
    )
    assert outcome.status == orders.SENDING
    with db.transaction() as session:
        assert [h.amount for h in holds.active(session, fake.exchange_id, "live")] == [
            Decimal(30)
        ]
    fake.clear_faults()
    result = await reconcile_orders(engine)
    assert result.recorded == 1
    with db.transaction() as session:
        assert holds.active(session, fake.exchange_id, "live") == []


async def test_a_run_retried_through_a_long_outage_keeps_its_backoff_bounded(
    engine: Engine, db: Database, clock: Clock, fake: FakeExchange
) -> None:
    """Attempt 41 of a run with a 48 h grace (about 20 h of an outage) computed 2**41 minutes
    and raised OverflowError, which also stopped every other retry (review finding 5)."""
    engine.settings = settings_for(engine.settings.data_dir.parent, fake, missed_run_grace_h=48)
    schedule_id = await daily_schedule(engine)
    key = run_key(schedule_id, DUE)
    with db.transaction() as session:
        schedules.claim_run(session, schedule_id, key, DUE, DUE).attempts = 41
    clock.now = DUE + timedelta(hours=20)
    status, _ = retry_later(engine, key, DUE, "Binance (live) refused the API key")
    assert status == schedules.RETRYING
    assert the_run(db).next_attempt_at <= clock.now + timedelta(minutes=30)  # type: ignore[operator]


async def test_a_run_found_unfinished_days_after_its_grace_is_missed_not_bought(
    engine: Engine, db: Database, clock: Clock, fake: FakeExchange
) -> None:
    """A process died right after claiming the run; the next start is three days later, far
    past the 1 h grace: buying now would be a different decision (review finding 6)."""
    schedule_id = await daily_schedule(engine)
    with db.transaction() as session:
        schedules.claim_run(session, schedule_id, run_key(schedule_id, DUE), DUE, DUE)
    clock.now = DUE + timedelta(days=3)
    await resume_unfinished_runs(engine)
    assert fake.orders == []
    run = the_run(db)
    assert run.status == schedules.MISSED and "grace" in run.outcome
    assert alert_kinds(db) == ["schedule_changed", "schedule_missed"]


async def test_a_run_meeting_a_halted_market_is_retried_and_told_not_left_started(
    engine: Engine, db: Database, clock: Clock, fake: FakeExchange, movable: MovableClock
) -> None:
    """The bot restarts while the exchange lists BTC/USDT as not trading (maintenance). Reading
    the trend raised UnknownMarket, which no one caught: the run stayed `started` with no alert
    until the next restart (review finding 8). Now it is retried like an outage, and told."""
    view = await add_schedule(engine, "daily", "10:00", Decimal(20), None, "cdc",
                              requested_by="owner")
    fake.halt("BTC/USDT")
    await engine.exchange.close()
    engine.exchange = on_movable(adapter(fake, clock), movable)  # the restart
    clock.now = DUE
    result = await run_schedule(engine, view.id, DUE)
    assert result.status == schedules.RETRYING, result
    assert "not trading" in result.outcome
    assert the_run(db).status == schedules.RETRYING
    assert alert_kinds(db)[-1] == "run_delayed"
    assert fake.orders == []
