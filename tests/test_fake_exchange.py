"""The real ccxt (async) against the fake Binance and OKX: markets, data, orders, and each fault
surfacing as the ccxt exception a caller would catch.

These tests pin down ccxt 4.5's behaviour that the exchange adapter relies on: which request
parameters carry the client order id, how an order is looked up by it, and which exception class
each failure raises (some are surprising, e.g. Binance's NOTIONAL rejection is a BadRequest).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import ccxt.async_support as ccxt_async
import pytest
from ccxt.base import errors

from bot.exchanges.endpoints import ccxt_options_for, point_at
from tests.fakes.exchange import DATA_DIR, EXCHANGE_INFO_FILES, FakeExchange, Fault
from tests.fakes.exchange_clients import FAST, TIMEOUT_MS, client, running

DAY_MS = 86_400_000
JAN_2025 = 1_735_689_600_000  # 2025-01-01T00:00:00Z


@pytest.fixture(params=["binance", "okx"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeExchange]:
    with running(request.param, balances={"USDT": "1000"}) as started:
        yield started


@pytest.fixture
async def exchange(fake: FakeExchange) -> AsyncIterator[Any]:
    async with client(fake) as connected:
        yield connected


def sent_params(fake: FakeExchange, endpoint: str) -> dict[str, Any]:
    """The parameters of the last request to `endpoint`, as the fake received them."""
    request = fake.requests_to(endpoint)[-1]
    if request.body.startswith(("{", "[")):
        body = json.loads(request.body)
        return dict(body[0] if isinstance(body, list) else body)
    form = {k: v[0] for k, v in parse_qs(request.body).items()}
    return {**request.query, **form}


# --- point_at and ccxt_options_for, without a server --------------------------------------


async def test_point_at_moves_every_api_url_and_keeps_its_path() -> None:
    binance = ccxt_async.binance(ccxt_options_for("binance"))
    okx = ccxt_async.okx(ccxt_options_for("okx"))
    try:
        original = dict(binance.urls["api"])
        point_at(binance, "https://mirror.example/binance/")
        point_at(okx, "http://127.0.0.1:8080")
        for name, url in original.items():
            path = url.split(".com", 1)[1]
            assert binance.urls["api"][name] == f"https://mirror.example/binance{path}"
        assert okx.urls["api"] == {"rest": "http://127.0.0.1:8080"}
        # Binance's spot error table is chosen by host; point_at keeps it in force
        assert binance.exceptions["exact"]["-2026"] is errors.InvalidOrder
        with pytest.raises(ValueError, match="absolute"):
            point_at(okx, "127.0.0.1:8080")
    finally:
        await binance.close()
        await okx.close()


def test_options_keep_ccxt_to_spot_and_leave_retries_to_the_adapter() -> None:
    binance, okx = ccxt_options_for("binance"), ccxt_options_for("okx")
    assert binance["options"]["fetchMarkets"] == {"types": ["spot"]}
    assert okx["options"]["fetchMarkets"] == {"types": ["spot"]}
    assert okx["has"] == {"fetchCurrencies": False}
    assert ccxt_options_for("kraken")["options"]["maxRetriesOnFailure"] == 0
    binance["options"]["defaultType"] = "swap"  # callers get their own copy
    assert ccxt_options_for("binance")["options"]["defaultType"] == "spot"


# --- markets ------------------------------------------------------------------------------


@pytest.mark.parametrize("markets", ["subset", "full"])
async def test_binance_markets_come_from_the_shared_exchange_info(markets: str) -> None:
    with running("binance", markets=markets) as fake:
        async with client(fake) as binance:
            loaded = await binance.load_markets()
        assert [r.endpoint for r in fake.requests] == ["GET /api/v3/exchangeInfo"]
    btc, paxg = loaded["BTC/USDT"], loaded["PAXG/USDT"]
    assert btc["precision"]["amount"] == 0.00001
    assert btc["precision"]["price"] == 0.01
    assert btc["limits"]["cost"]["min"] == 5
    assert btc["limits"]["amount"]["min"] == 0.00001
    assert paxg["precision"]["price"] == 1
    assert paxg["limits"]["cost"]["min"] == 5
    # every symbol of the file served, and only those (the "full" file in tests/data is Binance's
    # 1,248-symbol listing cut to six; see tests/data/SOURCES.md)
    listed = json.loads((DATA_DIR / EXCHANGE_INFO_FILES[markets]).read_text())["symbols"]
    assert len(listed) == (3 if markets == "subset" else 6)
    assert sorted(loaded) == sorted(f"{s['baseAsset']}/{s['quoteAsset']}" for s in listed)


async def test_binance_legacy_filters_give_min_notional_10() -> None:
    with running("binance", markets="legacy") as fake:
        async with client(fake) as binance:
            loaded = await binance.load_markets()
            assert loaded["BTC/USDT"]["limits"]["cost"]["min"] == 10
            with pytest.raises(errors.BadRequest, match="MIN_NOTIONAL"):
                await binance.create_market_buy_order_with_cost("BTC/USDT", 7)


@pytest.mark.parametrize(
    ("exchange_id", "private_call"),
    [("binance", "/sapi/v1/capital/config/getall"), ("okx", "/api/v5/asset/currencies")],
)
async def test_ccxt_defaults_call_endpoints_a_spot_bot_does_not_need(
    exchange_id: str, private_call: str
) -> None:
    """Without `ccxt_options_for`, load_markets() first asks for a private currency list."""
    with running(exchange_id) as fake:
        config = {"apiKey": fake.api_key, "secret": fake.secret, "password": fake.passphrase}
        exchange = getattr(ccxt_async, exchange_id)({**config, "timeout": TIMEOUT_MS, **FAST})
        point_at(exchange, fake.url)
        try:
            with pytest.raises(errors.ExchangeNotAvailable):  # the fake answers 404 there
                await exchange.load_markets()
        finally:
            await exchange.close()
        assert private_call in [r.path for r in fake.requests]
        assert "GET /api/v3/exchangeInfo" not in [r.endpoint for r in fake.requests]


async def test_okx_markets_are_spot_only_and_include_the_hand_made_xaut() -> None:
    with running("okx") as fake:
        async with client(fake) as okx:
            markets = await okx.load_markets()
        assert [(r.endpoint, r.query) for r in fake.requests] == [
            ("GET /api/v5/public/instruments", {"instType": "SPOT"})
        ]
    assert markets["BTC/USDT"]["precision"] == {"amount": 1e-08, "price": 0.1}
    assert markets["BTC/USDT"]["limits"]["amount"]["min"] == 0.00001
    assert markets["XAUT/USDT"]["precision"] == {"amount": 0.0001, "price": 0.1}
    assert markets["XAUT/USDT"]["limits"]["amount"]["min"] == 0.001


# --- market data and balances -------------------------------------------------------------


async def test_ticker_follows_the_settable_price(fake: FakeExchange, exchange: Any) -> None:
    assert (await exchange.fetch_ticker("BTC/USDT"))["last"] == float(fake.price("BTC/USDT"))
    fake.set_price("BTC/USDT", "61234.5")
    assert (await exchange.fetch_ticker("BTC/USDT"))["last"] == 61234.5


async def test_candles_page_forward_without_gaps_or_repeats(
    fake: FakeExchange, exchange: Any
) -> None:
    since, candles = JAN_2025, []
    while len(candles) < 250:
        page = await exchange.fetch_ohlcv("BTC/USDT", "1d", since=since, limit=100)
        assert page
        candles += page
        since = page[-1][0] + DAY_MS
    times = [c[0] for c in candles]
    assert times == list(range(JAN_2025, JAN_2025 + len(times) * DAY_MS, DAY_MS))
    assert candles[0][1:5] == [93576.0, 95151.15, 92888.0, 94591.79]  # 2025-01-01 in the CSV
    candle_path = {"binance": "/api/v3/klines", "okx": "/api/v5/market/candles"}[fake.exchange_id]
    assert len(fake.requests_to(candle_path)) == 3


async def test_binance_ccxt_pagination_retries_a_failed_page_on_its_own() -> None:
    with running("binance") as fake:
        fake.inject("/api/v3/klines", Fault.server_error(503))
        async with client(fake) as binance:
            candles = await binance.fetch_ohlcv(
                "BTC/USDT",
                "1d",
                since=JAN_2025,
                params={
                    "paginate": True,
                    "until": JAN_2025 + 60 * DAY_MS,
                    "maxEntriesPerRequest": 20,
                },
            )
        assert [c[0] for c in candles] == [JAN_2025 + i * DAY_MS for i in range(len(candles))]
        assert len(candles) >= 60
        pages = [(r.query["startTime"], r.status) for r in fake.requests_to("/api/v3/klines")]
        [failed] = [start for start, status in pages if status == 503]
        assert (failed, 200) in pages  # ccxt asked for that page again


async def test_balance_is_the_fakes_account(fake: FakeExchange, exchange: Any) -> None:
    balance = await exchange.fetch_balance()
    assert balance["USDT"]["free"] == 1000
    assert balance["total"]["USDT"] == 1000


# --- orders -----------------------------------------------------------------------------


async def test_buy_with_cost_sends_the_quote_amount_and_our_client_id(
    fake: FakeExchange, exchange: Any
) -> None:
    order = await exchange.create_market_buy_order_with_cost(
        "BTC/USDT", 50, {"clientOrderId": "dca1"}
    )
    sent = sent_params(fake, fake.order_endpoint)
    if fake.exchange_id == "binance":
        assert (sent["quoteOrderQty"], sent["newClientOrderId"], sent["type"]) == (
            "50",
            "dca1",
            "MARKET",
        )
        step = Decimal("0.00001")
    else:
        assert (sent["sz"], sent["tgtCcy"], sent["clOrdId"]) == ("50", "quote_ccy", "dca1")
        step = Decimal("0.00000001")
    assert order["clientOrderId"] == "dca1"
    [filled] = fake.orders
    assert filled.client_order_id == "dca1" and filled.side == "buy"
    assert filled.amount % step == 0 and 0 < filled.cost <= 50
    assert filled.fee == filled.amount * Decimal("0.001")
    assert fake.balances["BTC"] == filled.amount - filled.fee  # the fee is paid in BTC
    assert fake.balances["USDT"] == 1000 - filled.cost


async def test_order_is_found_by_client_id(fake: FakeExchange, exchange: Any) -> None:
    await exchange.create_market_buy_order_with_cost("BTC/USDT", 20, {"clientOrderId": "dca2"})
    found = await exchange.fetch_order(None, "BTC/USDT", {"clientOrderId": "dca2"})
    query = fake.requests_to(fake.order_query_endpoint)[-1].query
    key = "origClientOrderId" if fake.exchange_id == "binance" else "clOrdId"
    assert query[key] == "dca2"
    assert found["clientOrderId"] == "dca2"
    assert found["status"] == "closed"
    assert Decimal(str(found["filled"])) == fake.orders[0].amount
    unified = await exchange.fetch_order_with_client_order_id("dca2", "BTC/USDT")
    assert unified["id"] == found["id"]
    with pytest.raises(errors.OrderNotFound):
        await exchange.fetch_order(None, "BTC/USDT", {"clientOrderId": "neverSent"})


async def test_sell_by_amount_pays_the_fee_in_quote(fake: FakeExchange, exchange: Any) -> None:
    fake.set_balance("BTC", "0.01")
    fake.set_price("BTC/USDT", "60000")
    order = await exchange.create_market_sell_order("BTC/USDT", 0.002, {"clientOrderId": "sell1"})
    assert order["clientOrderId"] == "sell1"
    [sold] = fake.orders
    assert (sold.amount, sold.cost, sold.fee, sold.fee_asset) == (
        Decimal("0.002"),
        Decimal("120"),
        Decimal("0.12"),
        "USDT",
    )
    assert fake.balances["BTC"] == Decimal("0.008")
    assert fake.balances["USDT"] == Decimal("1119.88")


async def test_binance_truncates_the_quote_amount_to_the_price_tick() -> None:
    """ccxt sends quoteOrderQty at the market's price precision: PAXG's tick is 1 USDT."""
    async with FakeExchange("binance") as fake:
        async with client(fake) as binance:
            await binance.create_market_buy_order_with_cost("PAXG/USDT", 10.75)
        assert sent_params(fake, fake.order_endpoint)["quoteOrderQty"] == "10"


@pytest.mark.parametrize(
    ("exchange_id", "client_id"), [("binance", "dca.1"), ("okx", "dca-1"), ("okx", "x" * 33)]
)
async def test_client_ids_outside_the_venues_alphabet_are_refused(
    exchange_id: str, client_id: str
) -> None:
    with running(exchange_id) as fake:
        async with client(fake) as exchange:
            with pytest.raises(errors.BadRequest):
                await exchange.create_market_buy_order_with_cost(
                    "BTC/USDT", 20, {"clientOrderId": client_id}
                )
        assert fake.orders == []


async def test_a_reused_client_id_is_refused(fake: FakeExchange, exchange: Any) -> None:
    await exchange.create_market_buy_order_with_cost("BTC/USDT", 20, {"clientOrderId": "dca3"})
    with pytest.raises(errors.InvalidOrder):
        await exchange.create_market_buy_order_with_cost("BTC/USDT", 20, {"clientOrderId": "dca3"})
    assert len(fake.orders) == 1 and fake.order_posts == 2


# --- the exchange's own refusals ---------------------------------------------------------------


async def test_below_the_minimum_is_refused(fake: FakeExchange, exchange: Any) -> None:
    if fake.exchange_id == "binance":  # -1013 Filter failure: NOTIONAL is a BadRequest in ccxt
        with pytest.raises(errors.BadRequest, match="NOTIONAL"):
            await exchange.create_market_buy_order_with_cost("BTC/USDT", 3)
    else:  # 51020; XAUT's minSz 0.001 is worth about 4.4 USDT
        with pytest.raises(errors.InvalidOrder, match="51020"):
            await exchange.create_market_buy_order_with_cost("XAUT/USDT", 2)
    assert fake.orders == []


async def test_more_than_the_balance_is_refused(fake: FakeExchange, exchange: Any) -> None:
    with pytest.raises(errors.InsufficientFunds):
        await exchange.create_market_buy_order_with_cost("BTC/USDT", 1500)
    assert fake.orders == [] and fake.balances["USDT"] == 1000


@pytest.mark.parametrize(
    ("exchange_id", "wrong"),
    [
        ("binance", "secret"),
        ("binance", "apiKey"),
        ("okx", "secret"),
        ("okx", "apiKey"),
        ("okx", "password"),
    ],
)
async def test_wrong_credentials_are_refused(exchange_id: str, wrong: str) -> None:
    with running(exchange_id) as fake:
        async with client(fake, **{wrong: "not-the-right-one"}) as exchange:
            with pytest.raises(errors.AuthenticationError):
                await exchange.create_market_buy_order_with_cost("BTC/USDT", 20)
        assert fake.orders == []
        # Binance answers a bad signature with 400 (-1022), an unknown key with 401 (-2015)
        assert fake.requests[-1].status == (
            400 if (exchange_id, wrong) == ("binance", "secret") else 401
        )


async def test_binance_key_refusal_after_a_success_reads_as_a_rate_limit() -> None:
    """ccxt treats -2015 as a temporary ban once the same instance has authenticated."""
    with running("binance") as fake:
        async with client(fake) as binance:
            await binance.fetch_balance()
            binance.apiKey = "revoked"
            with pytest.raises(errors.DDoSProtection):
                await binance.fetch_balance()


# --- faults -------------------------------------------------------------------------------

FAULTS: dict[str, list[tuple[Fault, type[Exception]]]] = {
    "binance": [
        (Fault.reject(-1013), errors.BadRequest),
        (Fault.reject(-2010), errors.InsufficientFunds),
        (Fault.rate_limited(retry_after=2), errors.DDoSProtection),
        (Fault.ip_banned(retry_after=60, window=False), errors.DDoSProtection),
    ],
    "okx": [
        (Fault.reject(51008), errors.InsufficientFunds),
        (Fault.reject(51020), errors.InvalidOrder),
        (Fault.rate_limited(retry_after=2), errors.RateLimitExceeded),
    ],
}
COMMON_FAULTS = [
    (Fault.server_error(500), errors.ExchangeNotAvailable),
    (Fault.server_error(503), errors.ExchangeNotAvailable),
    (Fault.server_error(504), errors.RequestTimeout),
    (Fault.slow(2 * TIMEOUT_MS / 1000), errors.RequestTimeout),
    (Fault.disconnect(), errors.ExchangeNotAvailable),
]


FAULT_CASES = [
    pytest.param(
        venue, fault, expected, id=f"{venue}-{fault.kind}-{fault.status or fault.code or ''}"
    )
    for venue, cases in FAULTS.items()
    for fault, expected in cases + COMMON_FAULTS
]


@pytest.mark.parametrize(("exchange_id", "fault", "expected"), FAULT_CASES)
async def test_each_fault_raises_the_class_a_caller_catches(
    exchange_id: str, fault: Fault, expected: type[Exception]
) -> None:
    with running(exchange_id, balances={"USDT": "1000"}) as fake:
        async with client(fake) as exchange:
            await exchange.load_markets()
            fake.inject(fake.order_endpoint, fault)
            with pytest.raises(expected) as raised:
                await exchange.create_market_buy_order_with_cost(
                    "BTC/USDT", 20, {"clientOrderId": "f1"}
                )
            assert type(raised.value) is expected
            assert fake.order_posts == 1
            if fault.kind != "slow":  # a slow order still lands, later
                assert fake.orders == []
            # one-shot: the next order goes through
            await exchange.create_market_buy_order_with_cost(
                "BTC/USDT", 20, {"clientOrderId": "f2"}
            )
            assert fake.order("f2") is not None


async def test_a_fault_can_repeat(fake: FakeExchange, exchange: Any) -> None:
    endpoint = "/api/v3/ticker/24hr" if fake.exchange_id == "binance" else "/api/v5/market/ticker"
    fake.inject(endpoint, Fault.server_error(502), times=2)
    for _ in range(2):
        with pytest.raises(errors.ExchangeNotAvailable):
            await exchange.fetch_ticker("BTC/USDT")
    assert (await exchange.fetch_ticker("BTC/USDT"))["last"] > 0


def test_rate_limit_answers_carry_retry_after() -> None:
    with running("binance") as fake:
        fake.inject("/api/v3/ping", Fault.rate_limited(retry_after=7))
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(f"{fake.url}/api/v3/ping", timeout=5)
        assert raised.value.code == 429
        assert raised.value.headers["Retry-After"] == "7"
        assert json.loads(raised.value.read())["code"] == -1003


async def test_an_accepted_order_whose_answer_times_out_exists_on_the_exchange(
    fake: FakeExchange, exchange: Any
) -> None:
    """The adapter's case: ccxt raises RequestTimeout, yet the order was placed and filled."""
    fake.inject(fake.order_endpoint, Fault.accept_then_timeout(hold=10))
    started = time.monotonic()
    with pytest.raises(errors.RequestTimeout):
        await exchange.create_market_buy_order_with_cost("BTC/USDT", 50, {"clientOrderId": "dca9"})
    assert time.monotonic() - started < 5
    found = await exchange.fetch_order(None, "BTC/USDT", {"clientOrderId": "dca9"})
    assert found["status"] == "closed" and found["clientOrderId"] == "dca9"
    assert [o.client_order_id for o in fake.orders] == ["dca9"]
    assert fake.order_posts == 1
    # the fee of the recovered order: Binance's order query has none, its trades have it
    if fake.exchange_id == "binance":
        assert found["fee"] is None
        [trade] = await exchange.fetch_order_trades(found["id"], "BTC/USDT")
        fee = trade["fee"]
    else:
        fee = found["fee"]
    assert fee["currency"] == "BTC"
    assert Decimal(str(fee["cost"])) == fake.orders[0].fee


