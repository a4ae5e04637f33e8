"""The paper exchange: real market rules, fees in the received asset, idempotent, persistent."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.exchanges.base import BelowMinimum, InsufficientFunds
from bot.exchanges.feeds import OfflineFeed
from bot.exchanges.paper import PaperExchange
from bot.exchanges.prices import CandleReplay
from storage.db import Database
from strategies.candles import parse_candles_csv
from tests.conftest import Clock

CANDLES = """timestamp,open,high,low,close,volume
2026-11-20T00:00:00Z,80000,81000,79000,80500,10
2026-11-21T00:00:00Z,80500.55,82000,80000,81000,12
"""


def paper(db: Database, clock: Clock, balance: str = "1000") -> PaperExchange:
    replay = CandleReplay("BTC/USDT", parse_candles_csv(CANDLES), "test.csv", clock)
    return PaperExchange(
        db,
        name="binance",
        feed=OfflineFeed("binance", replay),
        taker_fee=Decimal("0.001"),
        opening_balances={"USDT": Decimal(balance)},
        clock=clock,
    )


async def test_buy_spends_a_quote_amount_in_whole_steps_and_charges_the_fee_in_btc(
    db: Database, clock: Clock
) -> None:
    exchange = paper(db, clock)
    fill = await exchange.buy_with_quote("BTC/USDT", Decimal("50"), "c1")
    # 50 / 80500.55 = 0.000621113... -> 0.00062 (step 0.00001), cost 0.00062 * 80500.55
    assert fill.price == Decimal("80500.55")
    assert fill.amount == Decimal("0.00062")
    assert fill.cost == Decimal("49.910341")
    assert (fill.fee, fill.fee_asset) == (Decimal("0.00000062"), "BTC")
    assert await exchange.balances() == {
        "USDT": Decimal("950.089659"),
        "BTC": Decimal("0.00061938"),
    }


async def test_sell_charges_the_fee_in_usdt(db: Database, clock: Clock) -> None:
    exchange = paper(db, clock)
    await exchange.buy_with_quote("BTC/USDT", Decimal("500"), "c1")
    fill = await exchange.sell_base("BTC/USDT", Decimal("0.003456789"), "c2")
    assert fill.amount == Decimal("0.00345")  # truncated to the step, never rounded up
    assert fill.cost == Decimal("0.00345") * Decimal("80500.55")
    assert (fill.fee, fill.fee_asset) == (fill.cost * Decimal("0.001"), "USDT")


async def test_the_same_client_order_id_fills_once(db: Database, clock: Clock) -> None:
    exchange = paper(db, clock)
    first = await exchange.buy_with_quote("BTC/USDT", Decimal("50"), "same")
    again = await exchange.buy_with_quote("BTC/USDT", Decimal("50"), "same")
    assert again == first
    assert await exchange.find_order("BTC/USDT", "same") == first
    assert await exchange.find_order("BTC/USDT", "other") is None
    assert (await exchange.balances())["USDT"] == Decimal("1000") - first.cost


async def test_below_the_minimum_is_refused_with_the_minimum(db: Database, clock: Clock) -> None:
    exchange = paper(db, clock)
    with pytest.raises(
        BelowMinimum, match="Binance needs at least 5 USDT per BTC/USDT order; you asked for 3"
    ):
        await exchange.buy_with_quote("BTC/USDT", Decimal("3"), "c1")
    with pytest.raises(BelowMinimum, match=r"at least 0.00001 BTC"):
        await exchange.sell_base("BTC/USDT", Decimal("0.000009"), "c2")
    assert await exchange.balances() == {"USDT": Decimal("1000")}


async def test_more_than_the_balance_is_refused(db: Database, clock: Clock) -> None:
    exchange = paper(db, clock, balance="40")
    with pytest.raises(InsufficientFunds, match="has 40 USDT"):
        await exchange.buy_with_quote("BTC/USDT", Decimal("45"), "c1")
    with pytest.raises(InsufficientFunds, match="has 0 BTC"):
        await exchange.sell_base("BTC/USDT", Decimal("0.1"), "c2")
    assert await exchange.balances() == {"USDT": Decimal("40")}
    assert await exchange.find_order("BTC/USDT", "c1") is None


async def test_balances_survive_a_restart(database_url: str, clock: Clock, tmp_path: Path) -> None:
    from storage.migrate import upgrade

    first_db = Database(database_url)
    upgrade(first_db)
    fill = await paper(first_db, clock).buy_with_quote("BTC/USDT", Decimal("50"), "c1")
    first_db.dispose()
    second_db = Database(database_url)
    upgrade(second_db)
    reopened = paper(second_db, clock)
    assert (await reopened.balances())["BTC"] == fill.amount - fill.fee
    assert await reopened.find_order("BTC/USDT", "c1") == fill
    second_db.dispose()


async def test_replayed_prices_follow_the_clock(db: Database, clock: Clock) -> None:
    exchange = paper(db, clock)
    assert (await exchange.price("BTC/USDT")).price == Decimal("80500.55")  # open of 11-21
    clock.advance(days=-1)
    assert (await exchange.price("BTC/USDT")).price == Decimal("80000")
    clock.advance(days=3)
    quote = await exchange.price("BTC/USDT")
    assert quote.price == Decimal("81000")  # after the data: the last close
    assert "close 2026-11-21" in quote.source
