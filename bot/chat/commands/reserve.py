"""/reserve and /sell: the USDT reserve, and selling BTC into it."""

from __future__ import annotations

from decimal import Decimal

from bot.cards import format as fmt
from bot.cards.reply import Field, Reply
from bot.chat.arguments import parse_amount, parse_percent
from bot.chat.asking import asked_account, confirm_card
from bot.chat.commands.trading import order_reply, pick_exchange
from bot.chat.registry import Invocation, Registry, require_admin
from bot.chat.roles import Role
from bot.engine.caps import capped_sale, capped_spend
from bot.engine.errors import UserError, shown
from bot.engine.reserve import (
    ReserveView,
    add_to_reserve,
    deploy_reserve,
    recorded_reserve,
    reserve_view,
    sell_into_reserve,
)
from bot.exchanges.base import ExchangeError

USAGE = "/reserve [exchange], /reserve add <amount> [exchange], /reserve deploy [exchange]"


def reserve_card(view: ReserveView, quote: str, zone: object, title: str = "Reserve") -> Reply:
    lines = tuple(
        f"{row.created_at:%Y-%m-%d %H:%M} UTC  {fmt.number(row.amount, min_decimals=2)} "
        f"{quote}  {row.reason}"
        for row in view.recent
    )
    return Reply(
        kind="reserve",
        title=title,
        fields=(
            Field("Exchange", view.exchange),
            Field("Reserve", fmt.money(view.balance, quote)),
            Field(f"{quote} free", fmt.money(view.quote_free, quote)),
        ),
        lines=lines or ("No reserve movements yet.",),
    )


async def reserves_card(call: Invocation) -> Reply:
    """Every exchange's reserve and free USDT, and the total (several exchanges)."""
    accounts = call.services.accounts
    quote = accounts.settings.quote_asset
    fields: list[Field] = []
    total = Decimal(0)
    for engine in accounts:
        name = f"{engine.exchange.name} {engine.mode}"
        try:
            view = await reserve_view(engine)
        except ExchangeError as exc:  # the ledger needs no exchange: the reserve still shows
            balance = await engine.db.run(recorded_reserve, engine)
            fields.append(Field(name, f"reserve {fmt.money(balance, quote)} · free: cannot be "
                                f"read now ({exc})"[:200]))
        else:
            balance = view.balance
            fields.append(Field(name, f"reserve {fmt.money(balance, quote)} · free "
                                f"{fmt.money(view.quote_free, quote)}"))
        total += balance
    return Reply(
        kind="reserve",
        title="Reserve",
        fields=(*fields, Field("Total reserve", fmt.money(total, quote))),
        lines=("/reserve <exchange> shows one exchange's movements.",),
    )


