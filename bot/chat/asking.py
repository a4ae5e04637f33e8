"""Asking before doing: one way for every command that moves money or changes how the bot
trades. The action is remembered for the person who asked (`confirmations`), and the card
says what will happen and until when the answer is taken."""

from __future__ import annotations

from bot.cards.reply import Field, Reply, Tone
from bot.chat.confirmations import Action
from bot.chat.registry import Invocation


def expiry(call: Invocation) -> str:
    """When a confirmation asked now stops working, for its card's footer."""
    book = call.services.confirmations
    until = book.clock() + book.ttl
    zone = call.services.engine.settings.zone
    return (f"Confirm within {int(book.ttl.total_seconds())} s (by "
            f"{until.astimezone(zone):%H:%M:%S %Z}); it works once.")


def confirm_card(
    call: Invocation,
    *,
    summary: str,
    action: Action,
    retry_hint: str,
    title: str,
    fields: tuple[Field, ...] = (),
    lines: tuple[str, ...] = (),
) -> Reply:
    """Remember `action` for the asker and return the card with its confirm button."""
    token = call.services.confirmations.ask(call.user, summary, action, retry_hint=retry_hint)
    return Reply(
        kind="buy_confirm",
        title=title,
        tone=Tone.WARNING,
        confirm_token=token,
        fields=fields,
        lines=lines,
        footer=expiry(call),
    )
