"""Never twice: the engine's `place_order` through the real ccxt against the fake Binance and OKX,
with the transport failing in each way an order request can fail.

The fake is started with `reject_duplicate_client_ids=False`: real exchanges refuse a reused client
order id only while the first order is open, so a resent market order would fill twice. Every
"exactly one order" below is therefore the adapter's doing, not the fake's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.engine.context import Engine
from bot.engine.order_ids import client_order_id
from bot.engine.order_records import save_deadline
from bot.engine.orders import OrderRequest, place_order
from bot.engine.reconcile import reconcile_orders
from bot.exchanges.base import ExchangeUnavailable, OrderUncertain
from bot.exchanges.ccxt_exchange import CcxtExchange
from storage import orders
from storage.db import Database
from storage.models import Order, OutboxAlert
from tests.conftest import Clock, write_buy_intent
from tests.exchange_harness import (
    DEADLINE_MS,
    FAST_RETRY,
    adapter,
    engine_with,
    running,
    sqlite_database,
)
from tests.fakes.exchange import FakeExchange, Fault

BUY = OrderRequest(cause="buy_now", cause_key="token-1", side="buy", quote_amount=Decimal(50))
CID = client_order_id("buy_now", "token-1")


@pytest.fixture(params=["binance", "okx"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeExchange]:
    with running(request.param, reject_duplicate_client_ids=False) as started:
        yield started


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = sqlite_database(tmp_path)
    yield database
    database.dispose()


@pytest.fixture
async def exchange(fake: FakeExchange, clock: Clock) -> AsyncIterator[CcxtExchange]:
    built = adapter(fake, clock)
    yield built
    await built.close()


@pytest.fixture
def engine(
    tmp_path: Path, db: Database, fake: FakeExchange, exchange: CcxtExchange, clock: Clock
) -> Engine:
    return engine_with(tmp_path, db, fake, exchange, clock)


def stored_orders(db: Database) -> list[Order]:
    with db.transaction() as session:
        return list(session.scalars(select(Order)))


def alerts(db: Database, kind: str) -> int:
    with db.transaction() as session:
        query = select(func.count()).select_from(OutboxAlert).where(OutboxAlert.kind == kind)
        return int(session.scalar(query) or 0)


def assert_recorded_once(db: Database, fake: FakeExchange) -> None:
    """One filled order row matching the one order on the exchange, fee included."""
    [placed] = fake.orders
    [row] = stored_orders(db)
    assert row.status == orders.FILLED and row.client_order_id == placed.client_order_id == CID
    assert (row.filled_base, row.filled_quote, row.fee, row.fee_asset) == (
        placed.amount,
        placed.cost,
        placed.fee,
        placed.fee_asset,
    )
    assert row.mode == "live" and row.exchange == fake.exchange_id
    assert alerts(db, "order_filled") == 1


async def test_a_plain_buy_is_sent_once_and_recorded_with_its_fee(
    engine: Engine, db: Database, fake: FakeExchange
) -> None:
    outcome = await place_order(engine, BUY)
    assert outcome.status == orders.FILLED and outcome.mode == "live"
    assert fake.order_posts == 1
    assert_recorded_once(db, fake)
    assert fake.balances["BTC"] == fake.orders[0].amount - fake.orders[0].fee


@pytest.mark.parametrize(
    "fault",
    [Fault.accept_then_timeout(hold=5), Fault.accept_then_drop()],
    ids=["timeout", "dropped"],
)
async def test_an_accepted_order_whose_answer_is_lost_is_recorded_exactly_once(
    engine: Engine, db: Database, fake: FakeExchange, fault: Fault
) -> None:
    fake.inject(fake.order_endpoint, fault)
    outcome = await place_order(engine, BUY)
    assert outcome.status == orders.FILLED
    assert fake.order_posts == 1  # looked up, never sent again
    assert_recorded_once(db, fake)
    again = await place_order(engine, BUY)  # the same cause once more: nothing is sent
    assert again.repeated and fake.order_posts == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_5xx_is_looked_up_then_sent_again(
    engine: Engine, db: Database, fake: FakeExchange, status: int
) -> None:
    fake.inject(fake.order_endpoint, Fault.server_error(status))
    outcome = await place_order(engine, BUY)
    assert outcome.status == orders.FILLED
    assert fake.order_posts == 2
    first, resend = [r for r in fake.requests if r.endpoint == fake.order_endpoint]
    between = [r for r in fake.requests_to(fake.order_query_endpoint)
               if first.arrived_ms < r.arrived_ms < resend.arrived_ms]
    # looked up until a look-up made after the first request's deadline said "not found"
    assert len(between) >= len(FAST_RETRY.lookup_delays_s)
    assert between[-1].arrived_ms > first.arrived_ms + DEADLINE_MS - 50
    assert resend.arrived_ms > first.arrived_ms + DEADLINE_MS
    assert_recorded_once(db, fake)


async def test_a_rate_limited_order_is_sent_again_after_a_pause_without_a_lookup(
    engine: Engine, db: Database, fake: FakeExchange
) -> None:
    fake.inject(fake.order_endpoint, Fault.rate_limited(retry_after=1), times=2)
    outcome = await place_order(engine, BUY)
    assert outcome.status == orders.FILLED
    assert fake.order_posts == 3
    # no look-up for a refusal at the door; OKX's one look-up reads the accepted order's fill
    lookups = len(fake.requests_to(fake.order_query_endpoint))
    assert lookups == {"binance": 0, "okx": 1}[fake.exchange_id]
    assert_recorded_once(db, fake)


async def test_a_binance_ip_ban_418_stops_every_request_until_it_ends(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    with running("binance", reject_duplicate_client_ids=False) as fake:
        exchange = adapter(fake, clock)
        engine = engine_with(tmp_path, db, fake, exchange, clock)
        fake.inject(fake.order_endpoint, Fault.ip_banned(retry_after=120))
        outcome = await place_order(engine, BUY)
        assert outcome.status == orders.FAILED and fake.order_posts == 1
        assert "asked the bot to wait (banned this IP (HTTP 418), Retry-After 120 s)" in (
            outcome.error or ""
        ) and "when trading resumes" in (outcome.error or "")
        before = len(fake.requests)
        again = OrderRequest(cause="buy_now", cause_key="token-2", side="buy",
                             quote_amount=Decimal(50))
        with pytest.raises(ExchangeUnavailable, match="trading resumes"):
            await place_order(engine, again)  # reading the balance would knock: not sent
        await exchange.close()
        assert len(fake.requests) == before and fake.ban_violations == 0
        assert fake.requests_to(fake.order_query_endpoint) == []


async def test_rate_limited_on_every_try_fails_with_nothing_placed(
    engine: Engine, db: Database, fake: FakeExchange
) -> None:
    fake.inject(fake.order_endpoint, Fault.rate_limited(retry_after=1), times=None)
    outcome = await place_order(engine, BUY)
    assert outcome.status == orders.FAILED
    assert "nothing was placed" in (outcome.error or "") and "rate limited" in (outcome.error or "")
    assert fake.order_posts == FAST_RETRY.send_attempts and fake.orders == []


async def test_an_order_that_lands_late_inside_its_window_is_found_not_sent_again(
    tmp_path: Path, db: Database, fake: FakeExchange, clock: Clock
) -> None:
    """The order reaches the matching engine 0.4 s late (its window is 0.5 s), after the client
    gave up at 0.2 s: the look-ups go on until the deadline and find it."""
    exchange = adapter(fake, clock, timeout_s=0.2)
    engine = engine_with(tmp_path, db, fake, exchange, clock)
    fake.inject(fake.order_endpoint, Fault.lands_late(0.4))
    outcome = await place_order(engine, BUY)
    await exchange.close()
    assert outcome.status == orders.FILLED
    assert fake.order_posts == 1
    assert_recorded_once(db, fake)


@pytest.mark.parametrize("late_s", [0.7, 1.5])
async def test_an_order_landing_after_its_window_is_never_placed_twice(
    tmp_path: Path, db: Database, fake: FakeExchange, clock: Clock, late_s: float
) -> None:
    """The issue's double buy: the first request lands late, after the client timed out and
    after what the old look-ups waited. The exchange refuses it past its window, and the bot
    sends again only after the deadline, so the exchange holds exactly one order."""
    exchange = adapter(fake, clock, timeout_s=0.2)
    engine = engine_with(tmp_path, db, fake, exchange, clock)
    fake.inject(fake.order_endpoint, Fault.lands_late(late_s))
    outcome = await place_order(engine, BUY)
    await exchange.close()
    await asyncio.sleep(late_s)  # the first request has landed (and been refused) by now
    assert outcome.status == orders.FILLED
    assert len(fake.orders) == 1 and fake.order_posts == 2
    first, resend = sorted(
        (r for r in fake.requests if r.endpoint == fake.order_endpoint),
        key=lambda r: r.arrived_ms,
    )
    # refused on landing, past its window: Binance -1021, OKX 50037 "Order expired."
    assert any(code in str(first.answer) for code in ("-1021", "50037")), first.answer
    assert resend.arrived_ms > first.arrived_ms + DEADLINE_MS
    assert_recorded_once(db, fake)


async def test_a_restart_before_the_deadline_waits_for_a_late_order_instead_of_failing_it(
    tmp_path: Path, db: Database, fake: FakeExchange, clock: Clock
) -> None:
    """The process dies while its order is on its way; the next start looks it up before it
    landed: not found yet proves nothing, so it waits, and records the fill once it lands."""
    exchange = adapter(fake, clock, timeout_s=0.2)
    engine = engine_with(tmp_path, db, fake, exchange, clock)
    write_buy_intent(db, CID, "token-1", exchange=fake.exchange_id, mode="live", now=clock())
    fake.inject(fake.order_endpoint, Fault.lands_late(0.4))
    deadlines: list[object] = []

    async def on_attempt(deadline: object) -> None:
        deadlines.append(deadline)

    with pytest.raises(TimeoutError):  # the process "dies" while it looks the order up
        await asyncio.wait_for(
            exchange.buy_with_quote("BTC/USDT", Decimal(50), CID, on_attempt=on_attempt),
            timeout=0.25,
        )
    save_deadline(engine, CID, deadlines[0])  # what the engine wrote before sending
    restarted = adapter(fake, clock)
    again = engine_with(tmp_path, db, fake, restarted, clock)
    early = await reconcile_orders(again)
    assert (early.recorded, early.failed, early.waiting) == (0, 0, 1)
    await asyncio.sleep(0.5)  # it lands
    late = await reconcile_orders(again)
    await restarted.close()
    await exchange.close()
    assert (late.recorded, late.failed) == (1, 0)
    assert fake.order_posts == 1
    assert_recorded_once(db, fake)


async def test_when_no_lookup_answers_the_intent_stays_open_and_the_next_start_settles_it(
    tmp_path: Path, db: Database, fake: FakeExchange, clock: Clock
) -> None:
    fake.inject(fake.order_endpoint, Fault.accept_then_timeout(hold=5))
    fake.inject(fake.order_query_endpoint, Fault.server_error(503), times=None)
    exchange = adapter(fake, clock)
    engine = engine_with(tmp_path, db, fake, exchange, clock)
    outcome = await place_order(engine, BUY)
    assert outcome.status == orders.SENDING
    assert "may have placed" in (outcome.error or "")
    assert fake.order_posts == 1
    # while the exchange still cannot say, asking again sends nothing
    assert (await place_order(engine, BUY)).status == orders.SENDING
    assert fake.order_posts == 1
    await exchange.close()

    fake.clear_faults()  # the next start: the exchange answers again
    restarted = adapter(fake, clock)
    result = await reconcile_orders(engine_with(tmp_path, db, fake, restarted, clock))
    await restarted.close()
    assert (result.recorded, result.failed, result.unknown) == (1, 0, 0)
    assert fake.order_posts == 1
    assert_recorded_once(db, fake)


async def test_a_crash_between_sending_and_recording_is_reconciled_once(
    engine: Engine, db: Database, fake: FakeExchange, clock: Clock, exchange: CcxtExchange
) -> None:
    """The intent is written and the order sent, then the process dies before recording."""
    write_buy_intent(db, CID, "token-1", exchange=fake.exchange_id, mode="live", now=clock())
    await exchange.buy_with_quote("BTC/USDT", Decimal(50), CID)  # ... and nothing recorded
    first = await reconcile_orders(engine)
    second = await reconcile_orders(engine)
    assert (first.recorded, second.recorded) == (1, 0)
    assert fake.order_posts == 1
    assert_recorded_once(db, fake)
    assert (await place_order(engine, BUY)).repeated
    assert fake.order_posts == 1


async def test_an_intent_never_sent_is_failed_by_reconciliation(
    engine: Engine, db: Database, fake: FakeExchange, clock: Clock
) -> None:
    write_buy_intent(db, CID, "token-1", exchange=fake.exchange_id, mode="live", now=clock())
    result = await reconcile_orders(engine)
    assert (result.recorded, result.failed) == (0, 1)
    assert [o.status for o in stored_orders(db)] == [orders.FAILED]
    assert fake.order_posts == 0


async def test_a_sell_after_a_lost_answer_is_recorded_once_with_the_fee_in_usdt(
    engine: Engine, db: Database, fake: FakeExchange
) -> None:
    fake.set_balance("BTC", "0.01")
    fake.inject(fake.order_endpoint, Fault.accept_then_timeout(hold=5))
    request = OrderRequest(
        cause="sell_now", cause_key="t-9", side="sell", base_amount=Decimal("0.0012345")
    )
    outcome = await place_order(engine, request)
    assert outcome.status == orders.FILLED and outcome.fill is not None
    [sold] = fake.orders
    steps = {"binance": Decimal("0.00123"), "okx": Decimal("0.0012345")}  # truncated to lot
    assert sold.amount == steps[fake.exchange_id]
    assert (outcome.fill.amount, outcome.fill.cost, outcome.fill.fee) == (
        sold.amount,
        sold.cost,
        sold.fee,
    )
    assert outcome.fill.fee_asset == "USDT" and fake.order_posts == 1


async def test_the_uncertain_error_is_raised_by_the_adapter_itself(
    fake: FakeExchange, clock: Clock
) -> None:
    fake.inject(fake.order_endpoint, Fault.disconnect(), times=None)
    fake.inject(fake.order_query_endpoint, Fault.disconnect(), times=None)
    exchange = adapter(fake, clock)
    with pytest.raises(OrderUncertain, match="may have placed") as raised:
        await exchange.buy_with_quote("BTC/USDT", Decimal(20), "dcbbn" + "0" * 24)
    await exchange.close()
    assert exchange.title in str(raised.value) and "(live)" in str(raised.value)
    assert fake.order_posts == 1 and fake.orders == []