def register(registry: Registry) -> None:
    @registry.add(
        "reserve", "The USDT reserve; admins add to it or deploy it", USAGE, group="reserve"
    )
    async def reserve(call: Invocation) -> Reply:
        accounts = call.services.accounts
        engine = accounts.default
        quote, zone = engine.settings.quote_asset, engine.settings.zone
        if not call.args:
            if accounts.several:
                return await reserves_card(call)
            return reserve_card(await reserve_view(engine), quote, zone)
        action, rest = call.args[0].lower(), call.args[1:]
        if len(call.args) == 1 and accounts.is_exchange(action):
            return reserve_card(await reserve_view(accounts.on(action)), quote, zone)
        if action == "add":
            require_admin(call, "/reserve add")
            if not 1 <= len(rest) <= 2:
                raise UserError("Give an amount, e.g. /reserve add 100")
            amount = parse_amount(rest[0], example="/reserve add 100")
            engine = accounts.on(rest[1] if len(rest) > 1 else None)
            await add_to_reserve(engine, amount, requested_by=call.user.key)
            return reserve_card(await reserve_view(engine), quote, zone, "Added to the reserve")
        if action == "deploy":
            require_admin(call, "/reserve deploy")
            if len(rest) > 1:
                raise UserError("Give at most an exchange, e.g. /reserve deploy okx")
            engine = accounts.on(rest[0] if rest else None)
            view = await reserve_view(engine)
            if view.balance <= 0:
                raise UserError("The reserve is empty; nothing to deploy")

            spend = await engine.db.run(capped_spend, engine, view.balance)
            price = await engine.exchange.price(engine.symbol)
            fee = spend * engine.settings.taker_fee
            title = f"Buy BTC with the whole reserve ({fmt.money(view.balance, quote)})?"
            lines: tuple[str, ...] = ()
            if spend < view.balance:
                title = f"Buy BTC with {fmt.money(spend, quote)} of the reserve?"
                lines = (
                    f"The per-order cap on {view.exchange} is {fmt.money(spend, quote)}: "
                    f"{fmt.money(view.balance - spend, quote)} stays in the reserve.",
                )
            return await confirm_card(
                call,
                kind="deploy",
                params={"exchange": engine.exchange.name, "mode": engine.mode},
                summary=f"Deploy the reserve of {fmt.money(view.balance, quote)}",
                retry_hint="/reserve deploy"
                + (f" {engine.exchange.name}" if call.services.accounts.several else ""),
                title=title,
                fields=(
                    Field("Exchange", f"{view.exchange} {view.mode}"),
                    Field("Price now", fmt.price(price, quote)),
                    Field("Spends", fmt.money(spend, quote)),
                    Field("You get about", fmt.crypto(spend / price.price * (1 - engine.settings
                                                      .taker_fee), engine.settings.base_asset)),
                    Field("Fee about", fmt.money(fee, quote)),
                ),
                lines=lines,
            )
        raise UserError(
            f"{shown(action)!r} is not a /reserve action; use add or deploy"
            + (f", or an exchange: {', '.join(accounts.names)}" if accounts.several else "")
        )

    @registry.add(
        "sell",
        "Sell a percent of your BTC into the reserve (asks to confirm)",
        "/sell <percent> [exchange]",
        role=Role.ADMIN,
        group="reserve",
    )
    async def sell(call: Invocation) -> Reply:
        if not call.args:
            raise UserError("Give one percent from 0 to 100, e.g. /sell 25")
        engine = pick_exchange(call, 1, "Give one percent from 0 to 100, e.g. /sell 25")
        percent = parse_percent(call.args[0], example="/sell 25", allow_zero=False)
        base, quote = engine.settings.base_asset, engine.settings.quote_asset
        held = (await engine.exchange.balances()).get(base)
        if not held:
            raise UserError(f"You hold no {base} to sell")

        wanted = held * percent / 100
        selling = await capped_sale(engine, wanted, engine.symbol)
        price = await engine.exchange.price(engine.symbol)
        proceeds = selling * price.price
        lines: tuple[str, ...] = ()
        if selling < wanted:
            lines = (
                f"The per-order cap on {engine.exchange.name} limits one sale to about "
                f"{fmt.crypto(selling, base)}; the rest of your {base} is kept.",
            )
        return await confirm_card(
            call,
            kind="sell",
            params={"exchange": engine.exchange.name, "mode": engine.mode, "percent": str(percent)},
            summary=f"Sell {fmt.number(percent)}% of your {base}",
            retry_hint=f"/sell {fmt.number(percent)}"
            + (f" {engine.exchange.name}" if call.services.accounts.several else ""),
            title=f"Sell {fmt.number(percent)}% of your {base}?",
            fields=(
                Field("About", fmt.crypto(selling, base)),
                Field("Exchange", f"{engine.exchange.name} {engine.mode}"),
                Field("Price now", fmt.price(price, quote)),
                Field("Proceeds about", fmt.money(proceeds, quote)),
                Field("Fee about", fmt.money(proceeds * engine.settings.taker_fee, quote)),
                Field("Proceeds go to", f"the {engine.exchange.name} reserve"),
            ),
            lines=lines,
        )

    @registry.on_confirm("deploy")
    async def deployed(call: Invocation, params: dict[str, str], token: str) -> Reply:
        engine = asked_account(call, params)
        deploying = deploy_reserve(engine, cause="deploy", cause_key=token,
                                   requested_by=call.user.key)
        return await order_reply(deploying, engine.settings.base_asset,
                                 engine.settings.quote_asset, token)

    @registry.on_confirm("sell")
    async def sold(call: Invocation, params: dict[str, str], token: str) -> Reply:
        engine = asked_account(call, params)
        selling = sell_into_reserve(engine, Decimal(params["percent"]), cause="sell_now",
                                    cause_key=token, requested_by=call.user.key)
        return await order_reply(selling, engine.settings.base_asset,
                                 engine.settings.quote_asset, token)