async def test_an_accepted_order_whose_connection_drops_exists_on_the_exchange(
    fake: FakeExchange, exchange: Any
) -> None:
    fake.inject(fake.order_endpoint, Fault.accept_then_drop())
    with pytest.raises(errors.ExchangeNotAvailable):  # a dropped connection is not a timeout
        await exchange.create_market_buy_order_with_cost("BTC/USDT", 50, {"clientOrderId": "dca8"})
    found = await exchange.fetch_order(None, "BTC/USDT", {"clientOrderId": "dca8"})
    assert found["status"] == "closed"
    assert fake.order_posts == 1


async def test_a_slow_order_lands_after_the_client_gave_up(
    fake: FakeExchange, exchange: Any
) -> None:
    """Why a look-up that finds nothing right after a timeout does not prove nothing was placed."""
    fake.inject(fake.order_endpoint, Fault.slow(2.0))
    with pytest.raises(errors.RequestTimeout):
        await exchange.create_market_buy_order_with_cost("BTC/USDT", 50, {"clientOrderId": "late1"})
    with pytest.raises(errors.OrderNotFound):
        await exchange.fetch_order(None, "BTC/USDT", {"clientOrderId": "late1"})
    deadline = time.monotonic() + 3
    while fake.order("late1") is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    late = await exchange.fetch_order(None, "BTC/USDT", {"clientOrderId": "late1"})
    assert late["status"] == "closed"
