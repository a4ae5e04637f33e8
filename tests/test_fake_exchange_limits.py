"""Binance's request weight, 429s and IP bans, and outages of either venue, through the real ccxt.

Facts pinned down for the adapter: every Binance answer carries X-MBX-USED-WEIGHT-1M (ccxt keeps it
in `last_response_headers`); past the weight limit ccxt raises DDoSProtection for the 429 and again
for the 418 of a ban, and the body of the 418 says until when; a ban refuses every request, and
each one is counted. OKX's rate limit is 50011 (RateLimitExceeded) and it has no IP ban.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from ccxt.base import errors

from tests.fakes.exchange import Fault
from tests.fakes.exchange_clients import MovableClock, client, eventually, header, running
from tests.fakes.exchange_limits import BAN_STEPS_S, MINUTE_MS


def used(exchange: Any) -> int:
    value = header(exchange.last_response_headers, "X-MBX-USED-WEIGHT-1M")
    assert value is not None, exchange.last_response_headers
    return int(value)


async def test_every_binance_answer_carries_the_weight_used_this_minute() -> None:
    clock = MovableClock()
    clock.to_next_minute()  # the whole test inside one minute of the venue's clock
    with running("binance", balances={"USDT": "1000"}, clock=clock) as fake:
        async with client(fake) as binance:
            await binance.load_time_difference()
            weights: list[tuple[str, int]] = []

            async def charged(name: str, call: Any) -> Any:
                before = fake.used_weight
                try:
                    return await call
                finally:
                    weights.append((name, used(binance) - before))

            await charged("time", binance.fetch_time())
            await charged("exchangeInfo", binance.load_markets())
            await charged("ticker/24hr", binance.fetch_ticker("BTC/USDT"))
            await charged("klines", binance.fetch_ohlcv("BTC/USDT", "1d", limit=5))
            await charged("account", binance.fetch_balance())
            order = await charged(
                "order",
                binance.create_market_buy_order_with_cost("BTC/USDT", 20, {"clientOrderId": "w1"}),
            )
            await charged("order query", binance.fetch_order(order["id"], "BTC/USDT"))
            await charged("myTrades", binance.fetch_my_trades("BTC/USDT"))
            await charged("myTrades by order", binance.fetch_order_trades(order["id"], "BTC/USDT"))
            with pytest.raises(errors.InsufficientFunds):
                await charged(
                    "refused order", binance.create_market_buy_order_with_cost("BTC/USDT", 5000)
                )
            assert used(binance) == fake.used_weight == 1 + 1 + 20 + 2 + 2 + 20 + 4 + 20 + 5 + 1
    assert weights == [
        ("time", 1),
        ("exchangeInfo", 20),
        ("ticker/24hr", 2),
        ("klines", 2),
        ("account", 20),
        ("order", 0),  # a successful order costs nothing since 2026-04-02 (CHANGELOG)
        ("order query", 4),
        ("myTrades", 20),
        ("myTrades by order", 5),
        ("refused order", 1),  # failed requests are charged
    ]


async def test_past_the_weight_limit_429_then_an_escalating_ban_for_ignoring_it() -> None:
    clock = MovableClock()
    with running("binance", weight_limit=5, clock=clock) as fake:
        async with client(fake) as binance:
            for _ in range(5):
                await binance.fetch_time()  # weight 1 each
            with pytest.raises(errors.DDoSProtection, match="429"):
                await binance.fetch_time()
            limited = fake.requests[-1]
            retry = header(binance.last_response_headers, "Retry-After")
            end_of_minute = (limited.arrived_ms // MINUTE_MS + 1) * MINUTE_MS
            assert retry == str(math.ceil((end_of_minute - limited.arrived_ms) / 1000))
            assert limited.answer["code"] == -1003 and "current limit is 5" in limited.answer["msg"]
            assert fake.bans == []

            with pytest.raises(errors.DDoSProtection, match="418"):  # ignoring the Retry-After
                await binance.fetch_time()
            [ban] = fake.bans
            assert (ban.reason, ban.end_ms - ban.start_ms) == ("ignored 429", BAN_STEPS_S[0] * 1000)
            assert (
                fake.requests[-1]
                .answer["msg"]
                .startswith(f"Way too much request weight used; IP banned until {ban.end_ms}.")
            )
            assert int(header(binance.last_response_headers, "Retry-After") or 0) == 120

            for call in (binance.fetch_time(), binance.load_markets(), binance.fetch_balance()):
                with pytest.raises(errors.DDoSProtection, match="418"):
                    await call
            assert fake.ban_violations == 3
            inside = fake.requests_between(ban.start_ms, ban.end_ms)
            assert [r.status for r in inside] == [418] * 4
            assert all(r.processed_ms is None for r in inside)  # nothing done while banned

            clock.advance(121)  # the ban is over, and so is its minute
            assert await binance.fetch_time() > 0
            for _ in range(4):
                await binance.fetch_time()
            with pytest.raises(errors.DDoSProtection, match="429"):
                await binance.fetch_time()
            with pytest.raises(errors.DDoSProtection, match="418"):
                await binance.fetch_time()
            second = fake.bans[-1]
            assert second.end_ms - second.start_ms == BAN_STEPS_S[1] * 1000  # repeat offender
    assert fake.ban_violations == 3


async def test_an_injected_ip_ban_is_a_window_every_request_is_refused_in() -> None:
    clock = MovableClock()
    with running("binance", balances={"USDT": "1000"}, clock=clock) as fake:
        async with client(fake) as binance:
            await binance.load_markets()
            fake.inject(fake.order_endpoint, Fault.ip_banned(retry_after=60))
            with pytest.raises(errors.DDoSProtection):
                await binance.create_market_buy_order_with_cost("BTC/USDT", 20)
            [ban] = fake.bans
            assert (ban.end_ms - ban.start_ms, ban.reason) == (60_000, "fault")
            for _ in range(3):
                with pytest.raises(errors.DDoSProtection):
                    await binance.create_market_buy_order_with_cost("BTC/USDT", 20)
            with pytest.raises(errors.DDoSProtection):
                await binance.fetch_ticker("BTC/USDT")
            assert fake.ban_violations == 4 and fake.orders == []
            clock.advance(61)
            await binance.load_time_difference()  # the venue's clock jumped a minute
            await binance.create_market_buy_order_with_cost("BTC/USDT", 20)
        assert len(fake.orders) == 1
        assert fake.requests_between(ban.start_ms, ban.end_ms)[1:] == [
            r for r in fake.requests if r.fault == "banned"
        ]


async def test_an_injected_single_418_bans_nothing_else() -> None:
    with running("binance", balances={"USDT": "1000"}) as fake:
        async with client(fake) as binance:
            await binance.load_markets()
            fake.inject(fake.order_endpoint, Fault.ip_banned(retry_after=60, window=False))
            with pytest.raises(errors.DDoSProtection, match="418"):
                await binance.create_market_buy_order_with_cost("BTC/USDT", 20)
            await binance.create_market_buy_order_with_cost("BTC/USDT", 20)
        assert fake.bans == [] and len(fake.orders) == 1


async def test_okx_has_no_weight_header_and_no_ip_ban() -> None:
    with running("okx") as fake:
        async with client(fake) as okx:
            fake.inject("/api/v5/public/time", Fault.rate_limited(retry_after=2))
            with pytest.raises(errors.RateLimitExceeded, match="50011"):
                await okx.fetch_time()
            assert await okx.fetch_time() > 0
            assert header(okx.last_response_headers, "X-MBX-USED-WEIGHT-1M") is None
        with pytest.raises(ValueError, match="50011"):
            fake.ban(60)
        assert fake.bans == [] and fake.ban_violations == 0


# --- outages ------------------------------------------------------------------------------

OUTAGES = [
    ("binance", "refuse", errors.ExchangeNotAvailable),
    ("binance", "503", errors.ExchangeNotAvailable),
    ("binance", "timeout", errors.RequestTimeout),
    ("okx", "refuse", errors.ExchangeNotAvailable),
    ("okx", "503", errors.OnMaintenance),  # OKX's 50001 "Service temporarily unavailable"
    ("okx", "timeout", errors.RequestTimeout),
]


@pytest.mark.parametrize(("exchange_id", "mode", "expected"), OUTAGES)
async def test_an_outage_answers_nothing_useful_and_places_nothing(
    exchange_id: str, mode: str, expected: type[Exception]
) -> None:
    clock = MovableClock()
    with running(exchange_id, balances={"USDT": "1000"}, clock=clock) as fake:
        async with client(fake) as exchange:
            await exchange.load_markets()
            outage = fake.down(seconds=30, mode=mode)
            with pytest.raises(expected) as raised:
                await exchange.create_market_buy_order_with_cost("BTC/USDT", 20)
            assert type(raised.value) is expected
            with pytest.raises(expected):
                await exchange.fetch_ticker("BTC/USDT")
            clock.advance(31)
            await exchange.load_time_difference()
            assert (await exchange.fetch_ticker("BTC/USDT"))["last"] > 0
            # a held request is recorded when the outage releases it
            await eventually(lambda: len([r for r in fake.requests if r.fault]) >= 2)
        assert fake.orders == [] and fake.outages == [outage]
        down = [r for r in fake.requests if r.fault == f"down:{mode}"]
        # aiohttp sends a GET again once when the connection drops: 2 or 3 requests
        assert len(down) >= 2 and all(r.processed_ms is None for r in down)
        assert fake.order_posts == 1


async def test_an_outage_until_up() -> None:
    with running("binance") as fake:
        async with client(fake) as binance:
            fake.down(mode="503")
            with pytest.raises(errors.ExchangeNotAvailable):
                await binance.fetch_time()
            fake.up()
            assert await binance.fetch_time() > 0
        [outage] = fake.outages
        assert outage.end_ms is not None and outage.end_ms >= outage.start_ms
