"""The live S4 watch decides the backtester's rotations, once each, and trades none in shadow."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from bot.engine.s4_watch import PAIR, rotation_state, s4_watch
from bot.engine.setup import open_engine
from storage.db import Database
from storage.models import FlipEvent, Order, OutboxAlert
from strategies.s4 import Asset, S4Params, align_by_time, ratio_cdc, rotation_schedule
from tests.conftest import Clock, make_settings
from tests.shared_data import BTC_DAILY, PAXG_DAILY, load_candles, needs_shared_data

pytestmark = needs_shared_data


async def test_shadow_rotations_are_the_backtesters_and_trade_nothing(
        tmp_path: Path, db: Database) -> None:
    first, last = datetime(2020, 8, 29, tzinfo=UTC), datetime(2021, 9, 1, tzinfo=UTC)
    clock = Clock(first)
    settings = make_settings(tmp_path, prices_csv=BTC_DAILY, gold_prices_csv=PAXG_DAILY,
                             paper_start_balance=Decimal(1000))
    engine = open_engine(settings, clock=clock, db=db)
    day = first
    while day <= last:
        clock.now = day + timedelta(minutes=5)
        await s4_watch(engine)
        assert await s4_watch(engine) is None  # the same close never decides twice
        day += timedelta(days=1)

    btc = [c for c in load_candles(BTC_DAILY) if c.time < last]
    gold = [c for c in load_candles(PAXG_DAILY) if c.time < last]
    _, expected = rotation_schedule(ratio_cdc(align_by_time(btc, gold)), S4Params())
    assert expected, "the data should hold at least one rotation in this window"
    with db.transaction() as session:
        rows = session.scalars(select(FlipEvent).where(FlipEvent.symbol == PAIR)
                               .order_by(FlipEvent.candle_time)).all()
        got = [(r.candle_time, r.trend, r.status) for r in rows]
        alerts = session.scalars(select(OutboxAlert.payload).where(
            OutboxAlert.kind == "s4_rotation")).all()
        orders = session.scalar(select(func.count()).select_from(Order))
    assert got == [(r.time, r.to_asset.value, "shadow") for r in expected.values()]
    assert [json.loads(a)["shadow"] for a in alerts] == [True] * len(expected)
    assert orders == 0
    active, _ = rotation_state(engine)
    assert active is list(expected.values())[-1].to_asset
    assert active in (Asset.BTC, Asset.GOLD)
