"""Binance and OKX side by side in paper mode: split schedules, each exchange's own market rules,
/status per exchange with a total that adds up, and flips that act per exchange and per policy."""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from bot.cards.alerts import alert_card
from bot.cards.reply import Reply
from bot.chat.roles import Role, User
from bot.engine.dca_run import run_schedule
from bot.engine.errors import UserError
from bot.engine.reserve import add_to_reserve, deploy_reserve
from bot.engine.setup import open_accounts
from bot.engine.trend_watch import act_on_flips
from bot.exchanges.markets import snapshot_rules
from bot.scheduler import DcaScheduler
from storage import ledger, outbox
from storage.db import Database
from storage.migrate import upgrade
from storage.models import FlipEvent, Order, OutboxAlert, ReserveEntry, Schedule
from strategies.cdc import Trend, cdc_series, trend_flips
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings
from tests.shared_data import BTC_DAILY, load_candles

START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday inside the shipped candles
ADMIN = User("telegram", "1", Role.ADMIN)
NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def two_exchange_bot(tmp_path: Path, db: Database, clock: Clock) -> Bot:
    settings = make_settings(tmp_path, exchanges="binance,okx", prices_csv=BTC_DAILY,
                             paper_start_balance=Decimal(100_000))
    return make_bot(settings, db, clock)


def text_of(reply: Reply) -> str:
    return "\n".join([reply.title, *(f"{f.label}: {f.value}" for f in reply.fields),
                      *reply.lines, reply.footer])


def money(text: str) -> Decimal:
    return Decimal(re.sub(r"[^\d.\-]", "", text.split(" USDT")[0]))


def legs(db: Database) -> list[Schedule]:
    with db.transaction() as session:
        return list(session.scalars(select(Schedule).order_by(Schedule.id)))


def orders_by_exchange(db: Database, *causes: str) -> dict[str, list[Order]]:
    found: dict[str, list[Order]] = {}
    with db.transaction() as session:
        for order in session.scalars(select(Order).where(Order.cause.in_(causes))):
            found.setdefault(order.exchange, []).append(order)
    return found


async def confirmed(bot: Bot, command: str) -> Reply:
    ask = await bot.say(command)
    assert ask.confirm_token, text_of(ask)
    done = await bot.registry.confirm(bot.services, ADMIN, ask.confirm_token, accept=True)
    assert done.title.startswith("Bought"), text_of(done)
    return done


async def run_due(bot: Bot, due: datetime) -> None:
    """What the scheduler does at `due`: each leg on its own exchange's engine."""
    for leg in legs(bot.db):
        await run_schedule(bot.services.accounts.on(leg.exchange), leg.id, due)


