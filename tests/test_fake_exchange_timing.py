"""The fake venues' clocks through the real ccxt: server time and skew, Binance's timing security
(-1021 at arrival and again just before matching), requests that land late, backend timeouts
(-1007 / 50004) and OKX's expTime.

Facts pinned down for the adapter: -1021 is an InvalidNonce whichever check refused it, and so is
OKX's 50102; ccxt's load_time_difference() absorbs a skew; an order that lands after recvWindow
is never placed while one inside it is, whether or not the client waited for the answer; -1007
and 50004 are RequestTimeout (the order may exist), but OKX's 51149 and its expTime refusals
(50036, 50037) reach the caller as a plain ExchangeError.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from ccxt.base import errors

from tests.fakes.exchange import FakeExchange, Fault
from tests.fakes.exchange_clients import MovableClock, client, eventually, running, settled


async def buy(exchange: Any, client_id: str, cost: float = 50) -> Any:
    return await exchange.create_market_buy_order_with_cost(
        "BTC/USDT", cost, {"clientOrderId": client_id}
    )


# --- server time and skew -------------------------------------------------------------------


@pytest.mark.parametrize("exchange_id", ["binance", "okx"])
@pytest.mark.parametrize("skew_ms", [0, 45_000, -90_000])
async def test_server_time_is_the_clock_plus_the_skew(exchange_id: str, skew_ms: int) -> None:
    clock = MovableClock()
    clock.advance(3600)  # the venue's clock is an hour ahead of the host's ...
    with running(exchange_id, clock=clock) as fake:
        fake.set_skew(skew_ms)  # ... and skewed further
        async with client(fake) as exchange:
            before = time.time() * 1000
            served = await exchange.fetch_time()
            after = time.time() * 1000
            assert before + 3_600_000 + skew_ms <= served <= after + 3_600_000 + skew_ms
            assert abs(fake.now_ms() - served) < 1000
            difference = await exchange.load_time_difference()
        assert abs(difference + 3_600_000 + skew_ms) < 500  # ccxt: local minus server
        path = "/api/v3/time" if exchange_id == "binance" else "/api/v5/public/time"
        [asked] = fake.requests_to(path)[-1:]
        assert asked.processed_ms is not None and asked.arrived_ms <= asked.processed_ms


@pytest.mark.parametrize(
    ("skew_ms", "message"),
    [
        (-1500, "was 1000ms ahead of the server's time."),  # the host runs ahead
        (12_000, "is outside of the recvWindow."),  # the host runs behind, past ccxt's 10 s
    ],
)
async def test_binance_refuses_a_skewed_timestamp_at_arrival_until_ccxt_adjusts(
    skew_ms: int, message: str
) -> None:
    with running("binance", balances={"USDT": "1000"}) as fake:
        fake.set_skew(skew_ms)
        async with client(fake) as binance:
            await binance.load_markets()
            with pytest.raises(errors.InvalidNonce, match=message):
                await binance.fetch_balance()
            with pytest.raises(errors.InvalidNonce):
                await buy(binance, "skew1")
            refused = fake.requests_to(fake.order_endpoint)[-1]
            assert refused.processed_ms is None  # refused at the door
            assert refused.answer == {"code": -1021, "msg": f"Timestamp for this request {message}"}
            await binance.load_time_difference()
            assert (await binance.fetch_balance())["USDT"]["free"] == 1000
            await buy(binance, "skew2")
        assert [o.client_order_id for o in fake.orders] == ["skew2"]


async def test_binance_recv_window_is_at_most_60000() -> None:
    with running("binance") as fake:
        async with client(fake, options={"recvWindow": 60_001}) as binance:
            with pytest.raises(errors.BadRequest, match="-1131"):
                await binance.fetch_balance()
        async with client(fake, options={"recvWindow": 60_000}) as binance:
            await binance.fetch_balance()


async def test_okx_refuses_a_timestamp_30_s_off_until_ccxt_adjusts() -> None:
    with running("okx", balances={"USDT": "1000"}) as fake:
        fake.set_skew(-31_000)
        async with client(fake) as okx:
            with pytest.raises(errors.InvalidNonce, match="50102"):
                await okx.fetch_balance()
            assert fake.requests[-1].status == 401
            await okx.load_time_difference()
            assert (await okx.fetch_balance())["USDT"]["free"] == 1000


# --- Binance: checked again just before the matching engine -------------------------------


async def test_binance_order_landing_after_recv_window_is_never_placed() -> None:
    """recvWindow 1 s, the order reaches the engine 1.5 s after arriving: refused then, so the
    client's timeout hides an order that does not exist."""
    with running("binance", balances={"USDT": "1000"}) as fake:
        async with client(fake, options={"recvWindow": 1000}) as binance:
            await binance.load_markets()
            fake.inject(fake.order_endpoint, Fault.lands_late(1.5))
            with pytest.raises(errors.RequestTimeout):
                await buy(binance, "late1")
            await eventually(lambda: fake.requests_to(fake.order_endpoint)[-1:] != [])
            landed = await settled(fake, fake.order_endpoint)
            assert landed.late_ms is not None and landed.late_ms >= 1500
            assert landed.answer == {
                "code": -1021,
                "msg": "Timestamp for this request is outside of the recvWindow.",
            }
            with pytest.raises(errors.OrderNotFound):
                await binance.fetch_order(None, "BTC/USDT", {"clientOrderId": "late1"})
        assert fake.orders == [] and fake.balances == {"USDT": Decimal(1000)}


