"""Any quote amount at any price, against Binance's real BTCUSDT and PAXGUSDT filters: what the
adapter sends is a whole number of steps, at least the minimum, and never spends more than asked.

The filters are read here straight from `binance_exchange_info.json` (Binance's 2024 listing cut to
six symbols in tests/data; the fake serves it as `markets="full"`), so the check does not trust
the adapter's own reading of them. What was sent is what the fake received.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.exchanges.base import BelowMinimum
from bot.exchanges.ccxt_exchange import CcxtExchange
from tests.exchange_harness import adapter
from tests.fakes.exchange import DATA_DIR, FakeExchange

EXCHANGE_INFO = DATA_DIR / "binance_exchange_info.json"


@dataclass(frozen=True)
class Filters:
    step: Decimal
    min_qty: Decimal
    tick: Decimal
    min_notional: Decimal


def real_filters() -> dict[str, Filters]:
    info = json.loads(EXCHANGE_INFO.read_text())
    found = {}
    for entry in info["symbols"]:
        if entry["symbol"] in ("BTCUSDT", "PAXGUSDT"):
            by_type = {f["filterType"]: f for f in entry["filters"]}
            found[f"{entry['baseAsset']}/{entry['quoteAsset']}"] = Filters(
                Decimal(by_type["LOT_SIZE"]["stepSize"]),
                Decimal(by_type["LOT_SIZE"]["minQty"]),
                Decimal(by_type["PRICE_FILTER"]["tickSize"]),
                Decimal(by_type["NOTIONAL"]["minNotional"]),
            )
    return found


FILTERS = real_filters()
PRICE_RANGE = {"BTC/USDT": (15_000, 150_000), "PAXG/USDT": (1_200, 4_000)}


def floor(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


@pytest.fixture(scope="module")
def venue() -> Iterator[tuple[FakeExchange, CcxtExchange, asyncio.Runner]]:
    fake = FakeExchange(
        "binance",
        markets="full",
        balances={"USDT": "1000000000"},
        reject_duplicate_client_ids=False,
    )
    with fake, asyncio.Runner() as runner:
        exchange = adapter(fake, lambda: datetime(2026, 1, 5, tzinfo=UTC))
        yield fake, exchange, runner
        runner.run(exchange.close())
    assert fake.errors == []


ids = itertools.count()
quote_amounts = st.one_of(
    st.decimals(min_value="0.01", max_value="20", places=2),  # around the 5 USDT minimum
    st.decimals(min_value="1", max_value="60000", places=4),
)


@settings(max_examples=200, deadline=None)
@given(
    symbol=st.sampled_from(["BTC/USDT", "PAXG/USDT"]),
    quote=quote_amounts,
    price_fraction=st.floats(min_value=0, max_value=1),
)
def test_every_sent_order_fits_the_real_filters_and_the_budget(
    venue: tuple[FakeExchange, CcxtExchange, asyncio.Runner],
    symbol: str,
    quote: Decimal,
    price_fraction: float,
) -> None:
    fake, exchange, runner = venue
    rules = FILTERS[symbol]
    low, high = PRICE_RANGE[symbol]
    price = floor(Decimal(str(low + (high - low) * price_fraction)), rules.tick)
    fake.set_price(symbol, price)
    client_id = f"dcbpt{next(ids):024x}"
    posts, held = fake.order_posts, fake.balances
    try:
        fill = runner.run(exchange.buy_with_quote(symbol, quote, client_id))
    except BelowMinimum:
        assert fake.order_posts == posts  # refused before sending
        spend = floor(quote, rules.tick)
        would_buy = floor(spend / price, rules.step)
        assert (
            quote < rules.min_notional
            or would_buy < rules.min_qty
            or would_buy * price < rules.min_notional
        ), "refused an order the exchange would have taken"
        return
    sent = fake.order(client_id)
    assert sent is not None and fake.order_posts == posts + 1
    quote_order_qty = Decimal(sent.params["quoteOrderQty"])
    assert quote_order_qty <= quote and quote_order_qty % rules.tick == 0
    assert sent.amount % rules.step == 0
    assert sent.amount >= rules.min_qty
    assert rules.min_notional <= sent.cost <= quote  # never spends more than asked
    assert (fill.amount, fill.cost, fill.fee, fill.fee_asset) == (
        sent.amount,
        sent.cost,
        sent.fee,
        sent.fee_asset,
    )
    base = symbol.split("/")[0]
    gained = fake.balances.get(base, Decimal(0)) - held.get(base, Decimal(0))
    assert fill.net_base(base) == gained  # the fee in the bought asset is accounted for
