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
    check_sale,
    deploy_reserve,
    recorded_reserve,
    reserve_view,
    sell_into_reserve,
)
from bot.exchanges.base import ExchangeError
from bot.i18n import _

USAGE = "/reserve [exchange], /reserve add <amount> [exchange], /reserve deploy [exchange]"


def reason_shown(reason: str) -> str:
    """Why the reserve moved, as people read it (the ledger keeps the reason's key)."""
    return {
        "manual_add": _("added"),
        "dca_to_reserve": _("saved by a scheduled run"),
        "flip_sell": _("sold as the trend turned down"),
        "sell_now": _("sold with /sell"),
        "flip_buy": _("bought as the trend turned up"),
        "deploy": _("deployed with /reserve deploy"),
        "deploy_hold": _("held for a buy"),
        "deploy_refund": _("returned: the buy did not spend it"),
        "deploy_change": _("change of a buy"),
        "partial_rest": _("the rest of a partial fill"),
        "late_fill": _("a late fill"),
    }.get(reason, reason)


def reserve_card(view: ReserveView, quote: str, zone: object, title: str = "") -> Reply:
    lines = tuple(
        f"{fmt.day(row.created_at)} {row.created_at:%H:%M} UTC  "
        f"{fmt.number(row.amount, min_decimals=2)} {quote}  {reason_shown(row.reason)}"
        for row in view.recent
    )
    return Reply(
        kind="reserve",
        title=title or _("Reserve"),
        fields=(
            Field(_("Exchange"), view.exchange),
            Field(_("Reserve"), fmt.money(view.balance, quote)),
            Field(_("{asset} free").format(asset=quote), fmt.money(view.quote_free, quote)),
        ),
        lines=lines or (_("No reserve movements yet."),),
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
            fields.append(Field(name, _("reserve {amount} · free: cannot be read now "
                                        "({reason})").format(amount=fmt.money(balance, quote),
                                                             reason=exc)[:200]))
        else:
            balance = view.balance
            fields.append(Field(name, _("reserve {amount} · free {free}").format(
                amount=fmt.money(balance, quote), free=fmt.money(view.quote_free, quote))))
        total += balance
    return Reply(
        kind="reserve",
        title=_("Reserve"),
        fields=(*fields, Field(_("Total reserve"), fmt.money(total, quote))),
        lines=(_("/reserve <exchange> shows one exchange's movements."),),
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
                raise UserError(_("Give an amount, e.g. /reserve add 100"))
            amount = parse_amount(rest[0], example="/reserve add 100")
            engine = accounts.on(rest[1] if len(rest) > 1 else None)
            await add_to_reserve(engine, amount, requested_by=call.user.key)
            return reserve_card(await reserve_view(engine), quote, zone,
                                _("Added to the reserve"))
        if action == "deploy":
            require_admin(call, "/reserve deploy")
            if len(rest) > 1:
                raise UserError(_("Give at most an exchange, e.g. /reserve deploy okx"))
            engine = accounts.on(rest[0] if rest else None)
            view = await reserve_view(engine)
            if view.balance <= 0:
                raise UserError(_("The reserve is empty; nothing to deploy"))

            spend = await engine.db.run(capped_spend, engine, view.balance)
            price = await engine.exchange.price(engine.symbol)
            fee = spend * engine.settings.taker_fee
            title = _("Buy BTC with the whole reserve ({amount})?").format(
                amount=fmt.money(view.balance, quote))
            lines: tuple[str, ...] = ()
            if spend < view.balance:
                title = _("Buy BTC with {amount} of the reserve?").format(
                    amount=fmt.money(spend, quote))
                lines = (
                    _("The per-order cap on {exchange} is {cap}: {rest} stays in the reserve.")
                    .format(exchange=view.exchange, cap=fmt.money(spend, quote),
                            rest=fmt.money(view.balance - spend, quote)),
                )
            return await confirm_card(
                call,
                kind="deploy",
                params={"exchange": engine.exchange.name, "mode": engine.mode},
                summary=_("Deploy the reserve of {amount}").format(
                    amount=fmt.money(view.balance, quote)),
                retry_hint="/reserve deploy"
                + (f" {engine.exchange.name}" if call.services.accounts.several else ""),
                title=title,
                fields=(
                    Field(_("Exchange"), f"{view.exchange} {view.mode}"),
                    Field(_("Price now"), fmt.price(price, quote)),
                    Field(_("Spends"), fmt.money(spend, quote)),
                    Field(_("You get about"), fmt.crypto(spend / price.price * (1 - engine.settings
                                                      .taker_fee), engine.settings.base_asset)),
                    Field(_("Fee about"), fmt.money(fee, quote)),
                ),
                lines=lines,
            )
        if accounts.several:
            raise UserError(_("{word} is not a /reserve action; use add or deploy, or an "
                              "exchange: {names}").format(word=repr(shown(action)),
                                                          names=", ".join(accounts.names)))
        raise UserError(_("{word} is not a /reserve action; use add or deploy").format(
            word=repr(shown(action))))

    @registry.add(
        "sell",
        "Sell a percent of your BTC into the reserve (asks to confirm)",
        "/sell <percent> [exchange]",
        role=Role.ADMIN,
        group="reserve",
    )
    async def sell(call: Invocation) -> Reply:
        if not call.args:
            raise UserError(_("Give one percent from 0 to 100, e.g. /sell 25"))
        engine = pick_exchange(call, 1, _("Give one percent from 0 to 100, e.g. /sell 25"))
        percent = parse_percent(call.args[0], example="/sell 25", allow_zero=False)
        base, quote = engine.settings.base_asset, engine.settings.quote_asset
        held = (await engine.exchange.balances()).get(base)
        if not held:
            raise UserError(_("You hold no {asset} to sell").format(asset=base))

        wanted = held * percent / 100
        selling = await capped_sale(engine, wanted, engine.symbol)
        await check_sale(engine, selling)  # what the market would refuse is said before asking
        price = await engine.exchange.price(engine.symbol)
        proceeds = selling * price.price
        lines: tuple[str, ...] = ()
        if selling < wanted:
            lines = (
                _("The per-order cap on {exchange} limits one sale to about {amount}; the rest "
                  "of your {asset} is kept.").format(exchange=engine.exchange.name,
                                                     amount=fmt.crypto(selling, base), asset=base),
            )
        return await confirm_card(
            call,
            kind="sell",
            params={"exchange": engine.exchange.name, "mode": engine.mode, "percent": str(percent)},
            summary=_("Sell {percent}% of your {asset}").format(percent=fmt.number(percent),
                                                                 asset=base),
            retry_hint=f"/sell {fmt.number(percent)}"
            + (f" {engine.exchange.name}" if call.services.accounts.several else ""),
            title=_("Sell {percent}% of your {asset}?").format(percent=fmt.number(percent),
                                                                asset=base),
            fields=(
                Field(_("About"), fmt.crypto(selling, base)),
                Field(_("Exchange"), f"{engine.exchange.name} {engine.mode}"),
                Field(_("Price now"), fmt.price(price, quote)),
                Field(_("Proceeds about"), fmt.money(proceeds, quote)),
                Field(_("Fee about"), fmt.money(proceeds * engine.settings.taker_fee, quote)),
                Field(_("Proceeds go to"), _("the {exchange} reserve").format(
                    exchange=engine.exchange.name)),
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
