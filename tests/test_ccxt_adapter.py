"""The ccxt adapter's refusals, modes and circuit breaker, through real ccxt against the fake.

Bad input must end in one clear message naming the exchange and the rule, with nothing sent
(`order_posts` stays 0) and no intent left `sending`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.engine.errors import UserError
from bot.engine.orders import OrderRequest, place_order
from bot.engine.setup import circuit_alert, open_engine
from bot.exchanges.base import (
    BelowMinimum,
    ExchangeUnavailable,
    InsufficientFunds,
    UnknownMarket,
)
from bot.exchanges.ccxt_exchange import CcxtExchange
from storage.db import Database
from storage.models import Order, OutboxAlert
from tests.conftest import Clock
from tests.exchange_harness import adapter, engine_with, running, settings_for, sqlite_database
from tests.fakes.exchange import FakeExchange, Fault


@pytest.fixture(params=["binance", "okx"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeExchange]:
    with running(request.param) as started:
        yield started


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = sqlite_database(tmp_path)
    yield database
    database.dispose()


def private_requests(fake: FakeExchange) -> list[str]:
    markers = ("/account", "/order", "/trade/", "/myTrades")
    return [r.endpoint for r in fake.requests if any(m in r.path for m in markers)]


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "amount", "error", "message"),
    [
        ("DOGE/EUR", "50", UnknownMarket, "has no market DOGE/EUR"),
        ("BTC/USDT", "0.5", BelowMinimum, "needs at least"),
        ("BTC/USDT", "5000", InsufficientFunds, "1000 USDT free"),
    ],
)
async def test_bad_orders_are_refused_before_sending(
    fake: FakeExchange,
    clock: Clock,
    symbol: str,
    amount: str,
    error: type[Exception],
    message: str,
) -> None:
    exchange = adapter(fake, clock)
    with pytest.raises(error) as refused:
        await exchange.buy_with_quote(symbol, Decimal(amount), "dcbbn1")
    await exchange.close()
    assert message in str(refused.value) and exchange.title in str(refused.value)
    assert fake.order_posts == 0


@pytest.mark.parametrize(
    ("exchange_id", "symbol", "amount", "message"),
    [
        ("okx", "BTC/USDT", "0.05", "in steps of 0.1 USDT; 0.05 comes to nothing"),
        ("binance", "PAXG/USDT", "4.99", "Binance needs at least 5 USDT per PAXG/USDT order"),
        ("okx", "XAUT/USDT", "2", "needs at least 0.001 XAUT"),
    ],
)
async def test_amounts_that_quantize_to_nothing_or_below_the_minimum(
    clock: Clock, exchange_id: str, symbol: str, amount: str, message: str
) -> None:
    with running(exchange_id) as fake:
        exchange = adapter(fake, clock)
        with pytest.raises(BelowMinimum, match=re.escape(message)):
            await exchange.buy_with_quote(symbol, Decimal(amount), "dcbbn2")
        await exchange.close()
        assert fake.order_posts == 0


@pytest.mark.parametrize(
    ("request_", "status", "message"),
    [
        (OrderRequest("buy_now", "a", "buy", quote_amount=Decimal("0.5")), "rejected", "at least"),
    ],
    ids=["below-minimum"],
)
async def test_a_refused_order_through_the_engine_leaves_no_open_intent(
    tmp_path: Path,
    db: Database,
    fake: FakeExchange,
    clock: Clock,
    request_: OrderRequest,
    status: str,
    message: str,
) -> None:
    exchange = adapter(fake, clock)
    engine = engine_with(tmp_path, db, fake, exchange, clock)
    outcome = await place_order(engine, request_)
    await exchange.close()
    assert outcome.status == status and message in (outcome.error or "")
    assert exchange.title in (outcome.error or "")
    with db.transaction() as session:
        assert [o.status for o in session.scalars(select(Order))] == [status]
    assert fake.order_posts == 0


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            OrderRequest("buy_now", "b", "buy", quote_amount=Decimal(5000)),
            "Only 1000 USDT is free to spend (1000 USDT on the exchange); you asked for 5000",
        ),
        (
            OrderRequest("sell_now", "c", "sell", base_amount=Decimal(1)),
            "Only 0 BTC is free to sell (0 BTC on the exchange); you asked for 1",
        ),
        (
            OrderRequest("buy_now", "d", "buy", quote_amount=Decimal(50), symbol="DOGE/EUR"),
            "{title} (live) has no market DOGE/EUR",
        ),
    ],
    ids=["insufficient-usdt", "insufficient-btc", "unknown-symbol"],
)
async def test_an_order_above_the_free_balance_is_refused_before_any_intent(
    tmp_path: Path,
    db: Database,
    fake: FakeExchange,
    clock: Clock,
    request_: OrderRequest,
    message: str,
) -> None:
    exchange = adapter(fake, clock)
    engine = engine_with(tmp_path, db, fake, exchange, clock)
    with pytest.raises(UserError) as refused:
        await place_order(engine, request_)
    await exchange.close()
    assert str(refused.value) == message.format(title=exchange.title)
    with db.transaction() as session:
        assert session.scalars(select(Order)).all() == []
    assert fake.order_posts == 0


@pytest.mark.parametrize("wrong", ["api_key", "secret", "passphrase"])
async def test_invalid_keys_are_a_clear_refusal_with_nothing_sent(
    fake: FakeExchange, clock: Clock, wrong: str
) -> None:
    from tests.exchange_harness import keys_of

    exchange = adapter(fake, clock, credentials=keys_of(fake, **{wrong: "not-the-right-one"}))
    if wrong == "passphrase" and fake.exchange_id == "binance":  # Binance keys have none:
        fill = await exchange.buy_with_quote("BTC/USDT", Decimal(20), "dcbbn3")  # it is unused
        await exchange.close()
        assert fill.client_order_id == "dcbbn3" and fake.order_posts == 1
        return
    with pytest.raises(ExchangeUnavailable, match="refused the API key") as refused:
        await exchange.buy_with_quote("BTC/USDT", Decimal(20), "dcbbn3")
    await exchange.close()
    assert f"dcabot keys add {fake.exchange_id}" in str(refused.value)
    assert "not-the-right-one" not in str(refused.value)
    assert fake.order_posts == 0


async def test_missing_keys_are_named_before_any_private_request(
    fake: FakeExchange, clock: Clock
) -> None:
    exchange = adapter(fake, clock, keyless=True, mode="testnet")
    assert (await exchange.price("BTC/USDT")).price > 0  # public data needs no keys
    with pytest.raises(ExchangeUnavailable, match=r"no API keys are stored.*`dcabot keys add"):
        await exchange.buy_with_quote("BTC/USDT", Decimal(20), "dcbbn4")
    with pytest.raises(ExchangeUnavailable, match="no API keys"):
        await exchange.balances()
    await exchange.close()
    assert private_requests(fake) == []


async def test_binance_revoked_key_after_a_success_is_not_taken_for_a_rate_limit(
    clock: Clock,
) -> None:
    with running("binance") as fake:
        exchange = adapter(fake, clock)
        await exchange.balances()
        exchange.client.apiKey = "revoked-meanwhile"  # the key is deleted on the exchange
        with pytest.raises(ExchangeUnavailable, match="refused the API key"):
            await exchange.balances()
        await exchange.close()
        assert len(fake.requests_to("/api/v3/account")) == 2  # not retried as a rate limit


@pytest.mark.parametrize(
    ("exchange_id", "fault", "error", "message"),
    [
        ("binance", Fault.reject(-1013), BelowMinimum, "Filter failure: NOTIONAL (code -1013)"),
        ("binance", Fault.reject(-2010), InsufficientFunds, "insufficient balance"),
        ("okx", Fault.reject(51008), InsufficientFunds, "code 51008"),
        ("okx", Fault.reject(51020), BelowMinimum, "code 51020"),
    ],
)
async def test_the_exchanges_own_refusals_keep_their_rule(
    clock: Clock, exchange_id: str, fault: Fault, error: type[Exception], message: str
) -> None:
    """The price moved between our check and the order: the exchange's rule is reported."""
    with running(exchange_id) as fake:
        exchange = adapter(fake, clock)
        fake.inject(fake.order_endpoint, fault)
        with pytest.raises(error, match=re.escape(message)) as refused:
            await exchange.buy_with_quote("BTC/USDT", Decimal(20), "dcbbn5")
        await exchange.close()
        assert exchange.title in str(refused.value)
        assert fake.order_posts == 1 and fake.orders == []


