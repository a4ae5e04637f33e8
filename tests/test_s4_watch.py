"""The live S4 watch decides the backtester's rotations once each; in shadow mode it trades
nothing and tells the would-be legs; S4 schedules buy what S4 holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select, text

from bot.cards.alerts import alert_card
from bot.chat.commands.s4 import s4_card
from bot.engine import strategy_settings
from bot.engine.dca_run import run_schedule
from bot.engine.reconcile import keep_settling, reconcile
from bot.engine.s4_view import s4_view
from bot.engine.s4_watch import s4_state, s4_watch
from bot.engine.schedules import add_schedule
from bot.engine.setup import open_engine
from storage.db import Database
from storage.migrate import upgrade
from storage.models import FlipEvent, Order, OutboxAlert, S4Rotation
from strategies.s4 import Asset, S4Params, align_by_time, ratio_cdc, rotation_schedule
from tests.conftest import Clock, make_settings
from tests.shared_data import BTC_DAILY, PAXG_DAILY, load_candles

ZONE = datetime.now(UTC).tzinfo
DECIDED_GOLD = datetime(2025, 8, 22, tzinfo=UTC)


def paper_engine(tmp_path: Path, db: Database, clock: Clock, btc: str = "0.5"):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, prices_csv=BTC_DAILY, gold_prices_csv=PAXG_DAILY,
                             paper_start_balance=Decimal(1000), trend_history_days=4000)
    engine = open_engine(settings, clock=clock, db=db)
    opening = engine.exchange.opening_balances  # type: ignore[attr-defined]
    opening["BTC"] = Decimal(btc)  # a paper account that starts with some BTC
    return engine


def backtester_rotations(before: datetime) -> dict[int, object]:
    btc = [c for c in load_candles(BTC_DAILY) if c.time < before]
    gold = [c for c in load_candles(PAXG_DAILY) if c.time < before]
    _, rotations = rotation_schedule(ratio_cdc(align_by_time(btc, gold)), S4Params())
    return rotations  # type: ignore[return-value]


def alerts(db: Database, kind: str) -> list[dict[str, object]]:
    with db.transaction() as session:
        rows = session.scalars(select(OutboxAlert.payload).where(OutboxAlert.kind == kind)
                               .order_by(OutboxAlert.id)).all()
    return [json.loads(p) for p in rows]


async def test_shadow_rotations_are_the_backtesters_and_trade_nothing(
        tmp_path: Path, db: Database) -> None:
    first, last = datetime(2020, 8, 29, tzinfo=UTC), datetime(2022, 1, 1, tzinfo=UTC)
    clock = Clock(first)
    engine = paper_engine(tmp_path, db, clock)
    day = first
    while day <= last:
        clock.now = day + timedelta(minutes=5)
        await s4_watch(engine)
        assert await s4_watch(engine) is None  # the same close never decides twice
        day += timedelta(days=1)

    expected = backtester_rotations(last)
    assert len(expected) >= 3, "the data should hold several rotations in this window"
    state = s4_state(engine)
    got = [(r.candle_time, r.from_asset, r.to_asset, r.status) for r in state.rotations]
    assert got == [(r.time, r.from_asset.value, r.to_asset.value, "shadow")  # type: ignore[attr-defined]
                   for r in expected.values()]
    assert state.active is list(expected.values())[-1].to_asset  # type: ignore[attr-defined]
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0
    told = alerts(db, "s4_rotation")
    assert [a["status"] for a in told] == ["shadow"] * len(expected)
    # each shadow alert carries the would-be legs: all the BTC (or gold) held, at the last close
    first_told = told[0]
    legs = first_told["legs"]
    assert isinstance(legs, dict)
    sold = "BTC/USDT" if first_told["from"] == "btc" else "PAXG/USDT"
    assert legs["sell"]["symbol"] == sold
    if sold == "BTC/USDT":
        assert Decimal(legs["sell"]["amount"]) == Decimal("0.5")
        assert Decimal(legs["sell"]["notional"]) > 0 and Decimal(legs["buy"]["amount"]) > 0
    card = alert_card("s4_rotation", first_told, ZONE)  # type: ignore[arg-type]
    assert card.title.startswith("S4 would rotate")
    rows = {f.label: f.value for f in card.fields}
    assert rows["Sell"].startswith("would sell") and rows["Buy"].startswith("would buy")
    assert "nothing was traded" in card.lines[0]


async def test_the_first_watch_takes_its_state_from_history_and_decides_only_the_last_close(
        tmp_path: Path, db: Database) -> None:
    """Started years in, the watch does not replay old rotations as news: it records a
    baseline (the asset the history says S4 holds) and decides on the last close only."""
    rotations = backtester_rotations(datetime(2026, 1, 1, tzinfo=UTC))
    decided = sorted(r.time for r in rotations.values())  # type: ignore[attr-defined]
    day = decided[-1] + timedelta(days=1)  # the watch runs the day after a rotation's candle
    clock = Clock(day + timedelta(minutes=5))
    engine = paper_engine(tmp_path, db, clock)
    assert await s4_watch(engine) is not None
    state = s4_state(engine)
    assert [d.status for d in state.decisions] == ["baseline", "shadow"]
    assert state.rotations[0].candle_time == decided[-1]
    assert len(alerts(db, "s4_rotation")) == 1
    history = json.loads(state.decisions[0].legs)
    assert history["history"] == len(decided) - 1


async def test_an_s4_schedule_buys_gold_only_when_s4_executes(
        tmp_path: Path, db: Database) -> None:
    """Shadow: BTC is bought and the run says S4 would have bought gold; executing: gold."""
    rotations = backtester_rotations(datetime(2026, 1, 1, tzinfo=UTC))
    to_gold = max((r for r in rotations.values() if r.to_asset is Asset.GOLD),  # type: ignore[attr-defined]
                  key=lambda r: r.time)  # type: ignore[attr-defined]
    clock = Clock(to_gold.time + timedelta(days=3, hours=1))  # type: ignore[attr-defined]
    engine = paper_engine(tmp_path, db, clock, btc="0")
    schedule = await add_schedule(engine, "daily", "08:00", Decimal(100), None, "s4",
                                  requested_by="test")
    due = clock.now.replace(hour=1, minute=0)
    shadow = await run_schedule(engine, schedule.id, due)
    assert shadow.status == "done"
    assert "would have bought PAXG/USDT" in shadow.outcome
    strategy_settings.update(engine, s4_execute=True)
    real = await run_schedule(engine, schedule.id, due + timedelta(days=1))
    assert "buy PAXG/USDT filled" in real.outcome, real.outcome
    with db.transaction() as session:
        symbols = session.scalars(select(Order.symbol).order_by(Order.id)).all()
    assert symbols == ["BTC/USDT", "PAXG/USDT"]
    bought = alerts(db, "dca_bought")
    assert [b["strategy"] for b in bought] == ["s4", "s4"]
    card = alert_card("dca_bought", bought[-1], ZONE)  # type: ignore[arg-type]
    rows = {f.label: f.value for f in card.fields}
    assert card.title == "S4 DCA bought: PAXG/USDT"
    assert rows["S4 holds"].startswith("gold since")
    assert "PAXG" in rows["Position (bot's orders)"] and "BTC" in rows["Position (bot's orders)"]
    assert "S4 mode" not in rows  # executing: no shadow note
    shadow_card = alert_card("dca_bought", bought[0], ZONE)  # type: ignore[arg-type]
    shadow_rows = {f.label: f.value for f in shadow_card.fields}
    assert shadow_rows["S4 mode"] == "shadow: BTC bought, S4 would have bought gold"


async def test_s4_command_shows_state_rotations_and_a_chart(
        tmp_path: Path, db: Database) -> None:
    first = datetime(2025, 6, 1, tzinfo=UTC)
    clock = Clock(first)
    engine = paper_engine(tmp_path, db, clock)
    for day in range(90):
        clock.now = first + timedelta(days=day, minutes=5)
        await s4_watch(engine)
    view = await s4_view(engine)
    card = s4_card(view, engine, engine.settings.zone)
    rows = {f.label: f.value for f in card.fields}
    state = s4_state(engine)
    assert rows["S4 holds"].startswith({"btc": "BTC", "gold": "gold"}[state.active.value])
    assert rows["Rotations"] == "shadow: told, not traded"
    assert rows["Holdings"] == "0.50000000 BTC · 0.00000000 PAXG"
    shown = [line for line in card.lines if "shadow (told, not traded)" in line]
    assert len(shown) == min(5, len(state.rotations)) > 0
    assert card.image is not None and card.image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "sells all" in card.lines[0]
    with db.transaction() as session:  # /s4 only reads
        assert session.scalar(select(func.count()).select_from(S4Rotation)) == len(
            state.decisions)


async def test_s4_rows_of_the_old_shape_move_to_their_table_and_a_restart_resumes_cleanly(
        tmp_path: Path, database_url: str) -> None:
    """Before 0007 S4 decisions were flip_events rows with an asset as their trend; resuming
    flips read 'gold' as a Trend and raised. They move to s4_rotations and resuming is quiet."""
    old = Database(database_url)
    upgrade(old, "0006")
    made = datetime(2025, 8, 23, 0, 5, tzinfo=UTC)
    with old.engine.begin() as connection:
        for key, candle, asset, status in (
            ("s4:paper-a", datetime(2025, 6, 15, tzinfo=UTC), "gold", "shadow"),
            ("s4:paper-b", datetime(2025, 6, 27, tzinfo=UTC), "btc", "done"),
            ("s4:paper-c", DECIDED_GOLD, "gold", "started"),
        ):
            connection.execute(text(
                "INSERT INTO flip_events (flip_key, exchange, symbol, candle_time, trend, status,"
                " outcome, created_at, attempts) VALUES (:k, 'binance', 'S4:BTC/GOLD', :c, :t,"
                " :s, '', :m, 0)"), {"k": key, "c": candle, "t": asset, "s": status, "m": made})
    upgrade(old)
    clock = Clock(made)
    engine = paper_engine(tmp_path, old, clock)
    await reconcile(engine)  # raised "'gold' is not a valid Trend" before
    await keep_settling(engine)
    await reconcile(engine)
    state = s4_state(engine)
    assert [(r.from_asset, r.to_asset, r.status) for r in state.decisions] == [
        ("btc", "gold", "shadow"), ("gold", "btc", "done"), ("btc", "gold", "done")]
    assert state.active is Asset.GOLD
    with old.transaction() as session:
        assert session.scalar(select(func.count()).select_from(FlipEvent)) == 0
        # the rotation the old code had started is finished, its legs traded once
        legs = session.execute(select(Order.side, Order.symbol).order_by(Order.id)).all()
    assert [tuple(leg) for leg in legs] == [("sell", "BTC/USDT"), ("buy", "PAXG/USDT")]
    old.dispose()
