"""Fills as they really come, through the real ccxt: market orders that fill only in part or not
at all, several trades per order, commissions in two currencies, and orders whose look-up is gone
while their trades are still listed.

Facts pinned down for the adapter: Binance reports a market order that ran out of liquidity as
EXPIRED (ccxt "expired") with what it executed, OKX as canceled (ccxt "canceled") with accFillSz
short of the order; with BNB fees one Binance order has fills whose commissionAsset differ, and
ccxt lists each currency in the order's `fees`; Binance's order query answers an archived order
with -2026, which ccxt 4.5 raises as InvalidOrder (not OrderNotFound), OKX with 51603
(OrderNotFound); the trades of both stay reachable through fetch_my_trades.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from ccxt.base import errors

from tests.fakes.exchange import FakeExchange, Fault
from tests.fakes.exchange_clients import MovableClock, client, running

DAY_S = 86_400


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def fees_of(parsed: dict[str, Any]) -> dict[str, Decimal]:
    """ccxt's fees of an order or trade, per currency."""
    rows = parsed.get("fees") or ([parsed["fee"]] if parsed.get("fee") else [])
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row["currency"]] = totals.get(row["currency"], Decimal(0)) + dec(row["cost"])
    return totals


async def look_up(exchange: Any, client_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await exchange.fetch_order(
        None, "BTC/USDT", {"clientOrderId": client_id}
    )
    return found


# --- partial and empty fills -------------------------------------------------------------------


@pytest.mark.parametrize("exchange_id", ["binance", "okx"])
async def test_a_market_order_that_runs_out_of_liquidity_fills_in_part(exchange_id: str) -> None:
    with running(exchange_id, balances={"USDT": "1000"}, trades_per_order=2) as fake:
        fake.set_price("BTC/USDT", "50000")
        async with client(fake) as exchange:
            await exchange.load_markets()
            fake.inject(fake.order_endpoint, Fault.partial_fill("0.4"))
            await exchange.create_market_buy_order_with_cost(
                "BTC/USDT", 100, {"clientOrderId": "part1"}
            )
            found = await look_up(exchange, "part1")
            trades = await exchange.fetch_order_trades(found["id"], "BTC/USDT")
        [order] = fake.orders
        assert order.status == "expired" and order.requested == Decimal("0.002")
        assert order.amount == Decimal("0.0008") and order.cost == Decimal(40)
        expected_status = "expired" if exchange_id == "binance" else "canceled"
        assert found["status"] == expected_status
        assert dec(found["filled"]) == order.amount
        assert dec(found["average"]) == Decimal(50000)
        assert [dec(t["amount"]) for t in trades] == [Decimal("0.0004")] * 2
        assert sum(dec(t["cost"]) for t in trades) == Decimal(40)
        assert sum(fees_of(t)["BTC"] for t in trades) == order.fee == Decimal("0.0000008")
        # the account moved by the filled part only
        assert fake.balances == {"USDT": Decimal(960), "BTC": order.amount - order.fee}
        if exchange_id == "binance":
            assert found["info"]["expiryReason"] == "INSUFFICIENT_LIQUIDITY"
            assert found["info"]["origQty"] == "0.00200000"
        else:
            assert found["info"]["accFillSz"] == "0.0008" and found["info"]["sz"] == "100"


@pytest.mark.parametrize("exchange_id", ["binance", "okx"])
async def test_a_market_order_that_finds_no_liquidity_fills_nothing(exchange_id: str) -> None:
    with running(exchange_id, balances={"USDT": "1000"}) as fake:
        async with client(fake) as exchange:
            await exchange.load_markets()
            fake.inject(fake.order_endpoint, Fault.partial_fill(0))
            created = await exchange.create_market_buy_order_with_cost(
                "BTC/USDT", 50, {"clientOrderId": "none1"}
            )
            found = await look_up(exchange, "none1")
            trades = await exchange.fetch_my_trades("BTC/USDT")
        assert fake.balances == {"USDT": Decimal(1000)}
        assert found["status"] == ("expired" if exchange_id == "binance" else "canceled")
        assert dec(found["filled"]) == 0 and trades == []
        if exchange_id == "binance":  # the answer to the order itself says so already
            assert created["status"] == "expired" and created["trades"] == []


# --- commissions in two currencies ------------------------------------------------------------


async def test_binance_takes_bnb_for_fees_while_it_lasts_then_the_asset_bought() -> None:
    """3 trades of 0.001 BTC at 60,000: each commission is 0.000001 BTC, worth 0.06 USDT, or
    0.000075 BNB at 600 USDT with the 25% discount. BNB covers two of them."""
    with running(
        "binance", balances={"USDT": "1000", "BNB": "0.00016"}, bnb_fees=True, trades_per_order=3
    ) as fake:
        fake.set_price("BTC/USDT", "60000")
        fake.set_price("BNB/USDT", "600")
        async with client(fake) as binance:
            await binance.load_markets()
            created = await binance.create_market_buy_order(
                "BTC/USDT", 0.003, {"clientOrderId": "bnb1"}
            )
            trades = await binance.fetch_my_trades("BTC/USDT")
        fills = created["info"]["fills"]
        assert [(f["qty"], f["commission"], f["commissionAsset"]) for f in fills] == [
            ("0.00100000", "0.00007500", "BNB"),
            ("0.00100000", "0.00007500", "BNB"),
            ("0.00100000", "0.00000100", "BTC"),
        ]
        assert fees_of(created) == {"BNB": Decimal("0.00015"), "BTC": Decimal("0.000001")}
        assert [(fees_of(t), dec(t["amount"])) for t in trades] == [
            ({"BNB": Decimal("0.000075")}, Decimal("0.001")),
            ({"BNB": Decimal("0.000075")}, Decimal("0.001")),
            ({"BTC": Decimal("0.000001")}, Decimal("0.001")),
        ]
        assert fake.balances == {
            "USDT": Decimal(820),
            "BNB": Decimal("0.00001"),
            "BTC": Decimal("0.002999"),
        }
        [order] = fake.orders
        assert order.fees == {"BNB": Decimal("0.00015"), "BTC": Decimal("0.000001")}


async def test_okx_fills_of_one_order_can_carry_two_fee_currencies() -> None:
    """OKX documents no fee-deduction asset for spot; the fake can still put a second fee
    currency on one order's fills, to prove the fills (not the order) are read."""
    with running(
        "okx",
        balances={"USDT": "1000", "OKB": "0.001"},
        fee_discount_asset="OKB",
        trades_per_order=2,
    ) as fake:
        fake.set_price("BTC/USDT", "50000")
        fake.set_price("OKB/USDT", "50")
        async with client(fake) as okx:
            await okx.load_markets()
            await okx.create_market_buy_order_with_cost("BTC/USDT", 100, {"clientOrderId": "okb1"})
            found = await look_up(okx, "okb1")
            trades = await okx.fetch_order_trades(found["id"], "BTC/USDT")
        # 2 trades of 0.001 BTC: 0.000001 BTC each, worth 0.05 USDT = 0.00075 OKB discounted
        by_currency = {t["info"]["feeCcy"]: fees_of(t) for t in trades}
        assert by_currency == {
            "OKB": {"OKB": Decimal("0.00075")},
            "BTC": {"BTC": Decimal("0.000001")},
        }
        assert all(t["info"]["fee"].startswith("-") for t in trades)  # OKX writes fees negative
        # the order itself carries one fee currency: the first trade's
        assert fees_of(found) == {"OKB": Decimal("0.00075")}
        assert fake.balances["OKB"] == Decimal("0.00025")
        assert fake.balances["BTC"] == Decimal("0.002") - Decimal("0.000001")


# --- archived orders ----------------------------------------------------------------------------


async def test_binance_archived_order_is_refused_by_lookup_and_found_in_my_trades() -> None:
    with running("binance", balances={"USDT": "1000"}, trades_per_order=2) as fake:
        async with client(fake) as binance:
            await binance.load_markets()
            await binance.create_market_buy_order_with_cost(
                "BTC/USDT", 50, {"clientOrderId": "arch1"}
            )
            await binance.create_market_buy_order_with_cost(
                "BTC/USDT", 30, {"clientOrderId": "arch2"}
            )
            archived, newest = fake.archive("arch1"), fake.orders[-1]
            with pytest.raises(errors.InvalidOrder, match="-2026") as raised:
                await look_up(binance, "arch1")
            assert type(raised.value) is errors.InvalidOrder
            assert (await look_up(binance, "arch2"))["status"] == "closed"
            by_order = await binance.fetch_order_trades(archived.order_id, "BTC/USDT")
            by_time = await binance.fetch_my_trades(
                "BTC/USDT",
                since=archived.created_ms - 1000,
                params={"until": archived.created_ms + 1000},
            )
            from_id = await binance.fetch_my_trades(
                "BTC/USDT", params={"fromId": archived.trades[1].trade_id}
            )
            latest = await binance.fetch_my_trades("BTC/USDT", limit=1)
            all_orders = await binance.fetch_orders("BTC/USDT")
            with pytest.raises(errors.BadRequest, match="-1127"):  # more than 24 h
                await binance.fetch_my_trades(
                    "BTC/USDT",
                    since=archived.created_ms - 2 * DAY_S * 1000,
                    params={"until": archived.created_ms},
                )
            with pytest.raises(errors.BadRequest, match="-1128"):
                await binance.fetch_my_trades(
                    "BTC/USDT", since=archived.created_ms, params={"fromId": 1}
                )
        assert [t["order"] for t in by_order] == [archived.order_id] * 2
        assert sum(dec(t["amount"]) for t in by_order) == archived.amount
        assert sum(fees_of(t)["BTC"] for t in by_order) == archived.fee
        assert {t["order"] for t in by_time} >= {archived.order_id}
        # the archived order's second trade, then arch2's two
        assert [t["id"] for t in from_id] == [
            str(t.trade_id) for t in (archived.trades[1], *newest.trades)
        ]
        assert [t["order"] for t in latest] == [newest.order_id]
        assert [o["clientOrderId"] for o in all_orders] == ["arch2"]


async def test_okx_archived_order_is_not_found_but_its_fills_are() -> None:
    clock = MovableClock()
    with running("okx", balances={"USDT": "1000"}, clock=clock) as fake:
        async with client(fake) as okx:
            await okx.load_markets()
            await okx.create_market_buy_order_with_cost("BTC/USDT", 50, {"clientOrderId": "arch3"})
            archived = fake.archive("arch3")
            with pytest.raises(errors.OrderNotFound, match="51603"):
                await look_up(okx, "arch3")
            mine = await okx.fetch_my_trades("BTC/USDT", since=archived.created_ms - 1000)
            recent = await okx.private_get_trade_fills({"instType": "SPOT", "instId": "BTC-USDT"})
            clock.advance(4 * DAY_S)  # past the 3 days /trade/fills covers
            await okx.load_time_difference()
            old = await okx.private_get_trade_fills({"instType": "SPOT"})
            history = await okx.fetch_my_trades("BTC/USDT")
            with pytest.raises(errors.BadRequest, match="50014"):
                await okx.private_get_trade_fills_history({"instId": "BTC-USDT"})
        assert [t["order"] for t in mine] == [archived.order_id]
        assert dec(mine[0]["amount"]) == archived.amount
        assert fees_of(mine[0]) == {"BTC": archived.fee}
        [fill] = recent["data"]
        assert (fill["ordId"], fill["clOrdId"], fill["instId"]) == (
            archived.order_id,
            "arch3",
            "BTC-USDT",
        )
        assert fill["fee"] == f"-{archived.fee.normalize():f}" and fill["feeCcy"] == "BTC"
        assert fill["fillTime"] == fill["ts"] == str(archived.created_ms)
        assert old["data"] == []
        assert [t["order"] for t in history] == [archived.order_id]


def test_archiving_an_unknown_order_is_a_test_bug() -> None:
    fake = FakeExchange("okx")
    with pytest.raises(KeyError):
        fake.archive("never")