async def test_binance_order_landing_late_inside_recv_window_is_placed() -> None:
    """The client gave up after 1 s; the order still reached the engine 1.5 s after arriving,
    inside recvWindow (5 s), and was placed."""
    with running("binance", balances={"USDT": "1000"}) as fake:
        async with client(fake, options={"recvWindow": 5000}) as binance:
            await binance.load_markets()
            fake.inject(fake.order_endpoint, Fault.lands_late(1.5))
            with pytest.raises(errors.RequestTimeout):
                await buy(binance, "late2")
            with pytest.raises(errors.OrderNotFound):  # not yet
                await binance.fetch_order(None, "BTC/USDT", {"clientOrderId": "late2"})
            await eventually(lambda: fake.order("late2") is not None)
            found = await binance.fetch_order(None, "BTC/USDT", {"clientOrderId": "late2"})
        assert found["status"] == "closed"
        landed = fake.requests_to(fake.order_endpoint)[-1]
        assert landed.status == 200 and landed.late_ms is not None and landed.late_ms >= 1500
        [order] = fake.orders
        assert order.created_ms == landed.processed_ms  # the order's time is when it landed


async def test_a_late_landing_under_a_simulated_clock_takes_the_declared_time() -> None:
    """Held only 0.2 s of real time, the request counts as 6 s late on the venue's clock."""
    clock = MovableClock()
    with running("binance", balances={"USDT": "1000"}, clock=clock) as fake:
        async with client(fake, options={"recvWindow": 5000}) as binance:
            await binance.load_markets()
            fake.inject(fake.order_endpoint, Fault.lands_late(6, hold=0.2))
            with pytest.raises(errors.InvalidNonce, match="outside of the recvWindow"):
                await buy(binance, "sim1")
            fake.inject(fake.order_endpoint, Fault.lands_late(4, hold=0.2))
            await buy(binance, "sim2")
        first, second = fake.requests_to(fake.order_endpoint)
        assert first.late_ms is not None and first.late_ms >= 6000 and first.status == 400
        assert second.late_ms is not None and 4000 <= second.late_ms < 5000
        assert [o.client_order_id for o in fake.orders] == ["sim2"]


# --- backend timeouts -------------------------------------------------------------------------


@pytest.mark.parametrize("exchange_id", ["binance", "okx"])
async def test_backend_timeout_places_the_order_though_the_answer_says_unknown(
    exchange_id: str,
) -> None:
    with running(exchange_id, balances={"USDT": "1000"}) as fake:
        async with client(fake) as exchange:
            await exchange.load_markets()
            fake.inject(fake.order_endpoint, Fault.backend_timeout())
            with pytest.raises(errors.RequestTimeout) as raised:
                await buy(exchange, "bt1")
            assert ("-1007" if exchange_id == "binance" else "50004") in str(raised.value)
            found = await exchange.fetch_order(None, "BTC/USDT", {"clientOrderId": "bt1"})
        assert found["status"] == "closed"
        assert fake.requests_to(fake.order_endpoint)[-1].status == (
            503 if exchange_id == "binance" else 400
        )


