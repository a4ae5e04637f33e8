"""What an exchange said about itself, remembered: a pause it asked for (429/418 with
`Retry-After`, a ban) and the clock offset last measured.

The rate gate in `bot/exchanges` keeps no storage; the engine gives it these listeners. A pause
is saved (so a restart, or another process of the bot, sends nothing until it ends) and said
once in an urgent alert with the time trading resumes.
"""

from __future__ import annotations

from collections.abc import Callable
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


def pause_listener(
    db: Database, clock: Clock, exchange: str, mode: str
) -> Callable[[datetime, str], None]:
    def on_pause(until: datetime, reason: str) -> None:
        now = clock()
        with db.transaction() as session:
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

    return on_pause


def pause_loader(
    db: Database, exchange: str, mode: str
) -> Callable[[], tuple[datetime | None, str]]:
    def load() -> tuple[datetime | None, str]:
        with db.transaction() as session:
            row = session.get(ExchangeState, (exchange, mode))
            return (row.paused_until, row.pause_reason) if row is not None else (None, "")

    return load


def clock_listener(db: Database, clock: Clock, exchange: str, mode: str) -> Callable[[int], None]:
    def on_clock(offset_ms: int) -> None:
        with db.transaction() as session:
            row = _row(session, exchange, mode, clock())
            row.clock_offset_ms, row.updated_at = offset_ms, clock()

    return on_clock
