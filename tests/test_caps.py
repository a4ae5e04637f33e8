"""The per-order cap limits every order on its exchange: /buy is refused above it, a deploy
spends the cap and leaves the rest in the reserve, a sale sells at most the cap's worth; `off`
clears it and 0 is refused with the way to clear it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cards.reply import Reply
from bot.chat.roles import Role, User
from bot.engine import strategy_settings
from bot.engine.reserve import reserve_view
from storage.db import Database
from storage.models import Order
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings

ADMIN = User("telegram", "1", Role.ADMIN)
CAP = Decimal(500)


@pytest.fixture
def bot(tmp_path: Path, db: Database, clock: Clock) -> Bot:
    return make_bot(make_settings(tmp_path, admins=("telegram:1",)), db, clock)


async def confirm(bot: Bot, ask: Reply) -> Reply:
    assert ask.confirm_token, ask
    return await bot.registry.confirm(bot.services, ADMIN, ask.confirm_token, accept=True)


def orders(db: Database) -> list[Order]:
    with db.transaction() as session:
        return list(session.scalars(select(Order).order_by(Order.id)))


async def test_buy_above_the_cap_is_refused_saying_what_would_do(bot: Bot) -> None:
    assert (await bot.say("/strategy cap binance 500")).title == "Strategy updated"
    refused = await bot.say("/buy 600")
    assert refused.kind == "error"
    assert refused.lines[0] == (
        "600 USDT is above the per-order cap on binance of 500 USDT: buy 500 or less, or "
        "clear the cap with /strategy cap binance off"
    )
    assert orders(bot.db) == []
    done = await confirm(bot, await bot.say("/buy 500"))
    assert done.title == "Bought" and len(orders(bot.db)) == 1


async def test_a_deploy_spends_the_cap_and_leaves_the_rest_in_the_reserve(bot: Bot) -> None:
    engine = bot.services.engine
    await bot.say("/reserve add 999.61")
    strategy_settings.update(engine, order_cap=CAP)
    ask = await bot.say("/reserve deploy")
    assert ask.title == "Buy BTC with 500.00 USDT of the reserve?"
    assert "499.61 USDT stays in the reserve" in ask.lines[0]
    done = await confirm(bot, ask)
    assert done.title == "Bought", done
    (order,) = orders(bot.db)
    assert order.requested_quote == CAP and order.filled_quote is not None
    assert order.filled_quote <= CAP
    left = (await reserve_view(engine)).balance
    assert left == Decimal("999.61") - order.filled_quote  # the rest stayed, to the cent


async def test_a_sale_sells_at_most_the_caps_worth(bot: Bot) -> None:
    engine = bot.services.engine
    await confirm(bot, await bot.say("/buy 2000"))
    strategy_settings.update(engine, order_cap=CAP)
    ask = await bot.say("/sell 100")
    assert "limits one sale to about" in ask.lines[0]  # the card says what the cap does
    done = await confirm(bot, ask)
    assert done.kind == "order_result", done
    sale = orders(bot.db)[-1]
    assert sale.side == "sell" and sale.filled_quote is not None
    assert sale.filled_quote <= CAP and sale.filled_quote > CAP * Decimal("0.98")
    btc = (await bot.balances()).get("BTC", Decimal(0))
    assert btc > 0  # the rest of the BTC was kept


async def test_off_clears_the_cap_and_zero_says_how(bot: Bot) -> None:
    engine = bot.services.engine
    await bot.say("/strategy cap binance 500")
    zero = await bot.say("/strategy cap binance 0")
    assert zero.kind == "error" and "/strategy cap binance off" in zero.lines[0]
    assert strategy_settings.current(engine).order_cap == CAP  # unchanged
    cleared = await bot.say("/strategy cap binance off")
    fields = {f.label: f.value for f in cleared.fields}
    assert fields["Per-order cap"] == "none" and strategy_settings.current(engine).order_cap is None
    assert (await bot.say("/buy 600")).kind == "buy_confirm"