async def test_backend_timeout_can_place_the_order_later_or_never() -> None:
    with running("binance", balances={"USDT": "1000"}) as fake:
        async with client(fake) as binance:
            await binance.load_markets()
            fake.inject(fake.order_endpoint, Fault.backend_timeout(1.0))
            with pytest.raises(errors.RequestTimeout):
                await buy(binance, "bt2")
            with pytest.raises(errors.OrderNotFound):
                await binance.fetch_order(None, "BTC/USDT", {"clientOrderId": "bt2"})
            await eventually(lambda: fake.order("bt2") is not None)
            record = fake.requests_to(fake.order_endpoint)[-1]
            assert record.late_ms is not None and record.late_ms >= 1000  # updated on landing
            fake.inject(fake.order_endpoint, Fault.backend_timeout(placed=False))
            with pytest.raises(errors.RequestTimeout):
                await buy(binance, "bt3")
            with pytest.raises(errors.OrderNotFound):
                await binance.fetch_order(None, "BTC/USDT", {"clientOrderId": "bt3"})
        assert [o.client_order_id for o in fake.orders] == ["bt2"]
        assert fake.requests_to(fake.order_endpoint)[-1].processed_ms is None


async def test_okx_order_timeout_51149_is_a_plain_exchange_error_in_ccxt() -> None:
    """OKX's "Order timed out" leaves the outcome open, yet ccxt 4.5 has no mapping for it."""
    with running("okx", balances={"USDT": "1000"}) as fake:
        async with client(fake) as okx:
            await okx.load_markets()
            fake.inject(fake.order_endpoint, Fault.backend_timeout(code=51149))
            with pytest.raises(errors.ExchangeError, match="51149") as raised:
                await buy(okx, "bt4")
            assert type(raised.value) is errors.ExchangeError
        assert fake.order("bt4") is not None
        assert fake.requests_to(fake.order_endpoint)[-1].status == 500


# --- OKX expTime ----------------------------------------------------------------------------


def expire_in(fake: FakeExchange, okx: Any, ms: int) -> None:
    okx.headers = {"expTime": str(fake.now_ms() + ms)}


async def test_okx_exptime_already_past_on_arrival_places_nothing() -> None:
    with running("okx", balances={"USDT": "1000"}) as fake:
        async with client(fake) as okx:
            await okx.load_markets()
            expire_in(fake, okx, -1)
            with pytest.raises(errors.ExchangeError, match="50036") as raised:
                await buy(okx, "exp1")
            assert type(raised.value) is errors.ExchangeError
            okx.headers = {}
            assert (await okx.fetch_balance())["USDT"]["free"] == 1000  # reads ignore expTime
        assert fake.orders == []
        assert fake.requests_to(fake.order_endpoint)[-1].processed_ms is None


@pytest.mark.parametrize(("valid_ms", "placed"), [(700, False), (5000, True)])
async def test_okx_order_landing_after_its_exptime_is_never_placed(
    valid_ms: int, placed: bool
) -> None:
    with running("okx", balances={"USDT": "1000"}) as fake:
        async with client(fake) as okx:
            await okx.load_markets()
            fake.inject(fake.order_endpoint, Fault.lands_late(1.5))
            expire_in(fake, okx, valid_ms)
            with pytest.raises(errors.RequestTimeout):
                await buy(okx, "exp2")
            await eventually(lambda: fake.requests_to(fake.order_endpoint) != [])
            landed = fake.requests_to(fake.order_endpoint)[-1]
        assert landed.late_ms is not None and landed.late_ms >= 1500
        if placed:
            assert landed.answer["code"] == "0" and fake.order("exp2") is not None
        else:
            assert landed.answer == {"code": "50037", "msg": "Order expired.", "data": []}
            assert fake.orders == []
