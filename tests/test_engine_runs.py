"""Scheduled runs on a controlled clock over real candles: local times across DST and in
Bangkok, exactly once per key, missed runs, flips acted on once and before the DCA, and the
reconciliation of an order a crash left unrecorded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.engine.context import Engine
from bot.engine.dca_run import run_key, run_schedule
from bot.engine.missed_runs import catch_up
from bot.engine.order_ids import client_order_id
from bot.engine.reconcile import reconcile
from bot.engine.schedules import add_schedule
from bot.engine.setup import open_engine
from bot.engine.trend_watch import act_on_flips
from storage import orders, schedules
from storage.db import Database
from storage.models import FlipEvent, Order, OutboxAlert, ReserveEntry, ScheduleRun
from strategies.candles import Candle
from strategies.cdc import Trend, cdc_series, trend_flips
from tests.conftest import Clock, make_settings, write_buy_intent
from tests.shared_data import BTC_DAILY, load_candles

HOUR = timedelta(hours=1)


def engine_for(tmp_path: Path, db: Database, clock: Clock, zone: str = "UTC") -> Engine:
    settings = make_settings(tmp_path, prices_csv=BTC_DAILY, timezone=zone,
                             paper_start_balance=Decimal(100_000))
    return open_engine(settings, clock=clock, db=db)


def count(db: Database, model: type, *where: object) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def kinds(db: Database) -> list[str]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboxAlert.kind).order_by(OutboxAlert.id)))


def trend_on(day: datetime) -> Trend | None:
    """The trend of the last candle closed at `day` (computed here from the strategy module)."""
    closed = [c for c in load_candles(BTC_DAILY) if c.time + timedelta(days=1) <= day]
    return cdc_series(closed).trends[-1]


def candle_at(day: datetime) -> Candle:
    return next(c for c in load_candles(BTC_DAILY) if c.time == day)


async def test_a_weekly_run_fires_at_local_time_across_the_berlin_dst_change(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = datetime(2025, 3, 20, tzinfo=UTC)
    engine = engine_for(tmp_path, db, clock, "Europe/Berlin")
    view = await add_schedule(engine, "mon", "07:00", Decimal(100), None, "plain",
                              requested_by="t")
    assert view.next_run == datetime(2025, 3, 24, 6, 0, tzinfo=UTC)  # 07:00 CET
    from bot.engine.schedule_spec import ScheduleSpec

    spec = ScheduleSpec("mon", "07:00")
    after_dst = spec.next_due(engine.settings.zone, view.next_run)
    assert after_dst == datetime(2025, 3, 31, 5, 0, tzinfo=UTC)  # 07:00 CEST
    for due in (view.next_run, after_dst):
        clock.now = due
        result = await run_schedule(engine, view.id, due)
        assert result.status == "done" and result.outcome == "buy filled"
    with db.transaction() as session:
        fills = orders.filled(session, exchange="binance", mode="paper", symbol="BTC/USDT")
        assert [o.price for o in fills] == [candle_at(datetime(2025, 3, 24, tzinfo=UTC)).open,
                                            candle_at(datetime(2025, 3, 31, tzinfo=UTC)).open]


async def test_a_bangkok_morning_run_is_the_utc_midnight_open(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = datetime(2024, 6, 1, tzinfo=UTC)
    engine = engine_for(tmp_path, db, clock, "Asia/Bangkok")
    view = await add_schedule(engine, "mon", "07:00", Decimal(100), None, "plain",
                              requested_by="t")
    assert view.next_run == datetime(2024, 6, 3, 0, 0, tzinfo=UTC)
    clock.now = view.next_run
    await run_schedule(engine, view.id, view.next_run)
    with db.transaction() as session:
        order = session.scalars(select(Order)).one()
        assert order.price == candle_at(datetime(2024, 6, 3, tzinfo=UTC)).open


async def test_a_run_key_runs_once(tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = datetime(2024, 6, 1, tzinfo=UTC)
    engine = engine_for(tmp_path, db, clock)
    view = await add_schedule(engine, "daily", "00:00", Decimal(100), None, "plain",
                              requested_by="t")
    due = datetime(2024, 6, 2, tzinfo=UTC)
    clock.now = due
    first = await run_schedule(engine, view.id, due)
    second = await run_schedule(engine, view.id, due)
    assert (first.status, second.status) == ("done", "already")
    assert count(db, Order) == 1
    assert count(db, ScheduleRun) == 1


async def test_cdc_runs_buy_in_an_uptrend_and_save_in_a_downtrend(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    up, down = datetime(2024, 2, 5, tzinfo=UTC), datetime(2022, 6, 20, tzinfo=UTC)
    assert (trend_on(up), trend_on(down)) == (Trend.UP, Trend.DOWN)
    clock.now = down - timedelta(days=10)
    engine = engine_for(tmp_path, db, clock)
    view = await add_schedule(engine, "mon", "00:00", Decimal(100), None, "cdc",
                              requested_by="t")
    for due in (down, up):
        clock.now = due
        await run_schedule(engine, view.id, due)
    with db.transaction() as session:
        saved = session.scalars(select(ReserveEntry).where(
            ReserveEntry.reason == "dca_to_reserve")).all()
        assert [(r.amount, r.note) for r in saved] == [(Decimal(100), run_key(view.id, down))]
        buys = session.scalars(select(Order).where(Order.cause == "schedule")).all()
        assert [o.created_at for o in buys] == [up]
    assert "dca_reserved" in kinds(db) and "dca_bought" in kinds(db)


async def test_a_restart_after_three_hours_runs_the_missed_run_once(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = datetime(2024, 5, 30, tzinfo=UTC)
    engine = engine_for(tmp_path, db, clock)
    view = await add_schedule(engine, "mon", "07:00", Decimal(100), None, "plain",
                              requested_by="t")
    clock.now = datetime(2024, 6, 3, 10, 0, tzinfo=UTC)  # 3 h after Monday 07:00
    results = await catch_up(engine, timedelta(hours=6))
    assert [(r.run_key, r.status) for r in results] == [
        (run_key(view.id, datetime(2024, 6, 3, 7, tzinfo=UTC)), "done")]
    assert await catch_up(engine, timedelta(hours=6)) == []  # a second start: nothing more
    assert count(db, Order) == 1


async def test_a_restart_after_two_days_reports_the_run_missed(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = datetime(2024, 5, 30, tzinfo=UTC)
    engine = engine_for(tmp_path, db, clock)
    view = await add_schedule(engine, "mon", "07:00", Decimal(100), None, "plain",
                              requested_by="t")
    clock.now = datetime(2024, 6, 5, 7, 0, tzinfo=UTC)  # two days after Monday 07:00
    results = await catch_up(engine, timedelta(hours=6))
    assert [r.status for r in results] == ["missed"]
    assert count(db, Order) == 0
    assert kinds(db).count("schedule_missed") == 1
    with db.transaction() as session:
        run = session.scalars(select(ScheduleRun)).one()
        assert (run.schedule_id, run.status) == (view.id, schedules.MISSED)
    assert await catch_up(engine, timedelta(hours=6)) == []
    assert kinds(db).count("schedule_missed") == 1


def first_flip_after(day: datetime) -> tuple[datetime, Trend]:
    flips = trend_flips(cdc_series(list(load_candles(BTC_DAILY))))
    flip = next(f for f in flips if f.time > day)
    return flip.time, flip.trend


async def test_a_flip_is_acted_on_once_and_before_the_same_days_dca(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    flip_time, trend = first_flip_after(datetime(2024, 1, 1, tzinfo=UTC))
    act_at = flip_time + timedelta(days=1)  # the flip candle has closed
    clock.now = flip_time - timedelta(days=30)
    engine = engine_for(tmp_path, db, clock)
    assert await act_on_flips(engine) is None  # the first watch records a baseline
    view = await add_schedule(engine, "daily", "00:00", Decimal(100), None, "plain",
                              requested_by="t")
    # hold some BTC and some reserve, so either flip direction has something to do
    for day in range(3):
        due = flip_time - timedelta(days=10 - day)
        clock.now = due
        await run_schedule(engine, view.id, due)
    from bot.engine.reserve import add_to_reserve

    await add_to_reserve(engine, Decimal(500), requested_by="t")
    clock.now = act_at
    await run_schedule(engine, view.id, act_at)
    assert await act_on_flips(engine) is None  # the daily watch finds it done
    with db.transaction() as session:
        event = session.scalars(select(FlipEvent).where(FlipEvent.status != "baseline")).one()
        assert (event.candle_time, event.trend, event.status) == (flip_time, trend.value, "done")
        cause = "flip_sell" if trend is Trend.DOWN else "flip_buy"
        flip_order = session.scalars(select(Order).where(Order.cause == cause)).one()
        run_order = session.scalars(select(Order).where(
            Order.cause == "schedule", Order.created_at == act_at)).one()
        assert flip_order.id < run_order.id  # the flip's order came first
    assert kinds(db).count("trend_flip") == 1


async def test_an_order_left_unrecorded_by_a_crash_is_reconciled_once(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = datetime(2024, 6, 3, tzinfo=UTC)
    engine = engine_for(tmp_path, db, clock)
    cid = client_order_id("buy_now", "token-1")
    # the intent was written and the order sent ...
    write_buy_intent(db, cid, "token-1", exchange="binance", mode="paper", now=clock.now)
    fill = await engine.exchange.buy_with_quote("BTC/USDT", Decimal(50), cid)
    lost = client_order_id("buy_now", "token-2")  # ... and one intent never reached it
    write_buy_intent(db, lost, "token-2", exchange="binance", mode="paper", now=clock.now)
    # ... then the process died. The next start:
    result = await reconcile(engine)
    assert (result.recorded, result.failed, result.unknown) == (1, 1, 0)
    assert await reconcile(engine) == type(result)(0, 0, 0)
    with db.transaction() as session:
        found = orders.by_client_id(session, cid)
        assert found is not None and found.status == "filled"
        assert (found.filled_base, found.filled_quote) == (fill.amount, fill.cost)
        missing = orders.by_client_id(session, lost)
        assert missing is not None and missing.status == "failed"
    assert kinds(db) == ["order_filled", "order_failed"]
    balances = await engine.exchange.balances()
    assert balances["USDT"] == Decimal(100_000) - fill.cost  # one fill, not two


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Asia/Bangkok"])
async def test_the_scheduler_plans_jobs_at_the_schedules_local_time(
        tmp_path: Path, db: Database, zone: str) -> None:
    from bot.scheduler import DcaScheduler

    real = Clock(datetime.now(UTC))
    engine = engine_for(tmp_path, db, real, zone)
    view = await add_schedule(engine, "mon,thu", "07:00", Decimal(100), None, "cdc",
                              requested_by="t")
    scheduler = DcaScheduler(engine)
    await scheduler.rebuild()
    scheduler.scheduler.start(paused=True)
    try:
        job = scheduler.scheduler.get_job(f"schedule-{view.id}")
        assert job is not None and job.next_run_time == view.next_run
        assert job.next_run_time.astimezone(engine.settings.zone).strftime("%a %H:%M") in {
            "Mon 07:00", "Thu 07:00"}
    finally:
        scheduler.scheduler.shutdown(wait=False)


async def test_an_order_below_the_minimum_is_refused_with_a_below_minimum_alert(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    import json

    from bot.engine.orders import OrderRequest, place_order

    clock.now = datetime(2024, 6, 3, tzinfo=UTC)
    engine = engine_for(tmp_path, db, clock)
    outcome = await place_order(engine, OrderRequest(
        cause="buy_now", cause_key="small", side="buy", quote_amount=Decimal(3)))
    assert (outcome.status, outcome.fill) == ("rejected", None)
    assert outcome.error == "Binance needs at least 5 USDT per BTC/USDT order; you asked for 3"
    with db.transaction() as session:
        alert = session.scalars(select(OutboxAlert)).one()
        payload = json.loads(alert.payload)
    assert alert.kind == "below_minimum"
    assert (payload["amount"], payload["minimum"]) == ("3", "5")
    assert (await engine.exchange.balances()) == {"USDT": Decimal(100_000)}


async def test_jobs_rebuilt_after_a_thai_readers_change_run_in_no_readers_language(
        tmp_path: Path, db: Database) -> None:
    """A schedule added by a Thai reader rebuilds the jobs; the jobs (and so the runs' records
    and alerts) must not inherit that reader's language from the command's context."""
    from bot.i18n import current, speaking
    from bot.scheduler import DcaScheduler

    engine = engine_for(tmp_path, db, Clock(datetime.now(UTC)))
    scheduler = DcaScheduler(engine)
    assert await db.run(scheduler.lock.try_acquire)
    scheduler.scheduler.start(paused=True)
    seen: list[str] = []
    real_rebuild = scheduler.rebuild

    async def rebuild() -> None:  # the real rebuild, noting the language it runs in
        seen.append(current.get())
        await real_rebuild()

    scheduler.rebuild = rebuild  # type: ignore[method-assign]
    try:
        with speaking("th"):
            await add_schedule(engine, "mon", "07:00", Decimal(100), None, "cdc",
                               requested_by="t")
            scheduler.schedules_changed()
            await asyncio.gather(*scheduler._rebuilds)
        assert seen == ["en"]
        assert scheduler.scheduler.get_jobs()  # rebuilt
    finally:
        scheduler.scheduler.shutdown(wait=False)
        await db.run(scheduler.lock.release)
