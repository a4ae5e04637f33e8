"""A bot wired as `dcabot chat` wires it, on a test database, with a scripted conversation."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from bot.cards.reply import Reply
from bot.chat.commands import build_registry
from bot.chat.confirmations import ConfirmationBook
from bot.chat.registry import ChatServices, Registry
from bot.chat.roles import Role, User
from bot.chat.terminal import ReadLine, TerminalChannel
from bot.config import Settings
from bot.engine.setup import open_accounts
from storage.db import Database
from storage.models import Order, OutboxAlert, PaperFill, ReserveEntry
from tests.conftest import Clock


def scripted(lines: Iterable[str]) -> ReadLine:
    pending = list(lines)

    async def read(prompt: str) -> str | None:
        return pending.pop(0) if pending else None

    return read


@dataclass
class Bot:
    registry: Registry
    services: ChatServices

    async def say(self, text: str, role: Role = Role.ADMIN, user_id: str = "1") -> Reply:
        user = User("telegram", user_id, role)
        return await self.registry.dispatch(user, text, self.services)

    async def terminal(self, *lines: str) -> str:
        out = io.StringIO()
        await TerminalChannel(self.registry, self.services, out).run(scripted(lines))
        return out.getvalue()

    @property
    def db(self) -> Database:
        return self.services.engine.db

    def counts(self) -> tuple[int, int, int, int]:
        """Orders, alerts, paper fills, reserve rows: what any money command would write."""
        with self.db.transaction() as session:
            return tuple(  # type: ignore[return-value]
                int(session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Order, OutboxAlert, PaperFill, ReserveEntry)
            )

    async def balances(self) -> dict[str, Decimal]:
        return await self.services.engine.exchange.balances()


def make_bot(settings: Settings, db: Database, clock: Clock) -> Bot:
    """Every exchange of `DCABOT_EXCHANGES` (one engine each), as `dcabot run` opens them."""
    accounts = open_accounts(settings, clock=clock, db=db)
    book = ConfirmationBook(db, timedelta(seconds=settings.confirm_ttl_s), clock)
    return Bot(build_registry(), ChatServices(accounts.default, book, accounts=accounts))
