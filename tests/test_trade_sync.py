"""`/sync` and `dcabot sync` through the real ccxt against the fake Binance and the fake OKX:
the bot's own orders are linked, trades made by hand on the exchange are booked as external,
an order the bot recorded differently is corrected; holdings and average cost then match the
fake's own trade list exactly, and a second sync changes nothing."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.engine.buy_now import buy_now
from bot.engine.context import Engine
from bot.engine.exports import write_exports
from bot.engine.portfolio import cost_basis
from bot.engine.profit_report import profit_view
from bot.engine.trade_sync import EXTERNAL, sync_trades
from bot.exchanges.ccxt_exchange import CcxtExchange
from storage import orders
from storage.models import Order, OutboxAlert
from tests.conftest import Clock
from tests.exchange_harness import DEADLINE_MS, adapter, engine_with, running, sqlite_database
from tests.fakes.exchange import FakeExchange


@dataclass
class Venue:
    fake: FakeExchange
    engine: Engine  # the bot
    hand: CcxtExchange  # a person trading in the exchange's own app: same account, not the bot
    clock: Clock


@pytest.fixture(params=["binance", "okx"])
async def venue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Venue]:
    """The venue and the bot keep real time (a sync books an order only once its deadline
    window has passed on the exchange's clock)."""
    clock = Clock(datetime.now(UTC))
    with running(request.param, balances={"USDT": "5000"}) as fake:
        db = sqlite_database(tmp_path)
        bot = engine_with(tmp_path, db, fake, adapter(fake, clock), clock)
        hand = adapter(fake, clock)
        try:
            yield Venue(fake, bot, hand, clock)
        finally:
            await bot.exchange.close()
            await hand.close()
            db.dispose()


def expected_books(fake: FakeExchange) -> tuple[Decimal, Decimal]:
    """Holdings and cost by average cost, from the fake's own list of what executed."""
    held = cost = Decimal(0)
    for order in fake.ledger.orders:
        if order.side == "buy":
            held += order.amount - (order.fee if order.fee_asset == "BTC" else 0)
            cost += order.cost
        else:
            cost -= cost * order.amount / held
            held -= order.amount
    return held, cost


async def settled() -> None:
    """Past every order's deadline window (0.8 s with the harness's policy; 15 s for real)."""
    await asyncio.sleep(DEADLINE_MS / 1000 + 0.1)


async def by_hand(venue: Venue, side: str, amount: Decimal, tag: str) -> None:
    exchange = venue.hand
    if side == "buy":
        await exchange.buy_with_quote("BTC/USDT", amount, f"web{tag}")
    else:
        await exchange.sell_base("BTC/USDT", amount, f"web{tag}")


async def test_trades_by_hand_count_and_the_books_match_the_exchange(venue: Venue) -> None:
    engine = venue.engine
    await buy_now(engine, Decimal(300), confirmation="tok-1", requested_by="t")
    await by_hand(venue, "buy", Decimal(500), "1")
    await buy_now(engine, Decimal(200), confirmation="tok-2", requested_by="t")
    await by_hand(venue, "sell", Decimal("0.002"), "2")
    await settled()
    done = await sync_trades(engine)
    assert (done.linked, done.added, done.corrected) == (2, 2, [])
    with engine.db.transaction() as session:
        filled = orders.filled(session, exchange=venue.fake.exchange_id, mode="live",
                               symbol="BTC/USDT")
        external = [o for o in filled if o.cause == EXTERNAL]
    assert [(o.side, o.requested_by) for o in external] == [
        ("buy", "on the exchange"), ("sell", "on the exchange")]
    basis = cost_basis(filled, "BTC")
    held, cost = expected_books(venue.fake)
    assert basis.held == held == venue.fake.balances["BTC"]
    assert basis.cost == cost
    again = await sync_trades(engine)  # nothing new: nothing changes
    assert (again.linked, again.added, again.corrected) == (0, 0, [])
    with engine.db.transaction() as session:
        assert len(orders.filled(session, exchange=venue.fake.exchange_id, mode="live",
                                 symbol="BTC/USDT")) == 4
        told = session.scalars(select(OutboxAlert.kind).where(
            OutboxAlert.kind == "trades_synced")).all()
    assert told == ["trades_synced"]  # once, for the sync that found something


async def test_an_order_recorded_otherwise_is_corrected_and_said(venue: Venue) -> None:
    engine = venue.engine
    outcome = await buy_now(engine, Decimal(300), confirmation="tok-1", requested_by="t")
    with engine.db.transaction() as session:  # as if the answer had been misread
        row = session.scalars(select(Order).where(
            Order.client_order_id == outcome.client_order_id)).one()
        right = row.filled_base
        row.filled_base = (row.filled_base or Decimal(0)) / 2
    await settled()
    done = await sync_trades(engine)
    assert (done.linked, done.added, len(done.corrected)) == (1, 0, 1)
    with engine.db.transaction() as session:
        fixed = session.scalars(select(Order).where(
            Order.client_order_id == outcome.client_order_id)).one()
        alert = session.scalars(select(OutboxAlert).where(
            OutboxAlert.kind == "trades_synced")).one()
    assert fixed.filled_base == right and alert.urgent


async def test_an_order_still_filling_waits_for_the_next_sync(venue: Venue) -> None:
    await by_hand(venue, "buy", Decimal(100), "1")
    assert (await sync_trades(venue.engine)).added == 0  # it may still be filling
    await settled()
    assert (await sync_trades(venue.engine)).added == 1


async def test_a_resting_order_part_filled_is_booked_whole_once_it_is_done(venue: Venue) -> None:
    """A LIMIT order placed by hand rests part filled (Binance PARTIALLY_FILLED, OKX
    partially_filled: ccxt "open"): the sync books none of it and keeps its cursor before the
    order's first trade; once the rest fills, the next sync books it once with both trades."""
    engine, fake = venue.engine, venue.fake

    def filled_orders() -> list[Order]:
        with engine.db.transaction() as session:
            return list(orders.filled(session, exchange=fake.exchange_id, mode="live",
                                      symbol="BTC/USDT"))

    await buy_now(engine, Decimal(300), confirmation="tok-1", requested_by="t")
    order_id = fake.rest_by_hand("BTC/USDT", "buy", "0.01", fake.price("BTC/USDT"), "0.004")
    await buy_now(engine, Decimal(200), confirmation="tok-2", requested_by="t")  # while it rests
    await settled()
    first = await sync_trades(engine)
    assert (first.linked, first.added, first.waiting, first.corrected) == (2, 0, 1, [])
    assert [o.cause for o in filled_orders()] == ["buy_now", "buy_now"]

    whole = fake.fill_rest(order_id)
    assert len(whole.trades) == 2 and whole.amount == Decimal("0.01")
    await settled()
    second = await sync_trades(engine)  # re-reads from the resting order's first trade
    assert (second.linked, second.added, second.waiting, second.corrected) == (1, 1, 0, [])
    filled = filled_orders()
    (external,) = [o for o in filled if o.cause == EXTERNAL]
    assert (external.exchange_order_id, external.side) == (order_id, "buy")
    assert (external.filled_base, external.filled_quote) == (whole.amount, whole.cost)
    assert (external.fee, external.fee_asset) == (whole.fee, "BTC")
    basis = cost_basis(filled, "BTC")
    held, cost = expected_books(fake)
    assert basis.held == held == fake.balances["BTC"]
    assert basis.cost == cost

    third = await sync_trades(engine)  # nothing new: nothing changes
    assert (third.linked, third.added, third.waiting, third.corrected) == (0, 0, 0, [])
    assert len(filled_orders()) == 3


async def test_profit_and_exports_count_the_trades_made_by_hand(
        venue: Venue, tmp_path: Path) -> None:
    engine = venue.engine
    await buy_now(engine, Decimal(300), confirmation="tok-1", requested_by="t")
    await by_hand(venue, "buy", Decimal(500), "1")
    await by_hand(venue, "sell", Decimal("0.003"), "2")
    await settled()
    await sync_trades(engine)
    invested = realized = fees = held = cost = Decimal(0)
    for order in venue.fake.ledger.orders:  # the exchange's own record, averaged here again
        if order.side == "buy":
            invested += order.cost
            held += order.amount - order.fee
            cost += order.cost
            fees += order.fee * order.price
        else:
            share = cost * order.amount / held
            realized += order.cost - order.fee - share
            held, cost = held - order.amount, cost - share
            fees += order.fee
    view = await profit_view(engine)
    assert (view.invested, view.realized, view.fees_total) == (invested, realized, fees)
    assert view.fees == {"manual": view.fees["manual"], "external": view.fees["external"]}
    (orders_file,) = write_exports([engine], ["orders"], tmp_path / "exports")
    rows = list(csv.DictReader(io.StringIO(orders_file.path.read_text(encoding="utf-8"))))
    assert [(r["cause"], r["side"]) for r in rows] == [
        ("buy_now", "buy"), ("external", "buy"), ("external", "sell")]
    assert sum(Decimal(r["fee_value_usdt"]) for r in rows) == fees
