"""Real exchange faults, delivered the way Binance and OKX document them, through the real ccxt:
the circuit breaker counting what matters, Retry-After and bans honoured across a restart,
clock drift re-synced, and refusals worded by the rule the exchange named."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.engine.exchange_state import pause_listener, pause_loader
from bot.engine.orders import OrderRequest, place_order
from bot.engine.setup import circuit_alert
from bot.exchanges.base import ExchangeUnavailable
from bot.exchanges.ccxt_exchange import CcxtExchange
from bot.exchanges.quantize import AboveMaximum
from bot.exchanges.rate_gate import PAUSE_MARGIN
from storage import orders
from storage.db import Database
from storage.models import OutboxAlert
from tests.conftest import Clock
from tests.exchange_harness import adapter, engine_with, running, sqlite_database
from tests.fakes.exchange import FakeExchange, Fault
from tests.fakes.exchange_clients import MovableClock


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = sqlite_database(tmp_path)
    yield database
    database.dispose()


def alerts(db: Database, kind: str) -> int:
    with db.transaction() as session:
        return len(session.scalars(select(OutboxAlert).where(OutboxAlert.kind == kind)).all())


def build(fake: FakeExchange, clock: Clock, db: Database, movable: MovableClock,
          **options: object) -> CcxtExchange:
    """The adapter as the engine builds it: breaker alerts, saved pauses, the fake's clock."""
    exchange = adapter(
        fake,
        clock,
        on_circuit_change=circuit_alert(db, clock, "live"),
        **options,  # type: ignore[arg-type]
    )
    exchange.gate.on_pause = pause_listener(db, clock, fake.exchange_id, "live")
    exchange.gate.load = pause_loader(db, fake.exchange_id, "live")
    exchange.client.milliseconds = lambda: int(movable())  # its first request reads the pause
    return exchange


@pytest.mark.parametrize("exchange_id", ["binance", "okx"])
async def test_the_breaker_opens_at_the_default_threshold_in_a_total_outage(
    db: Database, clock: Clock, exchange_id: str
) -> None:
    """The market list is cached after the first read: that is no success, so two failing
    reads (three tries each) make the five failures in a row that open the breaker."""
    movable = MovableClock()
    with running(exchange_id, clock=movable) as fake:
        exchange = build(fake, clock, db, movable)
        await exchange.price("BTC/USDT")  # markets loaded and cached
        fake.down(mode="refuse")
        for _ in range(2):
            with pytest.raises(ExchangeUnavailable):
                await exchange.price("BTC/USDT")
        assert exchange.breaker.is_open and alerts(db, "circuit_open") == 1
        sent = len(fake.requests)
        with pytest.raises(ExchangeUnavailable, match="circuit breaker is open"):
            await exchange.price("BTC/USDT")
        assert len(fake.requests) == sent  # nothing sent while open
        fake.up()
        clock.advance(minutes=3)  # past the cool-down: a probe, then the read
        assert (await exchange.price("BTC/USDT")).price > 0
        await exchange.close()
    assert not exchange.breaker.is_open and alerts(db, "circuit_closed") == 1


