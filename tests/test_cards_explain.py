"""Cards that explain themselves: a real scheduled buy's alert says when, where, why, under
which trend and where things stand after it; each money move has its own style; sell and
deploy confirmations show price, amounts, fee and when they expire; money is shown one way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from bot.cards.alerts import alert_card
from bot.cards.line_flex import TONE_COLOURS, flex_bubble
from bot.cards.reply import Tone
from bot.cards.telegram_html import render_html
from bot.chat.roles import Role, User
from bot.engine.dca_run import run_schedule
from bot.engine.trend_watch import act_on_flips
from storage import outbox
from storage.db import Database
from storage.models import OutboxAlert
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings
from tests.shared_data import BTC_DAILY

MONDAY = datetime(2025, 1, 6, tzinfo=UTC)  # the trend is up on the shipped candles
ADMIN = User("telegram", "1", Role.ADMIN)


def bangkok(tmp_path: Path, db: Database, clock: Clock) -> Bot:
    return make_bot(make_settings(tmp_path, prices_csv=BTC_DAILY, timezone="Asia/Bangkok",
                                  paper_start_balance=Decimal(10_000)), db, clock)


def cards(bot: Bot, kind: str) -> list[dict[str, str]]:
    with bot.db.transaction() as session:
        payloads = [outbox.payload_of(a) for a in session.scalars(
            select(OutboxAlert).where(OutboxAlert.kind == kind).order_by(OutboxAlert.id))]
    zone = bot.services.engine.settings.zone
    return [{f.label: f.value for f in alert_card(kind, p, zone).fields} for p in payloads]


async def test_a_scheduled_buy_says_when_where_why_and_what_is_held_after(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = MONDAY
    bot = bangkok(tmp_path, db, clock)
    engine = bot.services.engine
    await act_on_flips(engine)
    await bot.say("/schedule add mon 07:00 100")
    await bot.say("/schedule label 1 Payday")
    await bot.say("/reserve add 40")
    await run_schedule(engine, 1, MONDAY)
    (card,) = cards(bot, "dca_bought")
    assert card["When"] == "2025-01-06 07:00 +07"
    assert card["Where"] == "PAPER · binance"
    assert card["Schedule"] == "#1 Payday"
    assert card["Why"].startswith("cdc schedule: buys while the trend is up")
    assert card["Trend"].startswith("up, green zone: EMA12 ") and "above EMA26" in card["Trend"]
    assert card["Trend"].endswith("(daily candle 2025-01-05)")
    balances = await engine.exchange.balances()
    assert card["BTC now"] == f"{balances['BTC']:.8f} BTC (the bot's books)"
    assert card["Reserve now"] == "40.00 USDT"
    assert card["Cost"].endswith(" USDT") and len(card["Cost"].split()[0].split(".")[1]) == 2


async def test_each_money_move_has_its_own_style(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = MONDAY
    bot = bangkok(tmp_path, db, clock)
    zone = bot.services.engine.settings.zone
    fill = {"side": "buy", "symbol": "BTC/USDT", "amount": "0.001", "cost": "95",
            "price": "95000", "fee": "0.000001", "fee_asset": "BTC", "mode": "live",
            "exchange": "okx"}
    tones = {
        "dca_bought": alert_card("dca_bought", fill, zone).tone,
        "sold_on_red": alert_card("sold_on_red", {**fill, "side": "sell"}, zone).tone,
        "reserve_deployed": alert_card("reserve_deployed", fill, zone).tone,
        "dca_reserved": alert_card("dca_reserved", {"amount": "50", "trend": "down"}, zone).tone,
    }
    assert tones == {"dca_bought": Tone.SUCCESS, "sold_on_red": Tone.SELL,
                     "reserve_deployed": Tone.DEPLOY, "dca_reserved": Tone.SAVE}
    sold = alert_card("sold_on_red", {**fill, "side": "sell"}, zone)
    assert flex_bubble(sold)["header"]["backgroundColor"] == TONE_COLOURS[Tone.SELL]
    assert render_html(sold)[0].startswith("🔻 <b>Trend turned red: sold")
    assert {f.label: f.value for f in sold.fields}["Where"] == "live · okx"  # real money: plain


async def test_sell_and_deploy_confirmations_show_price_amounts_fee_and_expiry(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = MONDAY + timedelta(hours=2)
    bot = bangkok(tmp_path, db, clock)
    ask = await bot.say("/buy 1000")
    await bot.registry.confirm(bot.services, ADMIN, ask.confirm_token or "", accept=True)
    await bot.say("/reserve add 300")
    price = (await bot.services.engine.exchange.price("BTC/USDT")).price
    sell = await bot.say("/sell 50")
    rows = {f.label: f.value for f in sell.fields}
    held = (await bot.services.engine.exchange.balances())["BTC"]
    assert rows["Price now"] == f"{price:,.2f} USDT"
    assert rows["Proceeds about"] == f"{held / 2 * price:,.2f} USDT"
    assert rows["Fee about"] == f"{held / 2 * price * Decimal('0.001'):,.2f} USDT"
    assert sell.footer == "Confirm within 60 s (by 09:01:00 +07); it works once."
    deploy = await bot.say("/reserve deploy")
    rows = {f.label: f.value for f in deploy.fields}
    assert rows["Spends"] == "300.00 USDT" and rows["Fee about"] == "0.30 USDT"
    assert rows["You get about"] == f"{Decimal(300) / price * Decimal('0.999'):.8f} BTC"
    assert deploy.footer.startswith("Confirm within 60 s")
    done = await bot.registry.confirm(bot.services, ADMIN, deploy.confirm_token or "",
                                                   accept=True)
    assert all("stays in your USDT balance" not in line for line in done.lines)


async def test_a_flip_card_says_why_the_trend_turned(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = datetime(2025, 1, 7, tzinfo=UTC)  # the baseline: the last closed day is 01-06
    bot = bangkok(tmp_path, db, clock)
    await act_on_flips(bot.services.engine)
    clock.now = datetime(2025, 1, 10, 0, 5, tzinfo=UTC)  # the 01-09 candle turned it red
    await act_on_flips(bot.services.engine)
    (card,) = cards(bot, "trend_flip")
    assert card["Why"].startswith("down, red zone: EMA12 ") and "below EMA26" in card["Why"]


async def test_values_also_in_the_owners_money_say_where_the_rate_came_from(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = MONDAY
    settings = make_settings(tmp_path, prices_csv=BTC_DAILY, display_fiat="THB",
                             fiat_rate=Decimal("36.5"), fiat_market="USDT/THB")
    bot = make_bot(settings, db, clock)
    fields = {f.label: f.value for f in (await bot.say("/status")).fields}
    value = Decimal(fields["Value"].split()[0].replace(",", ""))
    # the paper market has no USDT/THB: the fixed rate is used, and says so
    assert fields["Value in THB"] == (
        f"≈ {value * Decimal('36.5'):,.2f} THB (36.5 a USDT, fixed (DCABOT_FIAT_RATE))")
    profit = {f.label: f.value for f in (await bot.say("/profit")).fields}
    assert profit["Value now in THB"].startswith("≈ 0.00 THB (36.5 a USDT")
    plain = make_bot(make_settings(tmp_path, prices_csv=BTC_DAILY), db, clock)
    assert not any("THB" in f.label for f in (await plain.say("/status")).fields)


async def test_every_confirmation_says_until_when_it_is_taken(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = MONDAY
    bot = bangkok(tmp_path, db, clock)
    await bot.say("/reserve add 40")
    for command in ("/buy 50", "/pause", "/reserve deploy"):
        reply = await bot.say(command)
        assert reply.confirm_token, command
        assert reply.footer == "Confirm within 60 s (by 07:01:00 +07); it works once.", command
