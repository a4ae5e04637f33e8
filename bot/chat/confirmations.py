"""Confirmations for money-moving commands: single-use tokens, bound to a user, that expire.

A confirmation is data, not a closure: what to do (a kind and its parameters) is written to the
database (`storage.confirmations`), so a tap delivered to another web worker, or after a restart
within its time, still works, and one conditional update makes exactly one tap win. The token is
also the cause of the order (its client order id derives from it), so even two takes could not
place a second order. Running a taken confirmation is the registry's (`Registry.confirm`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.cards.reply import Reply, Tone, text_reply
from bot.chat.roles import User
from bot.i18n import _
from storage import confirmations as stored
from storage.confirmations import Asked, Miss
from storage.db import Database

Clock = Callable[[], datetime]
KEEP_AFTER_EXPIRY = timedelta(hours=1)  # a late tap still hears "expired", not "unknown"


class ConfirmationBook:
    """Pending confirmations of every process, in the database."""

    def __init__(self, db: Database, ttl: timedelta, clock: Clock) -> None:
        self.db = db
        self.ttl = ttl
        self.clock = clock

    async def ask(
        self, user: User, kind: str, params: dict[str, str], *, summary: str, retry_hint: str
    ) -> str:
        """Remember the action `kind(params)` for `user`; returns the token the confirm button
        carries (16 hex characters: short enough for any platform's button data)."""
        now = self.clock()
        asked = Asked(secrets.token_hex(8), kind, params, user.key, summary, retry_hint,
                      now + self.ttl)
        await self.db.run(stored.remember, self.db, asked, now)
        return asked.token

    async def someone_elses(self, user: User, token: str) -> bool:
        """Whether this confirmation is someone else's (so `user` may not answer it), decided
        without running anything."""
        asker = await self.db.run(stored.asker_of, self.db, token)
        return asker is not None and asker != user.key

    async def take(self, user: User, token: str, *, accept: bool) -> Asked | Reply:
        """The action to run when this answer won the confirmation and accepts it; otherwise
        the reply to say (cancelled, expired, answered already, someone else's)."""
        if not token or len(token) > 32:
            return _nothing_to_confirm()
        got = await self.db.run(stored.answer, self.db, token, user.key, self.clock(),
                                      accept=accept)
        if isinstance(got, Asked):
            if accept:
                return got
            return text_reply(_("Cancelled"), _("{what}: cancelled, nothing was done.").format(
                what=got.summary))
        miss, asked = got
        if miss is Miss.NOT_YOURS:
            return not_yours()
        if miss is Miss.EXPIRED and asked is not None:
            return text_reply(
                _("Expired"),
                _("This confirmation expired after {seconds} s; nothing was done. Send {retry} "
                  "again.").format(seconds=int(self.ttl.total_seconds()), retry=asked.retry_hint),
                tone=Tone.WARNING,
            )
        return _nothing_to_confirm()

    def forget_old(self) -> int:
        """Purge confirmations that expired over an hour ago (blocking: run it in the pool)."""
        return stored.forget_expired_before(self.db, self.clock() - KEEP_AFTER_EXPIRY)


def _nothing_to_confirm() -> Reply:
    return text_reply(
        _("Nothing to confirm"),
        _("This confirmation was already answered or has expired; nothing was done."),
        tone=Tone.WARNING,
    )


def not_yours() -> Reply:
    return text_reply(
        _("Not yours"),
        _("Only the person who asked can confirm this; nothing was done."),
        tone=Tone.WARNING,
    )
