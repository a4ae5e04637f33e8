"""/buy: money-moving, so admin only and confirmed with a tap (or `yes` in the terminal)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from decimal import Decimal

from bot.cards import format as fmt
from bot.cards.alert_parts import status_word
from bot.cards.reply import Field, Reply, Tone
from bot.chat.arguments import parse_amount
from bot.chat.asking import asked_account, confirm_card
from bot.chat.registry import Invocation, Registry
from bot.chat.roles import Role
from bot.engine.buy_now import buy_now, preview_buy
from bot.engine.context import Engine
from bot.engine.errors import UserError
from bot.engine.orders import OrderOutcome
from bot.exchanges.base import ExchangeError
from bot.i18n import _

log = logging.getLogger(__name__)
RESERVE_CAUSES = ("deploy", "flip_buy")  # buys spending the reserve: their change goes back


def order_card(outcome: OrderOutcome, base: str, quote: str) -> Reply:
    fill = outcome.fill
    mode = f"{outcome.mode} · {outcome.exchange}"
    if fill is None:
        return Reply(
            kind="order_result",
            title=_("Order {status}").format(status=status_word(outcome.status)),
            tone=Tone.ERROR,
            fields=(Field(_("Mode"), mode),),
            lines=(outcome.error or _("The exchange did not fill the order."),),
        )
    received = fill.net_base(base) if fill.side == "buy" else fill.net_quote(quote)
    title = _("Bought") if fill.side == "buy" else _("Sold")
    if outcome.partial or not fill.complete:
        title += " " + _("(partly filled)")
    if outcome.repeated:
        title += " " + _("(already done earlier)")
    return Reply(
        kind="order_result",
        title=title,
        tone=Tone.SUCCESS,
        fields=(
            Field(_("Mode"), mode),
            Field(_("Amount"), fmt.crypto(fill.amount, base)),
            Field(
                _("Price"),
                fmt.money(fill.price, quote) + (" " + _("SIMULATED") if fill.simulated_price
                                                else ""),
            ),
            Field(_("Cost") if fill.side == "buy" else _("Proceeds"),
                  fmt.money(fill.cost, quote)),
            Field(
                _("Fee"),
                " + ".join(fmt.crypto(amount, asset) for asset, amount in fill.fees)
                if len(fill.fees) > 1
                else fmt.crypto(fill.fee, fill.fee_asset),
            ),
            Field(_("Received"), fmt.crypto(received, base if fill.side == "buy" else quote)),
        ),
        lines=_unspent_note(outcome, base, quote),
        footer=_("Order id {id}").format(id=fill.client_order_id),
    )


def _unspent_note(outcome: OrderOutcome, base: str, quote: str) -> tuple[str, ...]:
    """Say why a buy spent a little less than asked: the market sells base in whole steps."""
    fill, asked = outcome.fill, outcome.requested_quote
    if fill is None or fill.side != "buy" or asked is None or fill.cost >= asked:
        return ()
    if outcome.cause in RESERVE_CAUSES:
        text = _("Spent {spent} of {asked}: the exchange sells {base} in whole steps, so the "
                 "rest stays in the reserve.")
    else:
        text = _("Spent {spent} of {asked}: the exchange sells {base} in whole steps, so the "
                 "rest stays in your {quote} balance.")
    return (text.format(spent=fmt.rounded(fill.cost), asked=fmt.money(asked, quote), base=base,
                        quote=quote),)


async def order_reply(placing: Awaitable[OrderOutcome], base: str, quote: str,
                      token: str) -> Reply:
    """What a confirmed order did: place it (the token is its cause), show what happened.

    The balance may have changed since the question was asked, so a refusal at this point is a
    card, not an error."""
    try:
        outcome = await placing
    except (UserError, ExchangeError) as exc:
        return Reply(kind="error", title=_("Not done"), lines=(str(exc),), tone=Tone.ERROR)
    except Exception:  # the order may or may not exist: say so, never stay silent
        log.exception("confirmed order %s failed", token)
        return Reply(
            kind="error",
            title=_("Outcome unknown"),
            tone=Tone.ERROR,
            lines=(
                _("Something failed while placing this order, and it may or may not have "
                  "been placed. The bot checks with the exchange by itself; /history shows "
                  "the order once it is known. Do not confirm it again."),
            ),
        )
    return order_card(outcome, base, quote)


def pick_exchange(call: Invocation, before: int, wrong: str) -> Engine:
    """The engine of the exchange named after `before` arguments (the default when none is);
    `wrong` when more words follow, or the word is not an exchange of this bot."""
    accounts = call.services.accounts
    word = call.args[before] if len(call.args) == before + 1 else ""
    if word[:1].isalpha():
        accounts.on(word)  # a name that is not one of this bot's exchanges: says which are
    if len(call.args) > before + 1 or (word and not accounts.is_exchange(word)):
        if not accounts.several:
            raise UserError(wrong)
        names = accounts.names[0]
        for name in accounts.names[1:]:
            names = _("{first} or {second}").format(first=names, second=name)
        raise UserError(_("{refusal}, and if you like an exchange: {names}").format(
            refusal=wrong, names=names))
    return accounts.on(call.args[before] if len(call.args) > before else None)


def register(registry: Registry) -> None:
    @registry.add(
        "buy",
        "Buy BTC now for an amount of USDT (asks to confirm)",
        "/buy <amount USDT> [exchange]",
        role=Role.ADMIN,
        group="trading",
    )
    async def buy(call: Invocation) -> Reply:
        engine = pick_exchange(call, 1, _("Give one amount, e.g. /buy 50"))
        base, quote = engine.settings.base_asset, engine.settings.quote_asset
        amount = parse_amount(call.args[0] if call.args else None, example="/buy 50")
        preview = await preview_buy(engine, amount)
        return await confirm_card(
            call,
            kind="buy",
            params={"exchange": engine.exchange.name, "mode": engine.mode, "amount": str(amount)},
            summary=_("Buy {amount} of {asset}").format(amount=fmt.money(amount, quote),
                                                         asset=base),
            retry_hint=f"/buy {fmt.number(amount)}"
            + (f" {engine.exchange.name}" if call.services.accounts.several else ""),
            title=_("Buy {asset} for {amount}?").format(asset=base,
                                                         amount=fmt.money(amount, quote)),
            fields=(
                Field(_("Mode"), f"{preview.mode} · {preview.exchange}"),
                Field(_("Price now"), fmt.price(preview.price, quote)),
                Field(_("You get about"), fmt.crypto(preview.estimated_base, base)),
                Field(_("Fee about"), fmt.crypto(preview.estimated_fee, base)),
                Field(_("{asset} free").format(asset=quote), fmt.money(preview.quote_free, quote)),
            ),
        )

    @registry.on_confirm("buy")
    async def bought(call: Invocation, params: dict[str, str], token: str) -> Reply:
        engine = asked_account(call, params)
        buying = buy_now(engine, Decimal(params["amount"]), confirmation=token,
                         requested_by=call.user.key)
        return await order_reply(buying, engine.settings.base_asset,
                                 engine.settings.quote_asset, token)
