"""S4 rotations traded through the real ccxt against the fake Binance and OKX: two legs, once
each, whatever a crash or an outage does between them; nothing at all in shadow mode.

The clock stands at 2025-08-23 00:05 UTC: on the real candles the BTC/gold ratio trend turned
down for good on the 2025-08-22 close, so the watch decides a rotation from BTC to gold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cards.alerts import alert_card
from bot.engine import strategy_settings
from bot.engine.context import Engine
from bot.engine.errors import UserError
from bot.engine.orders import OrderRequest, place_order
from bot.engine.reconcile import keep_settling, reconcile
from bot.engine.s4_watch import s4_state, s4_watch
from bot.exchanges.ccxt_exchange import CcxtExchange
from storage import holds, orders
from storage.db import Database
from storage.models import Order, OutboxAlert
from tests.conftest import Clock
from tests.exchange_harness import adapter, engine_with, running, sqlite_database
from tests.fakes.exchange import FakeExchange

DECIDED = datetime(2025, 8, 22, tzinfo=UTC)
NOW = DECIDED + timedelta(days=1, minutes=5)
GOLD = {"binance": "PAXG", "okx": "XAUT"}
ZONE = UTC


@pytest.fixture(params=["binance", "okx"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeExchange]:
    with running(request.param, balances={"BTC": "0.05", "USDT": "0"}) as started:
        yield started


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = sqlite_database(tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def exchange(fake: FakeExchange, clock: Clock) -> AsyncIterator[CcxtExchange]:
    built = adapter(fake, clock)
    yield built
    await built.close()


@pytest.fixture
def engine(tmp_path: Path, db: Database, fake: FakeExchange, exchange: CcxtExchange,
           clock: Clock) -> Engine:
    built = engine_with(tmp_path, db, fake, exchange, clock)
    strategy_settings.update(built, s4_execute=True)
    return built


def told(db: Database) -> list[dict[str, object]]:
    with db.transaction() as session:
        rows = session.scalars(select(OutboxAlert).order_by(OutboxAlert.id)).all()
    return [{"kind": r.kind, **json.loads(r.payload)} for r in rows]


def active_holds(db: Database, fake: FakeExchange) -> dict[str, Decimal]:
    with db.transaction() as session:
        return holds.held(session, fake.exchange_id, "live")


def stored(db: Database) -> list[Order]:
    with db.transaction() as session:
        return list(session.scalars(select(Order).order_by(Order.id)))


def assert_rotated_once(db: Database, fake: FakeExchange) -> None:
    """Exactly one sell of all the BTC and one buy of gold with what it brought in."""
    sell, buy = fake.orders
    gold = GOLD[fake.exchange_id]
    assert (sell.side, sell.amount) == ("sell", Decimal("0.05"))
    assert buy.side == "buy" and buy.symbol.startswith(gold)
    proceeds = sell.cost - sell.fee  # the sell's fee is taken in USDT
    assert proceeds - Decimal(1) < buy.cost <= proceeds  # a part of a step may stay unspent
    assert [(o.side, o.status) for o in stored(db)] == [("sell", "filled"), ("buy", "filled")]
    [rotation] = s4_state_rows(db)
    assert (rotation.status, rotation.from_asset, rotation.to_asset) == ("done", "btc", "gold")
    assert active_holds(db, fake) == {}
    alerts = [a for a in told(db) if a["kind"] == "s4_rotation"]
    assert [a["status"] for a in alerts] == ["done"]
    assert not [a for a in told(db) if a["kind"] in ("order_filled", "order_failed")]
    holdings = alerts[0]["holdings"]
    assert isinstance(holdings, dict) and Decimal(holdings["BTC"]) == 0
    assert Decimal(holdings[gold]) > 0


def s4_state_rows(db: Database) -> list[object]:
    from storage.models import S4Rotation

    with db.transaction() as session:
        return list(session.scalars(select(S4Rotation).where(S4Rotation.status != "baseline")))


async def test_a_rotation_sells_all_btc_then_buys_gold_with_the_proceeds(
        engine: Engine, db: Database, fake: FakeExchange) -> None:
    assert await s4_watch(engine) == "rotated"
    assert_rotated_once(db, fake)
    assert await s4_watch(engine) is None  # the same close never rotates twice
    await keep_settling(engine)
    assert len(fake.orders) == 2
    assert s4_state(engine).active.value == "gold"
    [alert] = [a for a in told(db) if a["kind"] == "s4_rotation"]
    card = alert_card("s4_rotation", alert, ZONE)  # type: ignore[arg-type]
    rows = {f.label: f.value for f in card.fields}
    assert card.title == "S4 rotated BTC → gold"
    assert rows["Sell"].startswith("sold 0.05000000 BTC at ") and ", fee " in rows["Sell"]
    assert rows["Buy"].startswith("bought ") and GOLD[fake.exchange_id] in rows["Buy"]
    assert rows["Holdings now"].startswith("0.00000000 BTC · ")
    assert rows["Decided on"] == "2025-08-22"


async def test_in_shadow_mode_no_order_reaches_the_exchange(
        engine: Engine, db: Database, fake: FakeExchange) -> None:
    strategy_settings.update(engine, s4_execute=False)
    assert await s4_watch(engine) == "shadow: would rotate btc -> gold"
    await keep_settling(engine)
    assert fake.order_posts == 0 and stored(db) == []
    [alert] = [a for a in told(db) if a["kind"] == "s4_rotation"]
    legs = alert["legs"]
    assert isinstance(legs, dict)
    assert Decimal(legs["sell"]["amount"]) == Decimal("0.05")
    assert legs["buy"]["symbol"] == f"{GOLD[fake.exchange_id]}/USDT"
    card = alert_card("s4_rotation", alert, ZONE)  # type: ignore[arg-type]
    assert card.title == "S4 would rotate BTC → gold"


def crash_between_legs(tmp_path: Path, db: Database, fake: FakeExchange) -> None:
    """A watch in another process rotates and is killed once the sell is recorded."""
    env = {**os.environ, "S4_CHILD_DIR": str(tmp_path / "child")}
    child = subprocess.run(
        [sys.executable, "-m", "tests.s4_child", fake.exchange_id, fake.url, fake.api_key,
         fake.secret, fake.passphrase if fake.exchange_id == "okx" else "", db.url,
         NOW.isoformat()],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert child.returncode == 137, child.stderr
    assert [o.side for o in fake.orders] == ["sell"]


async def test_a_crash_between_the_legs_resumes_with_the_buy_exactly_once(
        tmp_path: Path, engine: Engine, db: Database, fake: FakeExchange) -> None:
    crash_between_legs(tmp_path, db, fake)
    [sold] = stored(db)
    assert sold.status == orders.FILLED
    proceeds = sold.filled_quote - sold.fee  # type: ignore[operator]
    # until the buy leg runs, the proceeds are held: no other order can spend them
    assert active_holds(db, fake) == {"USDT": proceeds}
    with pytest.raises(UserError, match="free"):
        await place_order(engine, OrderRequest(cause="buy_now", cause_key="t-1", side="buy",
                                               quote_amount=Decimal(10)))
    await reconcile(engine)  # the restart: the new leader settles what the crash left open
    assert_rotated_once(db, fake)
    await reconcile(engine)
    await keep_settling(engine)
    assert len(fake.orders) == 2


@pytest.mark.parametrize("fake", ["binance"], indirect=True)
async def test_a_restart_during_an_outage_waits_then_buys_when_the_exchange_is_back(
        tmp_path: Path, engine: Engine, db: Database, fake: FakeExchange, clock: Clock) -> None:
    crash_between_legs(tmp_path, db, fake)
    fake.down()
    await reconcile(engine)
    [rotation] = s4_state_rows(db)
    assert rotation.status == "retrying"  # type: ignore[attr-defined]
    waiting = [a for a in told(db) if a["kind"] == "s4_rotation"]
    assert [a["status"] for a in waiting] == ["retrying"] and waiting[0]["retry_until"]
    fake.up()
    clock.advance(minutes=2)
    await keep_settling(engine)
    assert_rotated_once_after_waiting(db, fake)


def assert_rotated_once_after_waiting(db: Database, fake: FakeExchange) -> None:
    assert [o.side for o in fake.orders] == ["sell", "buy"]
    assert [a["status"] for a in told(db) if a["kind"] == "s4_rotation"] == ["retrying", "done"]
    assert active_holds(db, fake) == {}


@pytest.mark.parametrize("fake", ["binance"], indirect=True)
async def test_an_outage_past_the_grace_misses_the_buy_and_frees_the_proceeds(
        tmp_path: Path, engine: Engine, db: Database, fake: FakeExchange, clock: Clock) -> None:
    crash_between_legs(tmp_path, db, fake)
    fake.down()
    await reconcile(engine)
    clock.advance(hours=engine.settings.missed_run_grace_h + 1)
    await keep_settling(engine)
    fake.up()
    await keep_settling(engine)
    assert [o.side for o in fake.orders] == ["sell"]
    [rotation] = s4_state_rows(db)
    assert rotation.status == "missed"  # type: ignore[attr-defined]
    assert active_holds(db, fake) == {}  # the USDT is free again, and the owner is told
    last = [a for a in told(db) if a["kind"] == "s4_rotation"][-1]
    card = alert_card("s4_rotation", last, ZONE)  # type: ignore[arg-type]
    assert card.title == "S4 rotation missed BTC → gold"
    assert "stays free on the account as USDT" in card.lines[0]
