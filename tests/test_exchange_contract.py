"""One contract for every `Exchange`: the paper exchange and the ccxt adapter (Binance and OKX,
through real ccxt against the fake) must behave the same for everything the engine relies on.

The paper exchange reads its prices and rules from the same fake Binance through its public-data
feed, so all three start from the same account (1000 USDT, 0.01 BTC, fee 0.1% taken from the
asset received) and the same market.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.exchanges.base import BelowMinimum, Exchange, InsufficientFunds
from bot.exchanges.feeds import FallbackFeed
from bot.exchanges.paper import PaperExchange
from bot.exchanges.prices import SimulatedMarket
from bot.exchanges.public_market import PublicMarket
from storage.models import PaperFill
from tests.exchange_harness import FAST_CLIENT, adapter, sqlite_database
from tests.fakes.exchange import FakeExchange

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)  # inside the daily candles (tests/data)
SYMBOL = "BTC/USDT"
FEE = Decimal("0.001")
OPENING = {"USDT": Decimal(1000), "BTC": Decimal("0.01")}
TITLES = {"paper": "paper binance", "binance": "Binance", "okx": "OKX"}


@dataclass
class Venue:
    """An exchange under contract, the fake market behind it, and how to count orders sent."""

    kind: str
    exchange: Exchange
    fake: FakeExchange
    sent: Callable[[], int]

    @property
    def step(self) -> Decimal:
        return {"okx": Decimal("0.00000001")}.get(self.kind, Decimal("0.00001"))


@pytest.fixture(params=["paper", "binance", "okx"])
async def venue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Venue]:
    kind: str = request.param
    balances = {asset: str(amount) for asset, amount in OPENING.items()}
    with FakeExchange("binance" if kind == "paper" else kind, balances=balances) as fake:
        if kind == "paper":
            db = sqlite_database(tmp_path)
            public = PublicMarket(
                "binance", lambda: NOW, base_url=fake.url, timeout_s=1, client_config=FAST_CLIENT
            )
            feed = FallbackFeed(
                public, SimulatedMarket(1, lambda: NOW), lambda: NOW, allow_simulated=False
            )
            paper = PaperExchange(
                db,
                name="binance",
                feed=feed,
                taker_fee=FEE,
                opening_balances=OPENING,
                clock=lambda: NOW,
            )

            def fills() -> int:
                with db.transaction() as session:
                    return int(session.scalar(select(func.count(PaperFill.id))) or 0)

            yield Venue(kind, paper, fake, fills)
            await paper.close()
            db.dispose()
        else:
            real = adapter(fake, lambda: NOW)
            yield Venue(kind, real, fake, lambda: fake.order_posts)
            await real.close()
    assert fake.errors == []


async def test_rules_and_price_are_the_markets(venue: Venue) -> None:
    rules = await venue.exchange.market_rules(SYMBOL)
    assert (rules.symbol, rules.base, rules.quote) == (SYMBOL, "BTC", "USDT")
    assert rules.amount_step == venue.step
    assert rules.min_amount >= rules.amount_step > 0
    quote = await venue.exchange.price(SYMBOL)
    assert quote.price == venue.fake.price(SYMBOL) and not quote.simulated


async def test_buy_with_quote_spends_at_most_the_amount_in_whole_steps(venue: Venue) -> None:
    price = venue.fake.price(SYMBOL)
    fill = await venue.exchange.buy_with_quote(SYMBOL, Decimal("50.37"), "dcbct1")
    assert (fill.side, fill.symbol, fill.client_order_id) == ("buy", SYMBOL, "dcbct1")
    assert fill.price == price
    assert fill.amount % venue.step == 0 and fill.amount > 0
    assert 0 < fill.cost <= Decimal("50.37")
    assert Decimal("50.37") - fill.cost < price * venue.step + Decimal("0.1")  # only the rest
    assert (fill.fee, fill.fee_asset) == (fill.amount * FEE, "BTC")
    held = await venue.exchange.balances()
    assert held["USDT"] == OPENING["USDT"] - fill.cost
    assert held["BTC"] == OPENING["BTC"] + fill.net_base("BTC")
    assert venue.sent() == 1


async def test_sell_base_truncates_to_the_step_and_pays_the_fee_in_quote(venue: Venue) -> None:
    fill = await venue.exchange.sell_base(SYMBOL, Decimal("0.001234567"), "dcbct2")
    assert fill.side == "sell"
    assert fill.amount == (Decimal("0.001234567") // venue.step) * venue.step
    assert fill.cost == fill.amount * venue.fake.price(SYMBOL)
    assert fill.fee_asset == "USDT"
    assert abs(fill.fee - fill.cost * FEE) < Decimal("1E-8")  # Binance keeps 8 decimals
    held = await venue.exchange.balances()
    assert held["BTC"] == OPENING["BTC"] - fill.amount
    assert held["USDT"] == OPENING["USDT"] + fill.net_quote("USDT")


async def test_an_order_is_found_again_by_its_client_order_id(venue: Venue) -> None:
    fill = await venue.exchange.buy_with_quote(SYMBOL, Decimal(20), "dcbct3")
    found = await venue.exchange.find_order(SYMBOL, "dcbct3")
    assert found is not None
    assert (
        found.client_order_id,
        found.side,
        found.amount,
        found.cost,
        found.fee,
        found.fee_asset,
    ) == (fill.client_order_id, "buy", fill.amount, fill.cost, fill.fee, fill.fee_asset)
    assert found.exchange_order_id == fill.exchange_order_id
    assert await venue.exchange.find_order(SYMBOL, "dcbneversent") is None
    assert venue.sent() == 1


@pytest.mark.parametrize(("side", "amount"), [("buy", "0.5"), ("sell", "0.000004")])
async def test_below_the_minimum_is_refused_before_sending(
    venue: Venue, side: str, amount: str
) -> None:
    with pytest.raises(BelowMinimum) as refused:
        if side == "buy":
            await venue.exchange.buy_with_quote(SYMBOL, Decimal(amount), "dcbct4")
        else:
            await venue.exchange.sell_base(SYMBOL, Decimal(amount), "dcbct4")
    message = str(refused.value)
    assert "at least" in message and SYMBOL in message
    assert message.lower().startswith(TITLES[venue.kind].split()[-1].lower())
    assert venue.sent() == 0
    assert await venue.exchange.balances() == OPENING


async def test_insufficient_funds_are_refused_and_nothing_moves(venue: Venue) -> None:
    with pytest.raises(InsufficientFunds) as refused:
        await venue.exchange.buy_with_quote(SYMBOL, Decimal(5000), "dcbct5")
    assert TITLES[venue.kind].lower() in str(refused.value).lower()
    assert "1000" in str(refused.value)
    with pytest.raises(InsufficientFunds):
        await venue.exchange.sell_base(SYMBOL, Decimal("0.5"), "dcbct6")
    assert venue.sent() == 0
    assert await venue.exchange.balances() == OPENING


async def test_candles_are_closed_days_only_oldest_first(venue: Venue) -> None:
    candles = await venue.exchange.closed_candles(SYMBOL, 30)
    assert len(candles) == 30
    assert candles[-1].time == datetime(2025, 6, 14, tzinfo=UTC)  # 15 June is still forming
    assert [c.time for c in candles] == [
        datetime(2025, 5, 16, tzinfo=UTC) + timedelta(days=i) for i in range(30)
    ]
    assert all(c.time + timedelta(days=1) <= NOW for c in candles)
