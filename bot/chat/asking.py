"""Asking before doing: one way for every command that moves money or changes how the bot
trades. What to do is written down for the person who asked (`confirmations`: a kind and its
parameters, run by the action the command registered with `Registry.on_confirm`), and the card
says what will happen and until when the answer is taken."""

from __future__ import annotations

from bot.cards.reply import Field, Reply, Tone
from bot.chat.registry import Invocation
from bot.engine.context import Engine
from bot.engine.errors import UserError
from bot.i18n import _


def asked_account(call: Invocation, params: dict[str, str]) -> Engine:
    """The exchange a confirmation was asked for, in the mode it was asked in: a paper
    question tapped after a restart in live mode places nothing."""
    engine = call.services.accounts.on(params["exchange"])
    asked = params.get("mode")
    if asked and asked != engine.mode:
        raise UserError(_("This was asked in {asked} mode and {exchange} now trades {now}; "
                          "nothing was done. Ask again.").format(
                              asked=asked, exchange=engine.exchange.name, now=engine.mode))
    return engine


def expiry(call: Invocation) -> str:
    """When a confirmation asked now stops working, for its card's footer."""
    book = call.services.confirmations
    until = book.clock() + book.ttl
    zone = call.services.engine.settings.zone
    return _("Confirm within {seconds} s (by {until}); it works once.").format(
        seconds=int(book.ttl.total_seconds()), until=f"{until.astimezone(zone):%H:%M:%S %Z}")


async def confirm_card(
    call: Invocation,
    *,
    kind: str,
    params: dict[str, str],
    summary: str,
    retry_hint: str,
    title: str,
    fields: tuple[Field, ...] = (),
    lines: tuple[str, ...] = (),
) -> Reply:
    """Write down `kind(params)` for the asker and return the card with its confirm button."""
    token = await call.services.confirmations.ask(
        call.user, kind, params, summary=summary, retry_hint=retry_hint
    )
    return Reply(
        kind="buy_confirm",
        title=title,
        tone=Tone.WARNING,
        confirm_token=token,
        confirm_labels=(_("Confirm"), _("Cancel")),
        confirm_hint=_("Type yes to confirm; no, or any command, cancels."),
        fields=fields,
        lines=lines,
        footer=expiry(call),
    )
