"""One order per cause when two actors meet it: a web worker sending while the leader reconciles,
two tasks on one cause, a restart that finds the market halted.

Each "process" is an engine of its own (its own adapter, its own in-flight set) on the one
database and the one fake exchange, as `dcabot serve` and `dcabot run` would be. The fake keeps
real exchanges' rule that a client id is refused only while an order holding it is open, so a
second market order with the same id would fill: every "one order" below is the engine's doing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.engine.errors import UserError
from bot.engine.order_ids import client_order_id
from bot.engine.order_records import save_deadline
from bot.engine.orders import OrderRequest, place_order
from bot.engine.reconcile import reconcile_orders
from bot.engine.reserve import add_to_reserve
from storage import holds, ledger, orders
from storage.db import Database
from storage.models import Order, OutboxAlert
from tests.conftest import Clock, write_buy_intent
from tests.exchange_harness import adapter, engine_with, running, sqlite_database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = sqlite_database(tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


def stored(db: Database) -> list[Order]:
    with db.transaction() as session:
        return list(session.scalars(select(Order).order_by(Order.id)))


def alert_texts(db: Database) -> list[str]:
    with db.transaction() as session:
        return [f"{a.kind} {a.payload}" for a in session.scalars(select(OutboxAlert))]


async def wait_for_intent(db: Database, cause_key: str) -> None:
    for _ in range(500):
        with db.transaction() as session:
            if session.scalar(select(Order).where(Order.cause_key == cause_key)) is not None:
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no intent for {cause_key}")


@pytest.mark.parametrize("exchange_id", ["binance", "okx"])
async def test_the_leader_does_not_fail_an_intent_another_process_is_about_to_send(
        tmp_path: Path, db: Database, clock: Clock, exchange_id: str) -> None:
    """A web worker writes its intent (holding 300 of 300 free) and reads price and clock
    before sending; the leader's minute falls in between. Its look-up says "not found", but
    the request has not even been sent: failing it released the hold and let the leader spend
    the reserve (review finding 1)."""
    with running(exchange_id, balances={"USDT": "1000"}, latency=0.15,
                 reject_duplicate_client_ids=False) as fake:
        leader_ex, worker_ex = adapter(fake, clock, timeout_s=5.0), adapter(fake, clock,
                                                                            timeout_s=5.0)
        leader = engine_with(tmp_path, db, fake, leader_ex, clock)
        worker = engine_with(tmp_path, db, fake, worker_ex, clock)
        await add_to_reserve(leader, Decimal(700), requested_by="owner")  # 300 free

        async def leader_minute() -> tuple[int, str]:
            await wait_for_intent(db, "token-b")
            settled = await reconcile_orders(leader)
            try:
                await place_order(leader, OrderRequest("buy_now", "token-a", "buy", Decimal(300)))
            except UserError as exc:
                return settled.failed, str(exc)
            return settled.failed, "bought"

        worker_buy = OrderRequest("buy_now", "token-b", "buy", Decimal(300))
        worker_outcome, (failed, leader_said) = await asyncio.gather(
            place_order(worker, worker_buy), leader_minute())
        assert failed == 0
        assert worker_outcome.status == orders.FILLED
        assert "free" in leader_said  # the worker's hold stood: nothing free for the leader
        assert [o.status for o in stored(db)] == [orders.FILLED]
        assert len(fake.orders) == 1
        assert fake.balances["USDT"] >= Decimal(700)  # the reserve is still on the exchange
        with db.transaction() as session:
            assert ledger.balance(session, exchange_id, "live") == Decimal(700)
            assert holds.held(session, exchange_id, "live") == {}
        assert not [t for t in alert_texts(db) if "never placed" in t]
        await leader_ex.close()
        await worker_ex.close()


async def test_two_tasks_on_one_cause_send_one_order(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    """Two resumes of one run (or a double-tapped confirmation) at once (review finding 2)."""
    with running("binance", balances={"USDT": "1000"}, latency=0.1,
                 reject_duplicate_client_ids=False) as fake:
        exchange = adapter(fake, clock, timeout_s=5.0)
        engine = engine_with(tmp_path, db, fake, exchange, clock)
        request = OrderRequest("buy_now", "token-1", "buy", Decimal(100))
        outcomes = await asyncio.gather(place_order(engine, request),
                                        place_order(engine, request))
        assert fake.order_posts == 1 and len(fake.orders) == 1
        assert [o.status for o in stored(db)] == [orders.FILLED]
        assert sum(o.status == orders.FILLED for o in outcomes) >= 1
        assert fake.balances["USDT"] == Decimal(1000) - fake.orders[0].cost
        await exchange.close()


@pytest.mark.parametrize("exchange_id", ["binance", "okx"])
async def test_a_restart_during_a_halt_still_finds_the_fill_of_an_open_order(
        tmp_path: Path, db: Database, clock: Clock, exchange_id: str) -> None:
    """The order filled, its answer was lost; the bot restarts while Binance lists BTCUSDT as
    not trading. A look-up is no order: it must still be made, and its fill booked (review
    finding 3: the halt read as "ended with nothing filled" and the fill was never booked)."""
    with running(exchange_id, balances={"USDT": "1000"}) as fake:
        cid = client_order_id("buy_now", "token-1")
        write_buy_intent(db, cid, "token-1", exchange=exchange_id, mode="live", now=clock(),
                         quote=Decimal(100))
        first = adapter(fake, clock, timeout_s=5.0)
        await first.buy_with_quote("BTC/USDT", Decimal(100), cid)  # filled; nothing recorded
        await first.close()
        fake.halt("BTC/USDT")
        restarted = adapter(fake, clock, timeout_s=5.0)
        engine = engine_with(tmp_path, db, fake, restarted, clock)
        result = await reconcile_orders(engine)
        assert (result.recorded, result.failed) == (1, 0)
        [row] = stored(db)
        assert row.status == orders.FILLED and row.filled_quote == fake.orders[0].cost
        await restarted.close()


async def test_a_leader_that_never_sent_measures_the_clock_before_trusting_a_deadline(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    """This host is 20 s ahead of OKX (which accepts timestamps 30 s off, so nothing corrects
    it). The leader never sent an order, so it never measured the offset, and read the
    worker's deadline on its own clock: "never placed" 20 s early (review finding 7)."""
    with running("okx") as fake:
        fake.set_skew(-20_000)  # the venue is 20 s behind this host
        worker_ex = adapter(fake, clock)
        await worker_ex.sync_clock()
        leader_ex = adapter(fake, clock)  # never synced
        leader = engine_with(tmp_path, db, fake, leader_ex, clock)
        cid = client_order_id("buy_now", "k1")
        write_buy_intent(db, cid, "k1", exchange="okx", mode="live", now=clock())
        save_deadline(leader, cid, worker_ex.server_now() + timedelta(seconds=15))
        result = await reconcile_orders(leader)
        assert (result.failed, result.waiting) == (0, 1)
        assert [o.status for o in stored(db)] == [orders.SENDING]
        await leader_ex.close()
        await worker_ex.close()
