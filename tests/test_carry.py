"""Small savers (issue 17): a scheduled amount below the exchange's minimum order is carried, not
refused, and bought at the first run where the carried total reaches the minimum; carried money
is set aside (no other order spends it), shown, and every scheduled cent is bought or carried."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.chat.roles import Role, User
from bot.engine import settlement, strategy_settings
from bot.engine.context import Engine
from bot.engine.dca_run import run_schedule
from bot.engine.errors import UserError
from bot.engine.orders import OrderRequest, place_order
from bot.engine.reserve import add_to_reserve, deploy_reserve
from bot.engine.schedules import add_schedule, change_schedule
from bot.engine.setup import open_engine
from bot.replay import replay
from storage import carry, ledger, orders, schedules
from storage.db import Database
from storage.models import (
    CarryEntry,
    Order,
    OutboxAlert,
    PaperBalance,
    PendingConfirmation,
    Schedule,
)
from tests.chat_harness import make_bot
from tests.conftest import Clock, make_settings
from tests.exchange_harness import adapter, engine_with, running
from tests.fakes.exchange import Fault
from tests.shared_data import BTC_DAILY, DATA_DIR, load_candles

ADMIN = User("telegram", "1", Role.ADMIN)
START = datetime(2025, 6, 1, tzinfo=UTC)


def binance_btc_rules() -> tuple[Decimal, Decimal]:
    """BTCUSDT's step and minimum order value, read from Binance's own exchangeInfo."""
    info = json.loads((DATA_DIR / "binance_exchange_info_subset.json").read_text())
    symbol = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in symbol["filters"]}
    return Decimal(filters["LOT_SIZE"]["stepSize"]), Decimal(filters["NOTIONAL"]["minNotional"])


def engine_for(tmp_path: Path, db: Database, clock: Clock, **extra: object) -> Engine:
    settings = make_settings(tmp_path, prices_csv=BTC_DAILY, **{
        "paper_start_balance": Decimal(1000), **extra})
    return open_engine(settings, clock=clock, db=db)


def open_price(day: datetime) -> Decimal:
    return next(c.open for c in load_candles(BTC_DAILY) if c.time == day)


def carried(db: Database) -> Decimal:
    with db.transaction() as session:
        return carry.total(session, "binance", "paper")


def spent(db: Database) -> list[Decimal]:
    with db.transaction() as session:
        return [o.filled_quote or Decimal(0) for o in session.scalars(
            select(Order).where(Order.status == "filled", Order.cause == "schedule")
            .order_by(Order.id))]


async def test_three_usdt_a_day_for_thirty_days_buys_whenever_the_carry_reaches_the_minimum(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    clock.now = START
    engine = engine_for(tmp_path, db, clock)
    view = await add_schedule(engine, "daily", "09:00", Decimal(3), None, "plain",
                              requested_by="t")
    step, minimum = binance_btc_rules()
    expected_carry, expected_buys = Decimal(0), []
    for n in range(30):
        day = START + timedelta(days=n)
        clock.now = due = day + timedelta(hours=9)
        result = await run_schedule(engine, view.id, due)
        assert result.status == "done", result
        # the model: this run's 3 and the carry, in whole steps at the day's open
        total, price = expected_carry + 3, open_price(day)
        amount = (total / price / step).to_integral_value(ROUND_DOWN) * step
        if amount * price >= minimum:
            expected_buys.append(amount * price)
            expected_carry = total - amount * price
            assert result.outcome == "buy filled", (n, result)
        else:
            expected_carry = total
            assert result.outcome.startswith("carried 3"), (n, result)
        assert carried(db) == expected_carry, n
    assert spent(db) == expected_buys and len(expected_buys) >= 10
    assert sum(expected_buys, Decimal(0)) + carried(db) == 90  # every cent bought or carried
    with db.transaction() as session:
        alerts = list(session.scalars(select(OutboxAlert.kind)))
    assert alerts.count("dca_carried") == 30 - len(expected_buys)
    assert alerts.count("dca_bought") == len(expected_buys)
    assert "below_minimum" not in alerts


async def test_the_replay_of_a_small_daily_schedule_adds_up(tmp_path: Path) -> None:
    summary = await replay(BTC_DAILY, "daily 09:00 3", date(2025, 6, 1), date(2025, 6, 30),
                           work_dir=tmp_path, strategy="dca")
    assert summary.runs == 30
    assert summary.alerts["dca_carried"] + summary.alerts["dca_bought"] == 30
    assert summary.alerts["dca_carried"] >= 10 and "below_minimum" not in summary.alerts
    assert summary.invested == 90  # what was carried counts once, when it was carried
    assert 0 <= summary.carried < 5


async def test_carried_money_is_set_aside_shown_and_freed_when_the_schedule_goes(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    clock.now = START
    bot = make_bot(make_settings(tmp_path, prices_csv=BTC_DAILY,
                                 paper_start_balance=Decimal(10)), db, clock)
    added = await bot.say("/schedule add daily 09:00 2 plain")
    assert added.title == "Schedule added", added
    assert any("below binance's minimum order of 5.00 USDT" in line for line in added.lines)
    engine = bot.services.engine
    for n in range(2):
        clock.now = due = START + timedelta(days=n, hours=9)
        assert (await run_schedule(engine, 1, due)).outcome.startswith("carried 2")
    status = {f.label: f.value for f in (await bot.say("/status")).fields}
    assert status["Carried"].startswith("4.00 USDT") and status["USDT free"] == "6.00 USDT"
    refused = await bot.say("/buy 7")
    assert refused.kind == "error" and "4 carried by small schedules" in " ".join(refused.lines)
    listed = " ".join(f.value for f in (await bot.say("/schedule")).fields)
    assert "(carried 4.00 USDT)" in listed
    coming = " ".join((await bot.say("/schedule next 2")).lines)
    assert "+ carried 4.00 USDT" in coming
    removed = await bot.say("/schedule remove 1")
    assert removed.kind == "schedules", removed
    assert carried(db) == 0
    with db.transaction() as session:
        reasons = list(session.scalars(select(CarryEntry.reason).order_by(CarryEntry.id)))
    assert reasons == ["carried", "carried", "carry_released"]
    status = {f.label: f.value for f in (await bot.say("/status")).fields}
    assert "Carried" not in status and status["USDT free"] == "10.00 USDT"


async def test_an_order_that_spends_the_carry_and_is_refused_gives_it_back(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    """Through ccxt against the fake Binance: the run that spends the carry is refused by the
    exchange (-2010, as Binance answers a balance it cannot take); its carry is carried again,
    and the next run buys it."""
    with running("binance") as fake:
        exchange = adapter(fake, clock)
        engine = engine_with(tmp_path, db, fake, exchange, clock)
        clock.now = START
        view = await add_schedule(engine, "daily", "09:00", Decimal(3), None, "plain",
                                  requested_by="t")
        outcomes = []
        for n in range(3):
            if n == 1:
                fake.inject(fake.order_endpoint, Fault.reject(-2010))
            clock.now = due = START + timedelta(days=n, hours=9)
            outcomes.append((await run_schedule(engine, view.id, due)).outcome)
        await exchange.close()
    assert outcomes[0].startswith("carried 3") and outcomes[2] == "buy filled", outcomes
    assert fake.order_posts == 2  # the refused one and the one that filled
    with db.transaction() as session:
        reasons = list(session.scalars(select(CarryEntry.reason).order_by(CarryEntry.id)))
        bought = session.scalars(select(Order).where(Order.status == "filled")).one()
    assert reasons[:4] == ["carried", "carry_spent", "carry_returned", "carry_spent"], reasons
    assert bought.requested_quote == 6  # the 3 carried since the first run, and the third's 3
    with db.transaction() as session:
        left = carry.total(session, "binance", "live")
    assert (bought.filled_quote or 0) + left == 6  # the refused run's 3 stayed free money


async def test_with_carry_off_a_small_schedule_is_refused_as_before(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    engine = engine_for(tmp_path, db, clock, carry="off")
    with pytest.raises(UserError, match="needs at least 5 USDT"):
        await add_schedule(engine, "daily", "09:00", Decimal(3), None, "plain",
                           requested_by="t")


# --- what a review found: the carry stays exact around removals, caps, modes and refusals -----


async def carrying_engine(tmp_path: Path, db: Database, clock: Clock, **extra: object
                          ) -> tuple[Engine, int]:
    """A 3 USDT daily schedule whose first run carried 3."""
    clock.now = START
    engine = engine_for(tmp_path, db, clock, **extra)
    view = await add_schedule(engine, "daily", "09:00", Decimal(3), None, "plain",
                              requested_by="t")
    clock.now = due = START + timedelta(hours=9)
    assert (await run_schedule(engine, view.id, due)).outcome.startswith("carried 3")
    return engine, view.id


async def test_a_refund_after_the_schedule_was_removed_is_free_money_not_carry(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    engine, schedule_id = await carrying_engine(tmp_path, db, clock)
    with db.transaction() as session:  # a buy that took the carry is in flight
        due = START + timedelta(days=1, hours=9)
        schedules.claim_run(session, schedule_id, f"schedule:{schedule_id}:2025-06-02T09:00Z",
                            due, clock())
        order = orders.write_intent(
            session, client_order_id="dcx1", cause="schedule",
            cause_key=f"schedule:{schedule_id}:2025-06-02T09:00Z#1", side="buy",
            symbol="BTC/USDT", exchange="binance", mode="paper", requested_quote=Decimal(6),
            requested_base=None, requested_by=None, now=clock())
        carry.append(session, exchange="binance", mode="paper", schedule_id=schedule_id,
                     amount=Decimal(-3), reason=carry.SPENT, order_id=order.id, now=clock())
    change_schedule(engine, schedule_id, "remove", requested_by="t")
    with db.transaction() as session:  # then it proves never placed
        order = session.scalars(select(Order)).one()
        order.status = orders.FAILED
        settlement.on_failure(session, order, "never placed", clock())
    assert carried(db) == 0  # nothing is carried for a schedule that is gone


async def test_a_buy_planned_with_a_carry_freed_meanwhile_sends_nothing(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    engine, schedule_id = await carrying_engine(tmp_path, db, clock)
    change_schedule(engine, schedule_id, "remove", requested_by="t")
    request = OrderRequest(cause="schedule", cause_key=f"schedule:{schedule_id}:x#1",
                           side="buy", quote_amount=Decimal(6), from_carry=Decimal(3),
                           carry_of=schedule_id)
    with pytest.raises(UserError, match="carry of schedule"):
        await place_order(engine, request)
    assert spent(db) == [] and carried(db) == 0


async def test_a_cap_below_the_minimum_is_said_not_carried_forever(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    clock.now = START
    engine = engine_for(tmp_path, db, clock)
    view = await add_schedule(engine, "daily", "09:00", Decimal(3), None, "plain",
                              requested_by="t")
    await db.run(strategy_settings.update, engine, order_cap=Decimal(4))
    clock.now = due = START + timedelta(hours=9)
    result = await run_schedule(engine, view.id, due)
    assert result.outcome.startswith("skipped: the per-order cap of 4 USDT on binance is below")
    assert carried(db) == 0


async def test_a_deploy_never_spends_the_carry(tmp_path: Path, db: Database,
                                               clock: Clock) -> None:
    engine, _ = await carrying_engine(tmp_path, db, clock, paper_start_balance=Decimal(10))
    await add_to_reserve(engine, Decimal(7), requested_by="t")  # 10 - 3 carried: all free
    with db.transaction() as session:  # the owner withdrew 4 USDT on the exchange
        for row in session.scalars(select(PaperBalance).where(PaperBalance.asset == "USDT")):
            row.free = Decimal(6)
    with pytest.raises(UserError, match="cannot spend 7"):
        await deploy_reserve(engine, cause="deploy", cause_key="d1", requested_by="t")
    assert carried(db) == 3


async def test_a_confirmation_asked_in_paper_is_refused_in_another_mode(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    bot = make_bot(make_settings(tmp_path), db, clock)
    asked = await bot.say("/buy 50")
    with db.transaction() as session:  # as if asked when the bot traded live
        row = session.get(PendingConfirmation, asked.confirm_token)
        assert row is not None and json.loads(row.params)["mode"] == "paper"
        row.params = json.dumps({**json.loads(row.params), "mode": "live"})
    answer = await bot.registry.confirm(bot.services, ADMIN, str(asked.confirm_token),
                                        accept=True)
    assert "asked in live mode and binance now trades paper" in " ".join(answer.lines)
    assert spent(db) == []


def plain_daily(session: Session, amount: Decimal, clock: Clock) -> Schedule:
    """A plain 09:00 daily schedule on paper Binance, written straight to the books."""
    schedule = Schedule(days="daily", local_time="09:00", amount=amount, exchange="binance",
                        mode="plain", paused=False, removed=False, created_at=clock())
    session.add(schedule)
    session.flush()
    return schedule


def test_a_late_fill_after_its_carry_was_spent_again_is_told(
    db: Database, clock: Clock
) -> None:
    with db.transaction() as session:
        schedule = plain_daily(session, Decimal(3), clock)
        order = orders.write_intent(
            session, client_order_id="dcx2", cause="schedule", cause_key="schedule:1:x#1",
            side="buy", symbol="BTC/USDT", exchange="binance", mode="paper",
            requested_quote=Decimal(6), requested_base=None, requested_by=None, now=clock())
        for amount, reason, order_id in ((3, carry.CARRIED, None), (-3, carry.SPENT, order.id),
                                         (3, carry.RETURNED, order.id),  # "never placed"
                                         (-3, carry.SPENT, None)):  # spent by the next run
            carry.append(session, exchange="binance", mode="paper", schedule_id=schedule.id,
                         amount=Decimal(amount), reason=reason, order_id=order_id, now=clock())
        settlement.undo_failure(session, order, clock())  # nothing carried is left to take
        kinds = list(session.scalars(select(OutboxAlert.kind)))
    assert kinds == ["task_failed"]


async def test_removing_a_schedule_while_its_buy_is_written_does_not_deadlock(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    """An intent locks the account, then the schedule's row; a removal must take them in the
    same order (on PostgreSQL the other order deadlocked)."""
    import threading
    import time

    engine, schedule_id = await carrying_engine(tmp_path, db, clock)
    account_locked, errors = threading.Event(), []

    def intent_like() -> None:  # what `_write_intent` does for a buy spending the carry
        try:
            with db.transaction() as session:
                ledger.account(session, "binance", "paper", clock())
                account_locked.set()
                time.sleep(0.5)
                carry.schedule_active(session, schedule_id)
        except Exception as exc:
            errors.append(exc)

    def removal() -> None:
        account_locked.wait(5)
        try:
            change_schedule(engine, schedule_id, "remove", requested_by="t")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=intent_like), threading.Thread(target=removal)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert carried(db) == 0  # removed after the intent's transaction, its carry freed


async def test_a_run_waiting_to_retry_when_its_schedule_goes_ends_with_an_outcome(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    clock.now = START
    engine = engine_for(tmp_path, db, clock)
    view = await add_schedule(engine, "daily", "09:00", Decimal(50), None, "plain",
                              requested_by="t")
    due = START + timedelta(hours=9)
    key = f"schedule:{view.id}:2025-06-01T09:00Z"
    with db.transaction() as session:  # the exchange was down: the run waits to be retried
        schedules.claim_run(session, view.id, key, due, clock())
        schedules.retry_at(session, key, due, "binance unreachable")
    change_schedule(engine, view.id, "remove", requested_by="t")
    clock.now = due
    result = await run_schedule(engine, view.id, due, resume=True)
    assert result.outcome == "skipped: the schedule was removed or paused"
    with db.transaction() as session:
        run = schedules.by_key(session, key)
        kinds = list(session.scalars(select(OutboxAlert.kind)))
    assert run is not None and run.status == schedules.DONE and "order_failed" in kinds


def test_a_plain_buy_refused_as_below_the_minimum_is_carried(
    db: Database, clock: Clock
) -> None:
    with db.transaction() as session:
        schedule = plain_daily(session, Decimal(6), clock)
        key = f"schedule:{schedule.id}:2025-06-01T09:00Z"
        schedules.claim_run(session, schedule.id, key, clock(), clock())
        order = orders.write_intent(
            session, client_order_id="dcx3", cause="schedule", cause_key=f"{key}#1",
            side="buy", symbol="BTC/USDT", exchange="binance", mode="paper",
            requested_quote=Decimal(6), requested_base=None, requested_by=None, now=clock())
        order.status = orders.REJECTED  # the price fell under the step since it was planned
        assert settlement.on_failure(session, order, "needs at least 5 USDT", clock(),
                                     below_minimum=True)
        assert carry.total(session, "binance", "paper") == 6
        run = schedules.by_key(session, key)
        assert run is not None and run.outcome.startswith("carried 6")