async def test_a_duplicate_client_id_answer_means_the_order_exists(
    fake: FakeExchange, clock: Clock
) -> None:
    exchange = adapter(fake, clock)
    first = await exchange.buy_with_quote("BTC/USDT", Decimal(20), "dcbbn6")
    again = await exchange.buy_with_quote("BTC/USDT", Decimal(20), "dcbbn6")
    await exchange.close()
    assert again == first
    assert fake.order_posts == 2 and len(fake.orders) == 1


# --- modes ---------------------------------------------------------------------------


async def test_testnet_is_ccxts_sandbox_pointed_at_the_base_url(
    fake: FakeExchange, clock: Clock
) -> None:
    exchange = adapter(fake, clock, mode="testnet")
    fill = await exchange.buy_with_quote("BTC/USDT", Decimal(20), "dcbbn7")
    assert (await exchange.price("BTC/USDT")).source == f"{exchange.title} testnet ticker"
    await exchange.close()
    assert fill.amount > 0 and repr(exchange) == f"<CcxtExchange {fake.exchange_id} testnet>"
    if fake.exchange_id == "okx":  # OKX's demo trading is a header on the same host
        assert fake.requests_to(fake.order_endpoint)[0].headers["x-simulated-trading"] == "1"


def test_paper_mode_never_imports_ccxt(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from tests.conftest import make_settings; "
        "from bot.engine.setup import open_engine; from pathlib import Path; "
        f"e = open_engine(make_settings(Path({str(tmp_path)!r}))); "
        "print('ccxt' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.stdout.strip() == "False"


# --- the circuit breaker ---------------------------------------------------------------


async def test_the_breaker_opens_after_n_failures_alerts_and_closes_after_a_probe(
    tmp_path: Path, db: Database, fake: FakeExchange, clock: Clock
) -> None:
    exchange = adapter(
        fake,
        clock,
        circuit_failures=3,
        circuit_cooldown=timedelta(minutes=5),
        on_circuit_change=circuit_alert(db, clock, "live"),
    )
    ticker = "/api/v3/ticker/24hr" if fake.exchange_id == "binance" else "/api/v5/market/ticker"
    await exchange.market_rules("BTC/USDT")
    fake.inject(ticker, Fault.server_error(503), times=None)
    with pytest.raises(ExchangeUnavailable, match="did not answer"):
        await exchange.price("BTC/USDT")  # 3 tries, 3 failures: open
    state = exchange.circuit_state()
    assert state.is_open and state.retry_at == clock() + timedelta(minutes=5)
    sent = len(fake.requests)
    with pytest.raises(ExchangeUnavailable, match="circuit breaker is open") as refused:
        await exchange.buy_with_quote("BTC/USDT", Decimal(20), "dcbbn8")
    assert "2026-11-21 09:35:00 UTC" in str(refused.value) and exchange.title in str(refused.value)
    assert len(fake.requests) == sent  # refused without a request

    fake.clear_faults()
    clock.advance(minutes=4)
    with pytest.raises(ExchangeUnavailable, match="circuit breaker is open"):
        await exchange.price("BTC/USDT")  # still cooling down
    clock.advance(minutes=1)
    assert (await exchange.price("BTC/USDT")).price > 0  # probe, then the ticker
    assert not exchange.circuit_state().is_open
    assert any("/time" in r.path for r in fake.requests[sent:])
    await exchange.close()
    with db.transaction() as session:
        rows = list(session.scalars(select(OutboxAlert).order_by(OutboxAlert.id)))
    assert [(r.kind, r.urgent) for r in rows] == [("circuit_open", True), ("circuit_closed", True)]
    assert '"mode": "live"' in rows[0].payload and fake.exchange_id in rows[0].payload


async def test_a_failed_probe_keeps_it_open_for_another_cool_down(
    fake: FakeExchange, clock: Clock
) -> None:
    changes: list[tuple[bool, str]] = []

    async def on_circuit_change(opened: bool, name: str, _reason: str) -> None:
        changes.append((opened, name))
    exchange = adapter(
        fake,
        clock,
        circuit_failures=1,
        circuit_cooldown=timedelta(seconds=60),
        on_circuit_change=on_circuit_change,
    )
    fake.inject("/api/v3/exchangeInfo", Fault.disconnect(), times=None)
    fake.inject("/api/v5/public/instruments", Fault.disconnect(), times=None)
    with pytest.raises(ExchangeUnavailable):
        await exchange.market_rules("BTC/USDT")
    fake.inject("/api/v3/time", Fault.server_error(502))
    fake.inject("/api/v5/public/time", Fault.server_error(502))
    clock.advance(seconds=61)
    with pytest.raises(ExchangeUnavailable, match="circuit breaker is open"):
        await exchange.market_rules("BTC/USDT")
    assert exchange.circuit_state().retry_at == clock() + timedelta(seconds=60)
    assert changes == [(True, fake.exchange_id)]  # one alert, not one per probe
    await exchange.close()


async def test_open_engine_wires_the_breaker_to_the_outbox(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    with running("binance") as fake:
        settings = settings_for(tmp_path, fake, mode="testnet", circuit_failures=2)
        engine = open_engine(settings, clock=clock, db=db)
        assert isinstance(engine.exchange, CcxtExchange)
        breaker = engine.exchange.breaker
        breaker.record_failure("timeout")
        breaker.record_failure("timeout")
        breaker.record_success()
        await breaker.tell()
    with db.transaction() as session:
        kinds = list(session.scalars(select(OutboxAlert.kind).order_by(OutboxAlert.id)))
    assert kinds == ["circuit_open", "circuit_closed"]