async def test_a_both_schedule_buys_once_on_each_exchange_by_its_own_rules(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = START
    bot = two_exchange_bot(tmp_path, db, clock)
    added = await bot.say("/schedule add mon 07:00 100 both plain")
    assert added.title == "Schedule added", text_of(added)
    assert "binance 50.00 USDT (#1) + okx 50.00 USDT (#2)" in text_of(added)
    first, second = legs(db)
    assert (first.exchange, first.amount, second.exchange, second.amount) == (
        "binance", Decimal(50), "okx", Decimal(50))
    assert first.leg_of == second.leg_of == first.id
    due = START + timedelta(hours=7)
    clock.now = due
    await run_due(bot, due)
    await run_due(bot, due)  # a second firing of the same due time buys nothing more
    bought = orders_by_exchange(db, "schedule")
    assert sorted(bought) == ["binance", "okx"]
    for exchange, placed in bought.items():
        assert len(placed) == 1 and placed[0].status == "filled", exchange
        rules = snapshot_rules(exchange, "BTC/USDT")
        assert rules is not None
        amount = placed[0].filled_base or Decimal(0)
        assert amount > 0 and amount % rules.amount_step == 0, (exchange, amount)
        assert placed[0].filled_quote is not None and placed[0].filled_quote <= Decimal(50)
    # OKX's finer step buys closer to 50 than Binance's 0.00001 BTC step can
    assert bought["okx"][0].filled_base != bought["binance"][0].filled_base
    listing = text_of(await bot.say("/schedule"))
    assert f"#{first.id} mon 07:00" in listing
    assert f"binance 50.00 USDT (#{first.id}) + okx 50.00 USDT (#{second.id})" in listing
    one_leg = await bot.say(f"/schedule pause {first.id} okx")  # the okx leg only
    assert [leg.paused for leg in legs(db)] == [False, True], text_of(one_leg)
    assert f"okx 50.00 USDT (#{second.id}, paused)" in text_of(one_leg)
    paused = await bot.say(f"/schedule pause {first.id}")
    assert all(leg.paused for leg in legs(db)), text_of(paused)
    nothing = await bot.say(f"/schedule remove {first.id} kraken")
    assert nothing.kind == "error" and "buys nothing on kraken" in text_of(nothing)


async def test_amounts_per_exchange_and_each_markets_own_minimum(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = START
    bot = two_exchange_bot(tmp_path, db, clock)
    added = await bot.say("/schedule add mon 07:30 binance=60,okx=40")
    assert [(leg.exchange, leg.amount, leg.mode) for leg in legs(db)] == [
        ("binance", Decimal(60), "cdc"), ("okx", Decimal(40), "cdc")], text_of(added)
    # Binance needs 5 USDT an order; OKX a minimum size of 0.00001 BTC: paper says so as live would
    # (an s4 schedule: cdc and plain ones carry a small amount until it reaches the minimum)
    below = await bot.say("/schedule add mon 08:00 binance=4,okx=4 s4")
    assert below.kind == "error" and "binance" in text_of(below) and "5" in text_of(below)
    assert len(legs(db)) == 2  # nothing of the refused schedule was written
    assert (await bot.say("/buy 4 okx")).kind == "buy_confirm"
    assert (await bot.say("/buy 4 binance")).kind == "error"
    for wrong, says in [
        ("/schedule add mon 07:00 kraken=10", "not an exchange this bot trades on"),
        ("/schedule add mon 07:00 binance=10,binance=5", "named twice"),
        ("/schedule add mon 07:00 binance=10 okx", "not a mode"),
        ("/schedule add mon 07:00 binance=10 okx plain", "Amounts per exchange name"),
        ("/buy 50 kraken", "binance or okx"),
    ]:
        reply = await bot.say(wrong)
        assert reply.kind == "error" and says in text_of(reply), (wrong, text_of(reply))
    assert len(legs(db)) == 2


async def test_status_shows_each_exchange_and_a_total_that_adds_up_exactly(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = START
    bot = two_exchange_bot(tmp_path, db, clock)
    for command in ("/buy 1234.56 binance", "/buy 777.77 okx"):
        await confirmed(bot, command)
    assert (await bot.say("/reserve add 100 okx")).title == "Added to the reserve"
    card = await bot.say("/status")
    fields = {f.label: f.value for f in card.fields}
    values = [money(fields[f"{name} value"]) for name in ("binance", "okx")]
    assert money(fields["Total value"]) == sum(values)
    assert fields["Total unrealized P&L"].endswith("USDT")
    frees = [money(fields[f"{name} USDT"].split("free ")[1]) for name in ("binance", "okx")]
    reserves = [money(fields[f"{name} USDT"].split("reserve ")[1]) for name in ("binance", "okx")]
    assert money(fields["Total USDT free"]) == sum(frees)
    assert reserves == [Decimal(0), Decimal(100)] and money(fields["Total reserve"]) == 100
    held = [Decimal(fields[f"{name} paper"].split(" BTC")[0]) for name in ("binance", "okx")]
    assert Decimal(fields["Total BTC"].split(" BTC")[0]) == sum(held) > 0
    history = text_of(await bot.say("/history"))
    assert "[binance paper]" in history and "[okx paper]" in history


def flip_after(day: datetime, trend: Trend) -> datetime:
    flips = trend_flips(cdc_series(list(load_candles(BTC_DAILY))))
    return next(f.time for f in flips if f.time > day and f.trend is trend)


def reserves(db: Database) -> dict[str, Decimal]:
    with db.transaction() as session:
        found = {}
        for name in ("binance", "okx"):
            found[name] = ledger.balance(session, name, "paper")
            assert found[name] == ledger.ledger_sum(session, name, "paper")
        return found


async def flip_watch(bot: Bot) -> None:
    """The daily trend watch: the trend's own exchange first, then the others."""
    for engine in sorted(bot.services.accounts, key=lambda e: e.trend_source is not None):
        await act_on_flips(engine)


async def test_flips_act_per_exchange_and_by_the_policy(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    red = flip_after(START, Trend.DOWN)
    green = flip_after(red, Trend.UP)
    clock.now = red - timedelta(days=2)  # no flip between the baseline and the red one
    bot = two_exchange_bot(tmp_path, db, clock)
    await flip_watch(bot)  # the baselines
    for command in ("/buy 2000 binance", "/buy 1000 okx"):
        await confirmed(bot, command)
    assert "25%" in text_of(await bot.say("/strategy sell 25 okx"))
    balances = {e.exchange.name: await e.exchange.balances() for e in bot.services.accounts}
    clock.now = red + timedelta(days=1, minutes=5)
    await flip_watch(bot)
    sold = orders_by_exchange(db, "flip_sell")
    for name, percent in (("binance", 50), ("okx", 25)):
        (order,) = sold[name]
        wanted = balances[name]["BTC"] * percent / 100
        got = order.filled_base or Decimal(0)
        assert order.status == "filled" and wanted - Decimal("0.00001") < got <= wanted
    after_red = reserves(db)
    assert after_red["binance"] > 0 and after_red["okx"] > 0
    assert after_red["binance"] > after_red["okx"]  # half of 2000 against a quarter of 1000
    with db.transaction() as session:
        told = list(session.scalars(
            select(OutboxAlert.kind).where(OutboxAlert.kind == "trend_flip")))
    assert told == ["trend_flip"]  # one flip, told once, though two exchanges acted on it
    clock.now = green + timedelta(days=1, minutes=5)
    await flip_watch(bot)  # auto: each deploys its own reserve on its own exchange
    deployed = orders_by_exchange(db, "flip_buy")
    assert sorted(deployed) == ["binance", "okx"]
    for name in ("binance", "okx"):
        (order,) = deployed[name]
        assert order.status == "filled"
        assert after_red[name] - Decimal(1) < (order.filled_quote or 0) <= after_red[name]
    after_green = reserves(db)
    assert all(left < Decimal(1) for left in after_green.values())  # what the step left
    policy = await bot.say("/strategy policy binance")
    assert "binance sells on red and deploys on green" in text_of(policy)
    red_again = flip_after(green, Trend.DOWN)
    clock.now = red_again + timedelta(days=1, minutes=5)
    await flip_watch(bot)
    sold = orders_by_exchange(db, "flip_sell")
    assert (len(sold["binance"]), len(sold["okx"])) == (2, 1)  # okx did not act this time
    assert reserves(db)["okx"] == after_green["okx"]
    with db.transaction() as session:
        okx_flip = session.scalars(select(FlipEvent).where(
            FlipEvent.exchange == "okx", FlipEvent.candle_time == red_again)).one()
        reasons = [a.payload for a in session.scalars(
            select(OutboxAlert).where(OutboxAlert.kind == "flip_not_acted"))]
    assert okx_flip.status == "done" and "policy binance" in okx_flip.outcome
    assert any("okx reserve stays" in payload for payload in reasons)


def test_twenty_reserve_commands_at_once_keep_each_exchanges_ledger_whole(
        database_url: str, tmp_path: Path) -> None:
    """Adds and deploys on both exchanges at once, each thread its own engines and connections
    (as separate workers would): per exchange the ledger sums to the recorded reserve, it never
    dipped below zero in commit order, and a deploy spent only its own exchange's reserve."""
    settings = make_settings(tmp_path, database_url=database_url, exchanges="binance,okx",
                             paper_start_balance=Decimal(100_000))
    setup = Database(database_url)
    upgrade(setup)
    first = open_accounts(settings, clock=Clock(NOW), db=setup)
    for engine in first:
        asyncio.run(add_to_reserve(engine, Decimal(500), requested_by="t"))
    outcomes: list[tuple[str, str]] = []
    barrier = threading.Barrier(20)

    def worker(index: int) -> None:
        db = Database(database_url)
        accounts = open_accounts(settings, clock=Clock(NOW), db=db)
        engine = accounts.on("okx" if index % 4 >= 2 else "binance")

        async def act() -> str:
            barrier.wait()
            try:
                if index % 2:
                    await add_to_reserve(engine, Decimal(70), requested_by=f"t{index}")
                    return "added"
                outcome = await deploy_reserve(engine, cause="deploy", cause_key=f"k{index}",
                                               requested_by=f"t{index}")
                return f"deploy {outcome.status}"
            except UserError as exc:
                return f"refused: {exc}"

        outcomes.append((engine.exchange.name, asyncio.run(act())))
        db.dispose()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 20
    with setup.transaction() as session:
        for name in ("binance", "okx"):
            mine = [what for exchange, what in outcomes if exchange == name]
            assert mine.count("added") == 5
            recorded = ledger.balance(session, name, "paper")
            assert recorded == ledger.ledger_sum(session, name, "paper") >= 0
            running = Decimal(0)
            for amount in session.scalars(select(ReserveEntry.amount).where(
                    ReserveEntry.exchange == name).order_by(ReserveEntry.id)):
                running += amount
                assert running >= 0, name
            filled = session.scalars(select(Order).where(
                Order.exchange == name, Order.cause == "deploy", Order.status == "filled")).all()
            assert len(filled) == mine.count("deploy filled") >= 1
            spent = sum((o.filled_quote or Decimal(0) for o in filled), Decimal(0))
            assert spent <= Decimal(500 + 5 * 70)  # never more than this exchange's reserve
    setup.dispose()


async def test_a_cap_is_its_exchanges_own_and_off_clears_it(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = START
    bot = two_exchange_bot(tmp_path, db, clock)
    assert "200.00 USDT" in text_of(await bot.say("/strategy cap okx 200"))
    refused = await bot.say("/buy 300 okx")
    assert refused.kind == "error" and "cap" in text_of(refused), text_of(refused)
    await confirmed(bot, "/buy 300 binance")  # Binance has no cap
    added = await bot.say("/schedule add mon 07:00 binance=300,okx=300 plain")
    assert added.kind == "error" and "okx" in text_of(added) and not legs(db)
    await bot.say("/reserve add 450 okx")
    ask = await bot.say("/reserve deploy okx")
    assert "250.00 USDT stays in the reserve" in text_of(ask), text_of(ask)
    await bot.registry.confirm(bot.services, ADMIN, ask.confirm_token or "", accept=True)
    assert Decimal(250) <= reserves(db)["okx"] < Decimal(251)  # plus what the step left
    assert "none" in text_of(await bot.say("/strategy cap okx off"))
    await confirmed(bot, "/buy 300 okx")


async def test_a_schedule_on_an_exchange_no_longer_traded_is_told_once_and_removable_alone(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = START
    both = two_exchange_bot(tmp_path, db, clock)
    await both.say("/schedule add mon 07:00 binance=60,okx=40 plain")
    first, second = legs(db)
    await both.services.accounts.close()
    binance_only = make_bot(make_settings(tmp_path, exchanges="binance", prices_csv=BTC_DAILY),
                            db, clock)
    scheduler = DcaScheduler(binance_only.services.accounts)
    await scheduler.rebuild()
    await scheduler.rebuild()  # the minute's settling rebuilds too: still told once
    with db.transaction() as session:
        told = [a.payload for a in session.scalars(
            select(OutboxAlert).where(OutboxAlert.kind == "task_failed"))]
    assert len(told) == 1 and f"schedule #{first.id} buys on okx" in told[0]
    assert f"/schedule remove {first.id} okx" in told[0]
    removed = await binance_only.say(f"/schedule remove {first.id} okx")
    assert removed.title == f"Schedule #{first.id} removed on okx", text_of(removed)
    assert [(leg.exchange, leg.removed) for leg in legs(db)] == [("binance", False),
                                                                 ("okx", True)]
    assert removed.fields[0].value.startswith("60.00 USDT · plain · binance"), text_of(removed)
    assert len(removed.fields) == 1 and second.exchange == "okx"


async def test_a_policy_naming_an_exchange_no_longer_traded_is_auto(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    red = flip_after(START, Trend.DOWN)
    clock.now = red - timedelta(days=2)
    both = two_exchange_bot(tmp_path, db, clock)
    await both.say("/strategy policy okx")
    await both.services.accounts.close()
    alone = make_bot(make_settings(tmp_path, exchanges="binance", prices_csv=BTC_DAILY,
                                   paper_start_balance=Decimal(100_000)), db, clock)
    await flip_watch(alone)
    await confirmed(alone, "/buy 1000")
    clock.now = red + timedelta(days=1, minutes=5)
    await flip_watch(alone)  # policy okx, but okx is not traded: binance acts as under auto
    assert [o.status for o in orders_by_exchange(db, "flip_sell")["binance"]] == ["filled"]


async def test_a_label_names_every_leg_and_the_run_alerts(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = START
    bot = two_exchange_bot(tmp_path, db, clock)
    await bot.say("/schedule add mon 07:00 100 both plain")
    first, _ = legs(db)
    named = await bot.say(f"/schedule label {first.id} Payday")
    assert named.fields[0].label == f"#{first.id} Payday: mon 07:00", text_of(named)
    assert [leg.label for leg in legs(db)] == ["Payday", "Payday"]
    too_long = await bot.say(f"/schedule label {first.id} {'x' * 41}")
    assert too_long.kind == "error" and "at most 40" in text_of(too_long)
    due = START + timedelta(hours=7)
    clock.now = due
    await run_due(bot, due)
    with db.transaction() as session:
        bought = [outbox.payload_of(a) for a in session.scalars(
            select(OutboxAlert).where(OutboxAlert.kind == "dca_bought"))]
    assert sorted(p["exchange"] for p in bought) == ["binance", "okx"]
    assert {(p["schedule_id"], p["schedule_label"]) for p in bought} == {(first.id, "Payday")}
    card = alert_card("dca_bought", bought[0], bot.services.engine.settings.zone)
    assert {f.label: f.value for f in card.fields}["Schedule"] == f"#{first.id} Payday"
    await bot.say(f"/schedule label {first.id}")  # no name: the label is cleared
    assert [leg.label for leg in legs(db)] == [None, None]
