"""/profit and /monthly over a replayed year of real candles (weekly cdc schedule, the flips it
met, a manual buy and a manual sale), checked figure by figure against an independent
computation from the paper exchange's own fill records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cards.format import cents, rounded
from bot.chat.roles import Role, User
from bot.engine.dca_run import run_schedule
from bot.engine.profit import Trade, books_of
from bot.engine.profit_report import period_rows, profit_view
from bot.engine.schedules import add_schedule
from bot.engine.trend_watch import act_on_flips
from storage.db import Database
from storage.models import Order, PaperFill
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings
from tests.shared_data import BTC_DAILY, load_candles

START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 12, 31, 12, 0, tzinfo=UTC)
ADMIN = User("telegram", "1", Role.ADMIN)
DAY = timedelta(days=1)
CANDLES = {c.time: c for c in load_candles(BTC_DAILY)}


async def manual(bot: Bot, command: str) -> None:
    ask = await bot.say(command)
    assert ask.confirm_token, ask
    done = await bot.registry.confirm(bot.services, ADMIN, ask.confirm_token, accept=True)
    assert done.title.startswith(("Bought", "Sold")), done


@pytest.fixture
async def year(tmp_path: Path, db: Database, clock: Clock) -> Bot:
    settings = make_settings(tmp_path, prices_csv=BTC_DAILY,
                             paper_start_balance=Decimal(100_000))
    bot = make_bot(settings, db, clock)
    engine = bot.services.engine
    clock.now = START
    await act_on_flips(engine)  # the baseline
    schedule = await add_schedule(engine, "mon", "07:00", Decimal(100), None, "cdc",
                                  requested_by="t")
    day = START
    while day < END:
        clock.now = day + timedelta(minutes=5)
        await act_on_flips(engine)
        if day.weekday() == 0:
            clock.now = day + timedelta(hours=7)
            await run_schedule(engine, schedule.id, clock.now)
        if day == datetime(2024, 3, 15, tzinfo=UTC):
            clock.now = day + timedelta(hours=9)
            await manual(bot, "/buy 500")
        if day == datetime(2024, 8, 20, tzinfo=UTC):
            clock.now = day + timedelta(hours=9)
            await manual(bot, "/sell 10")
        day += DAY
    clock.now = END
    return bot


@dataclass
class Independent:
    """Average cost, written again from the paper fills (not the engine's order rows)."""

    held: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    realized: Decimal = Decimal(0)
    invested: Decimal = Decimal(0)
    bought: Decimal = Decimal(0)
    sold: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    by_cause: dict[str, Decimal] = field(default_factory=dict)

    def take(self, fill: PaperFill, cause: str) -> None:
        fee_value = fill.fee * fill.price if fill.side == "buy" else fill.fee
        self.fees += fee_value
        self.by_cause[cause] = self.by_cause.get(cause, Decimal(0)) + fee_value
        if fill.side == "buy":
            self.held += fill.amount - fill.fee
            self.cost += fill.cost
            self.invested += fill.cost
            self.bought += fill.cost
            return
        share = self.cost * fill.amount / self.held
        self.realized += fill.cost - fill.fee - share
        self.held -= fill.amount
        self.cost -= share
        self.sold += fill.cost


def fills(db: Database) -> list[tuple[PaperFill, str]]:
    causes = {"schedule": "schedule", "flip_sell": "flip sell", "flip_buy": "deploy",
              "buy_now": "manual", "sell_now": "manual"}
    with db.transaction() as session:
        cause_of = {o.client_order_id: o.cause for o in session.scalars(select(Order))}
        rows = list(session.scalars(select(PaperFill).order_by(PaperFill.created_at,
                                                               PaperFill.id)))
        return [(f, causes[cause_of[f.client_order_id]]) for f in rows]


def books_until(db: Database, until: datetime) -> Independent:
    books = Independent()
    for fill, cause in fills(db):
        if fill.created_at < until:
            books.take(fill, cause)
    return books


def close_by(when: datetime) -> Decimal:
    """The close of the last daily candle closed by `when`."""
    return CANDLES[(when - DAY).replace(hour=0, minute=0)].close


async def test_profit_since_the_start_equals_the_independent_books(year: Bot) -> None:
    engine = year.services.engine
    books = books_until(year.db, END + DAY)
    assert {"schedule", "manual", "flip sell", "deploy"} <= set(books.by_cause)
    price = CANDLES[datetime(2024, 12, 31, tzinfo=UTC)].open  # the paper price at END
    view = await profit_view(engine)
    assert view.invested == books.invested and view.bought == books.bought
    assert view.sold == books.sold and view.realized == books.realized
    assert view.fees_total == books.fees and view.fees == books.by_cause
    assert view.unrealized == books.held * price - books.cost
    assert view.value == books.held * price
    card = {f.label: f.value for f in (await year.say("/profit")).fields}
    assert card["Invested"] == cents(books.invested, "USDT")
    assert card["Realized P&L"] == cents(books.realized, "USDT", signed=True)
    assert card["Unrealized P&L"] == cents(books.held * price - books.cost, "USDT", signed=True)
    assert card["Fees"].startswith(cents(books.fees, "USDT"))
    expected = (books.realized + books.held * price - books.cost) / books.invested * 100
    assert card["Return since start"].endswith(f"{rounded(expected)}%")


async def test_each_month_equals_the_independent_books_and_they_add_up(year: Bot) -> None:
    rows = await period_rows(year.services.engine, "month", 12)
    assert [r.start.month for r in rows] == list(range(1, 13))
    price_now = CANDLES[datetime(2024, 12, 31, tzinfo=UTC)].open
    total = Decimal(0)
    for row in rows:
        before, after = books_until(year.db, row.start), books_until(year.db, row.end)
        end_price = price_now if row.end > END else close_by(row.end)
        start_value = before.held * close_by(row.start) - before.cost if before.held else 0
        pnl = after.realized - before.realized + (after.held * end_price - after.cost) \
            - start_value
        assert (row.bought, row.sold) == (after.bought - before.bought, after.sold - before.sold)
        assert row.fees == after.fees - before.fees
        assert row.value == after.held * end_price
        assert row.pnl == pnl, row.start
        total += row.pnl
    books = books_until(year.db, END + DAY)
    assert total == books.realized + books.held * price_now - books.cost  # the year adds up
    lines = (await year.say("/monthly 12")).lines
    assert lines[0].startswith("2024-12") and lines[-1].startswith("2024-01")
    assert lines[-1].endswith(f"P&L {cents(rows[0].pnl, 'USDT', signed=True)}")


async def test_a_bad_period_changes_nothing_and_says_what_would_be_right(year: Bot) -> None:
    for wrong in ("/profit yesterday", "/profit 0d", "/profit 99999d", "/monthly 100",
                  "/daily x"):
        reply = await year.say(wrong)
        assert reply.kind == "error" and len(reply.lines) == 2, (wrong, reply)


async def test_the_performance_chart_is_drawn_from_the_same_books(year: Bot) -> None:
    reply = await year.say("/profit chart")
    assert reply.image is not None and reply.image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    books = books_until(year.db, END + DAY)
    price = CANDLES[datetime(2024, 12, 31, tzinfo=UTC)].open
    worth = books.invested + books.realized + books.held * price - books.cost
    assert reply.lines == (f"Value {float(worth):,.2f} USDT for {float(books.invested):,.2f} "
                           "USDT invested.",)
    assert reply.footer == "Value at each daily close."  # real candles: not SIMULATED


async def test_a_chart_from_simulated_prices_says_so(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = datetime(2026, 11, 21, 9, tzinfo=UTC)
    bot = make_bot(make_settings(tmp_path), db, clock)  # the seeded simulated market
    assert (await bot.say("/profit chart")).kind == "error"  # nothing bought: nothing to draw
    await manual(bot, "/buy 100")
    reply = await bot.say("/profit chart")
    assert reply.image is not None and reply.footer == "SIMULATED prices."


def test_coins_sold_beyond_the_books_are_not_profit() -> None:
    """Average cost by hand: 0.01 BTC bought for 900; 0.03 BTC sold for 3,000 (two thirds of
    it deposited coins the books never saw bought)."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    bought = Trade(at, "BTC/USDT", "buy", Decimal("0.01"), Decimal(900), (), "buy_now")
    sold = Trade(at + DAY, "BTC/USDT", "sell", Decimal("0.03"), Decimal(3000),
                 (("USDT", Decimal(3), Decimal(3)),), "sell_now")
    books = books_of([bought, sold])
    assert books.realized == Decimal(2997) / 3 - 900  # the covered third of the proceeds
    assert books.uncosted == Decimal(2997) * 2 / 3
    assert books.positions["BTC/USDT"].held == 0 and books.fees["manual"] == 3