async def test_a_429_retry_after_is_honoured_before_anything_is_sent_again(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    movable = MovableClock()
    with running("binance", clock=movable) as fake:
        exchange = build(fake, clock, db, movable)
        engine = engine_with(tmp_path, db, fake, exchange, clock)
        fake.inject(fake.order_endpoint, Fault.rate_limited(retry_after=37))
        outcome = await place_order(engine, OrderRequest("buy_now", "a", "buy",
                                                         quote_amount=Decimal(50)))
        assert outcome.status == orders.FAILED and "Retry-After 37 s" in (outcome.error or "")
        sent = len(fake.requests)
        movable.advance(30)
        with pytest.raises(ExchangeUnavailable, match="trading resumes"):
            await exchange.price("BTC/USDT")
        assert len(fake.requests) == sent
        movable.advance(8)  # 38 s: past Retry-After, not past the margin for a clock step
        with pytest.raises(ExchangeUnavailable, match="trading resumes"):
            await exchange.price("BTC/USDT")
        movable.advance(PAUSE_MARGIN.total_seconds())
        assert (await exchange.price("BTC/USDT")).price > 0
        await exchange.close()
    assert alerts(db, "exchange_paused") == 1


async def test_a_418_ban_outlives_a_restart_and_no_request_lands_inside_it(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    movable = MovableClock()
    with running("binance", clock=movable) as fake:
        exchange = build(fake, clock, db, movable)
        await exchange.price("BTC/USDT")
        fake.inject("GET /api/v3/ticker/24hr", Fault.ip_banned(retry_after=7200))
        with pytest.raises(ExchangeUnavailable):
            await exchange.price("BTC/USDT")
        await exchange.close()
        restarted = build(fake, clock, db, movable)  # a new process reads the saved ban
        for _ in range(5):
            with pytest.raises(ExchangeUnavailable, match="banned this IP"):
                await restarted.price("BTC/USDT")
        movable.advance(7200 + 1)
        fake.set_skew(-3000)  # meanwhile NTP stepped this host's clock 3 s forward
        with pytest.raises(ExchangeUnavailable, match="banned this IP"):
            await restarted.price("BTC/USDT")  # the ban is not over on Binance's clock
        movable.advance(PAUSE_MARGIN.total_seconds())
        assert (await restarted.price("BTC/USDT")).price > 0
        await restarted.close()
        assert fake.ban_violations == 0
    assert alerts(db, "exchange_paused") == 1


@pytest.mark.parametrize(("exchange_id", "skew_ms"), [("binance", -1500), ("okx", 9000)])
async def test_clock_drift_is_resynced_and_the_order_goes_through(
    db: Database, clock: Clock, tmp_path: Path, exchange_id: str, skew_ms: int
) -> None:
    """Synced once; then the host drifts (Binance: 1.5 s ahead, so the next signed request gets
    -1021; OKX: 9 s behind, so the order's expTime is already past, 50036). The refusal re-syncs
    the clock and the request is sent once more: one order, no failed run."""
    movable = MovableClock()
    with running(exchange_id, clock=movable) as fake:
        exchange = build(fake, clock, db, movable)
        engine = engine_with(tmp_path, db, fake, exchange, clock)
        await exchange.sync_clock()
        fake.set_skew(skew_ms)
        outcome = await place_order(engine, OrderRequest("buy_now", "c", "buy",
                                                         quote_amount=Decimal(50)))
        await exchange.close()
        assert outcome.status == orders.FILLED, outcome.error
        refused = [r for r in fake.requests if "-1021" in str(r.answer) or "50036" in str(r.answer)]
        assert refused, "the drift was never noticed"
        assert len(fake.orders) == 1
        assert abs(exchange.time.offset_ms or 0) >= abs(skew_ms) - 200


async def test_a_late_liquidity_refusal_and_okx_minimum_are_worded_by_their_rule(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    movable = MovableClock()
    with running("binance", clock=movable) as fake:
        engine = engine_with(tmp_path, db, fake, build(fake, clock, db, movable), clock)
        fake.inject(fake.order_endpoint, Fault.reject(
            -2010, "Order book liquidity is less than LOT_SIZE filter minimum quantity."))
        outcome = await place_order(engine, OrderRequest("buy_now", "l", "buy",
                                                         quote_amount=Decimal(50)))
        assert outcome.status == orders.REJECTED
        assert "the order book has too little to fill it right now" in (outcome.error or "")
        assert "too small" not in (outcome.error or "")
        await engine.exchange.close()
    with running("okx", clock=movable) as fake:
        engine = engine_with(tmp_path, db, fake, build(fake, clock, db, movable), clock)
        fake.inject(fake.order_endpoint, Fault.reject("51020"))
        outcome = await place_order(engine, OrderRequest("buy_now", "m", "buy",
                                                         quote_amount=Decimal(50)))
        assert outcome.status == orders.REJECTED and "as too small" in (outcome.error or "")
        await engine.exchange.close()


async def test_an_order_above_the_market_maximum_is_refused_before_sending(
    db: Database, clock: Clock
) -> None:
    movable = MovableClock()
    with running("binance", clock=movable, balances={"BTC": "100000"}) as fake:
        exchange = build(fake, clock, db, movable)
        rules = await exchange.market_rules("BTC/USDT")
        assert rules.max_market_amount is not None
        with pytest.raises(AboveMaximum, match="per BTC/USDT market order"):
            await exchange.sell_base("BTC/USDT", rules.max_market_amount * 2, "dcbsn" + "1" * 24)
        await exchange.close()
        assert fake.order_posts == 0


async def test_a_shorter_pause_seen_by_another_process_never_shortens_a_ban(
    db: Database, clock: Clock
) -> None:
    """Process A is answered 418 with a two-hour ban; process B, not yet aware of it, is
    answered 429 with Retry-After 30 s. B's pause overwrote A's saved ban, so a restart a
    minute later knocked on Binance inside the ban (review finding 9)."""
    movable = MovableClock()
    with running("binance", clock=movable) as fake:
        other = build(fake, clock, db, movable)  # B: started before the ban
        first = build(fake, clock, db, movable)
        fake.inject("/api/v3/ticker/24hr", Fault.ip_banned(retry_after=7200, window=False))
        with pytest.raises(ExchangeUnavailable):
            await first.price("BTC/USDT")
        fake.inject("/api/v3/ticker/24hr", Fault.rate_limited(retry_after=30))
        with pytest.raises(ExchangeUnavailable):
            await other.price("BTC/USDT")
        movable.advance(60)
        sent = len(fake.requests)
        restarted = build(fake, clock, db, movable)
        with pytest.raises(ExchangeUnavailable, match="trading resumes"):
            await restarted.price("BTC/USDT")
        assert len(fake.requests) == sent
        for exchange in (first, other, restarted):
            await exchange.close()
