"""What an exchange said about itself, remembered: a pause it asked for (429/418 with
`Retry-After`, a ban) and the clock offset last measured.

The rate gate in `bot/exchanges` keeps no storage; the engine gives it these listeners (async:
each writes through `Database.run`, off the event loop). A pause is saved (so a restart, or
another process of the bot, sends nothing until it ends) and said once in an urgent alert with
the time trading resumes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.orm import Session

from storage import outbox
from storage.db import Database
from storage.models import ExchangeState

Clock = Callable[[], datetime]


def _row(session: Session, exchange: str, mode: str, now: datetime) -> ExchangeState:
    row = session.get(ExchangeState, (exchange, mode), with_for_update=True)
    if row is None:
        row = ExchangeState(exchange=exchange, mode=mode, pause_reason="", updated_at=now)
        session.add(row)
    return row


def _save_pause(
    session: Session, exchange: str, mode: str, until: datetime, reason: str, now: datetime
) -> None:
    row = _row(session, exchange, mode, now)
    already = row.paused_until is not None and row.paused_until >= until
    row.updated_at = now
    if not already:  # a shorter pause never shortens a longer one (a ban) saved
        row.paused_until, row.pause_reason = until, reason[:200]
        outbox.enqueue(
            session,
            kind="exchange_paused",
            now=now,
            urgent=True,
            payload={"exchange": exchange, "mode": mode, "until": until, "reason": reason},
        )


def pause_listener(
    db: Database, clock: Clock, exchange: str, mode: str
) -> Callable[[datetime, str], Awaitable[None]]:
    async def on_pause(until: datetime, reason: str) -> None:
        await db.transact(_save_pause, exchange, mode, until, reason, clock())

    return on_pause


def _saved_pause(session: Session, exchange: str, mode: str) -> tuple[datetime | None, str]:
    row = session.get(ExchangeState, (exchange, mode))
    return (row.paused_until, row.pause_reason) if row is not None else (None, "")


def pause_loader(
    db: Database, exchange: str, mode: str
) -> Callable[[], Awaitable[tuple[datetime | None, str]]]:
    async def load() -> tuple[datetime | None, str]:
        return await db.transact(_saved_pause, exchange, mode)

    return load


def _save_offset(session: Session, exchange: str, mode: str, offset_ms: int, now: datetime) -> None:
    row = _row(session, exchange, mode, now)
    row.clock_offset_ms, row.updated_at = offset_ms, now


def clock_listener(
    db: Database, clock: Clock, exchange: str, mode: str
) -> Callable[[int], Awaitable[None]]:
    async def on_clock(offset_ms: int) -> None:
        await db.transact(_save_offset, exchange, mode, offset_ms, clock())

    return on_clock
