"""Every command of the registry, its bad inputs, and roles, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cards.reply import Reply
from bot.chat.commands.trading import order_reply
from bot.chat.roles import Role, User
from bot.engine.orders import OrderOutcome
from storage.db import Database
from storage.models import Order
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings


@pytest.fixture
def bot(tmp_path: Path, db: Database, clock: Clock) -> Bot:
    return make_bot(make_settings(tmp_path), db, clock)


def text_of(reply: Reply) -> str:
    return "\n".join(
        [reply.title, *(f"{f.label}: {f.value}" for f in reply.fields), *reply.lines, reply.footer]
    )


async def test_start_and_help_list_what_the_role_may_use(bot: Bot) -> None:
    start = await bot.say("/start")
    assert "paper mode" in text_of(start)
    admin_help = text_of(await bot.say("/help"))
    viewer_help = text_of(await bot.say("/help", Role.VIEWER))
    for usage in ("/status", "/history [n]", "/whoami", "/help"):
        assert usage in admin_help and usage in viewer_help
    assert "/buy <amount USDT>" in admin_help
    assert "/buy" not in viewer_help


async def test_whoami_shows_the_allowlist_id(bot: Bot) -> None:
    reply = await bot.say("/whoami", Role.VIEWER, user_id="4242")
    assert ("Id", "telegram:4242") in [(f.label, f.value) for f in reply.fields]
    assert ("Role", "viewer") in [(f.label, f.value) for f in reply.fields]


async def test_status_of_a_new_account(bot: Bot) -> None:
    reply = await bot.say("/status")
    fields = {f.label: f.value for f in reply.fields}
    assert fields["BTC held"] == "0.00000000 BTC"
    assert fields["USDT free"] == "10,000.00 USDT"
    assert fields["Reserve"] == "0.00 USDT"
    assert fields["Mode"] == "paper · binance"
    assert fields["Price"].endswith("USDT SIMULATED")
    assert "SIMULATED" in reply.footer


async def test_buy_asks_then_fills_once_and_status_adds_up(bot: Bot) -> None:
    ask = await bot.say("/buy 50")
    assert ask.kind == "buy_confirm" and ask.confirm_token
    assert bot.counts() == (0, 0, 0, 0)  # asking writes nothing
    admin = User("telegram", "1", Role.ADMIN)
    done = await bot.registry.confirm(bot.services, admin, ask.confirm_token, accept=True)
    assert done.kind == "order_result" and done.title == "Bought"
    again = await bot.registry.confirm(bot.services, admin, ask.confirm_token, accept=True)
    assert again.title == "Nothing to confirm"
    orders, alerts, fills, _ = bot.counts()
    assert (orders, fills) == (1, 1)
    assert alerts == 1
    balances = await bot.balances()
    with bot.db.transaction() as session:  # the books keep every digit; the card rounds
        order = session.scalars(select(Order)).one()
        cost, received = order.filled_quote or Decimal(0), (order.filled_base or 0) - (
            order.fee or 0)
    assert balances == {"USDT": Decimal("10000") - cost, "BTC": received}
    fields = {f.label: f.value for f in done.fields}
    assert fields["Cost"] == f"{cost.quantize(Decimal('0.01'))} USDT"
    assert fields["Received"] == f"{received:.8f} BTC"
    status = {f.label: f.value for f in (await bot.say("/status")).fields}
    assert status["BTC held"] == f"{received:.8f} BTC"


async def test_a_cancelled_or_foreign_confirmation_does_nothing(bot: Bot) -> None:
    ask = await bot.say("/buy 50")
    assert ask.confirm_token
    stranger = User("telegram", "2", Role.ADMIN)
    refused = await bot.registry.confirm(bot.services, stranger, ask.confirm_token, accept=True)
    assert refused.title == "Not yours"
    owner = User("telegram", "1", Role.ADMIN)
    cancelled = await bot.registry.confirm(bot.services, owner, ask.confirm_token, accept=False)
    assert "cancelled, nothing was done" in text_of(cancelled)
    assert bot.counts() == (0, 0, 0, 0)


async def test_an_expired_confirmation_does_nothing(bot: Bot, clock: Clock) -> None:
    ask = await bot.say("/buy 50")
    assert ask.confirm_token
    clock.advance(seconds=61)
    owner = User("telegram", "1", Role.ADMIN)
    expired = await bot.registry.confirm(bot.services, owner, ask.confirm_token, accept=True)
    assert "expired after 60 s" in text_of(expired) and "/buy 50" in text_of(expired)
    assert bot.counts() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("/buy", "Give an amount in USDT, e.g. /buy 50"),
        ("/buy abc", "'abc' is not an amount; use a number like /buy 50"),
        ("/buy -5", "The amount must be more than 0 USDT"),
        ("/buy 0", "The amount must be more than 0 USDT"),
        ("/buy NaN", "is not an amount"),
        ("/buy 1e9", "'1e9' is not an amount; use a number like /buy 50"),
        ("/buy 1e999999999", "'1e999999999' is not an amount; use a number like /buy 50"),
        ("/buy 60000", "above the per-order limit of 50000 USDT"),
        ("/buy 1234567890123", "'1234567890123' is not an amount: it has more than 12 digits"),
        ("/buy " + "9" * 5000, "is not an amount: it is 5,000 characters long"),
        ("/buy 5,00", "'5,00' is not an amount"),
        ("/buy ²", "'²' is not an amount"),
        ("/buy 20000", "Only 10000 USDT is free to spend"),
        ("/buy 3", "Binance needs at least 5 USDT per BTC/USDT order; you asked for 3"),
        ("/buy 5.123456789", "more than 2 decimals"),
        ("/buy 10.005", "more than 2 decimals"),  # a card would show 10.01 for it
        ("/buy 5 6", "Give one amount"),
    ],
)
async def test_bad_buy_amounts_get_one_clear_answer_and_change_nothing(
    bot: Bot, command: str, says: str
) -> None:
    reply = await bot.say(command)
    assert reply.kind == "error"
    assert says in reply.lines[0]
    assert "\n" not in reply.lines[0]
    assert len(reply.lines[0]) < 160  # never more than a few dozen characters of the input
    assert reply.lines[1] == "Usage: /buy <amount USDT> [exchange]"
    assert reply.confirm_token is None
    assert bot.counts() == (0, 0, 0, 0)
    assert (await bot.balances()) == {"USDT": Decimal("10000")}


async def test_a_viewer_cannot_buy(bot: Bot) -> None:
    reply = await bot.say("/buy 50", Role.VIEWER)
    assert reply.lines[0] == "/buy needs an admin; you are viewer."
    assert reply.confirm_token is None
    assert bot.counts() == (0, 0, 0, 0)


async def test_unknown_commands_get_the_closest_one_and_help(bot: Bot) -> None:
    reply = await bot.say("/stauts")
    assert reply.lines == (
        "/stauts is not a command.",
        "Did you mean /status? /help lists them all.",
    )
    nothing_close = await bot.say("/zzzzzz")
    assert nothing_close.lines[1] == "/help lists them all."
    assert (await bot.say("   ")).kind == "error"


async def test_a_huge_unknown_command_is_echoed_short(bot: Bot) -> None:
    reply = await bot.say("/" + "x" * 4000)
    assert reply.lines[0] == "/xxxxxxxxxxxxxxxxxxxxxxx… is not a command."


@pytest.mark.parametrize(
    "command",
    [
        "/buy {}",
        "/reserve add {}",
        "/strategy cap binance {}",
        "/schedule add mon 07:00 {}",
        "/sell {}",
        "/strategy sell {}",
        "/history {}",
        "/schedule pause {}",
        "/backtest cdc {}",
    ],
)
async def test_every_number_taking_command_refuses_an_absurd_number_in_one_short_line(
    bot: Bot, command: str
) -> None:
    for absurd in ("1e999999999", "9" * 100_000, "-1e999999", "٩" * 40):
        reply = await bot.say(command.format(absurd))
        assert reply.kind == "error", reply
        assert len(reply.lines) == 2 and all(len(line) < 200 for line in reply.lines), reply
    assert bot.counts() == (0, 0, 0, 0)


async def test_thai_and_full_width_digits_buy_the_amount_the_confirmation_shows(bot: Bot) -> None:
    for typed in ("๕๐", "５０", "50"):
        ask = await bot.say(f"/buy {typed}")
        assert ask.title == "Buy BTC for 50.00 USDT?", ask
    owner = User("telegram", "1", Role.ADMIN)
    done = await bot.registry.confirm(bot.services, owner, str(ask.confirm_token), accept=True)
    assert done.title == "Bought"
    with bot.db.transaction() as session:
        from storage.models import Order

        assert [o.requested_quote for o in session.scalars(select(Order))] == [Decimal(50)]


async def test_commands_work_without_slash_with_bot_suffix_and_any_case(bot: Bot) -> None:
    for text in ("status", "/STATUS", "/status@dcabot_bot"):
        assert (await bot.say(text)).kind == "status"


async def test_history_lists_fills_newest_first(bot: Bot) -> None:
    assert (await bot.say("/history")).lines == ("No orders yet. Try /buy 50.",)
    owner = User("telegram", "1", Role.ADMIN)
    for amount in ("50", "60"):
        ask = await bot.say(f"/buy {amount}")
        assert ask.confirm_token
        await bot.registry.confirm(bot.services, owner, ask.confirm_token, accept=True)
    lines = (await bot.say("/history")).lines
    assert len(lines) == 2
    assert "buy BTC/USDT" in lines[0] and "[binance paper]" in lines[0]  # the exchange named
    assert lines[0] != lines[1]
    assert len((await bot.say("/history 1")).lines) == 1
    for bad in ("/history 0", "/history x", "/history 51", "/history ²", "/history 9" + "9" * 99):
        assert "is not a count from 1 to 50" in (await bot.say(bad)).lines[0]


async def test_terminal_confirms_only_on_yes(bot: Bot) -> None:
    out = await bot.terminal("/buy 50", "no", "/buy 50", "yes", "/history")
    assert out.count("Type yes to confirm") == 2
    assert "cancelled, nothing was done" in out
    assert "== Bought ==" in out
    assert out.count("buy BTC/USDT") == 1


async def test_a_confirmed_order_that_fails_unexpectedly_still_gets_an_answer() -> None:
    """Anything but a refusal (a lock timeout, a full disk) escaped the confirmation and the
    person who tapped heard nothing (review finding 11)."""

    async def place(token: str) -> OrderOutcome:
        raise RuntimeError("database disk image is malformed")

    reply = await order_reply(place("token-1"), "BTC", "USDT", "token-1")
    assert reply.title == "Outcome unknown"
    assert "/history" in reply.lines[0] and "Do not confirm it again" in reply.lines[0]
