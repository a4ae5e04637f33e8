"""Confirmations for money-moving commands: single-use tokens, bound to a user, that expire.

The token is also the cause of the order (its client order id derives from it), so even a second
process that somehow ran the same confirmation could not place a second order.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.cards.reply import Reply, Tone, text_reply
from bot.chat.roles import User

Action = Callable[[str], Awaitable[Reply]]
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Pending:
    user_key: str
    summary: str
    retry_hint: str
    action: Action
    expires_at: datetime


class ConfirmationBook:
    """Pending confirmations of this process, by token."""

    def __init__(self, ttl: timedelta, clock: Clock) -> None:
        self.ttl = ttl
        self.clock = clock
        self._pending: dict[str, Pending] = {}

    def ask(self, user: User, summary: str, action: Action, *, retry_hint: str) -> str:
        """Remember `action` for `user`; returns the token the confirm button carries."""
        self._forget_expired()
        token = secrets.token_hex(8)
        self._pending[token] = Pending(
            user.key, summary, retry_hint, action, self.clock() + self.ttl
        )
        return token

    def _forget_expired(self) -> None:
        now = self.clock()
        for token in [t for t, p in self._pending.items() if p.expires_at <= now]:
            del self._pending[token]

    def refusal_for(self, user: User, token: str) -> Reply | None:
        """A warning when `user` may not answer this confirmation (it is someone else's),
        decided without running anything; None when they may try."""
        pending = self._pending.get(token)
        if pending is not None and pending.user_key != user.key:
            return _not_yours()
        return None

    async def answer(self, user: User, token: str, *, accept: bool) -> Reply:
        """Run or cancel the pending action. Only its owner, only once, only in time."""
        pending = self._pending.get(token)
        if pending is None:
            return text_reply(
                "Nothing to confirm",
                "This confirmation was already answered or has expired; nothing was done.",
                tone=Tone.WARNING,
            )
        if pending.user_key != user.key:
            return _not_yours()
        del self._pending[token]
        if pending.expires_at <= self.clock():
            seconds = int(self.ttl.total_seconds())
            return text_reply(
                "Expired",
                f"This confirmation expired after {seconds} s; nothing "
                f"was done. Send {pending.retry_hint} again.",
                tone=Tone.WARNING,
            )
        if not accept:
            return text_reply("Cancelled", f"{pending.summary}: cancelled, nothing was done.")
        return await pending.action(token)


def _not_yours() -> Reply:
    return text_reply(
        "Not yours",
        "Only the person who asked can confirm this; nothing was done.",
        tone=Tone.WARNING,
    )
