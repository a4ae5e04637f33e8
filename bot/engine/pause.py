"""/pause and /resume: stop the bot's own trading without stopping the bot.

While paused, the scheduler's runs, the trend watch's flips and S4's rotations start no order:
each due run ends `skipped: paused` with one alert, a flip or rotation is recorded as not acted
on. What an owner asks for by hand (/buy, /sell, /reserve deploy) still works: the pause is on
the bot's decisions, not on the owner's. The switch is a row in the database, so every process
(leader, standby, web workers) sees it, and the check that refuses an order runs in the same
transaction that holds its money (`orders._write_intent`): a pause confirmed while a run was on
its way to the exchange stops that run too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.engine.context import Engine
from bot.engine.errors import UserError
from storage import outbox, schedules
from storage.db import Database
from storage.models import TradingPause

ROW_ID = 1
# the causes the bot starts by itself; a rotation's buy finishes a sale already made
AUTOMATIC_CAUSES = frozenset({"schedule", "flip_sell", "flip_buy"})
ROTATION_SELL = ("rotation", "sell")
SKIPPED = "skipped: paused"
SEEN_FOR_S = 2.0  # how long a card may show the switch as last read (orders read it afresh)
_seen: dict[int, tuple[float, PauseView | None]] = {}


class TradingPaused(UserError):
    """The bot's trading is paused: an order the bot itself would start is not sent."""


@dataclass(frozen=True, slots=True)
class PauseView:
    paused_by: str
    paused_at: datetime


def paused_in(session: Session) -> PauseView | None:
    row = session.get(TradingPause, ROW_ID)
    return None if row is None else PauseView(row.paused_by, row.paused_at)


def paused(engine: Engine) -> PauseView | None:
    with engine.db.transaction() as session:
        return paused_in(session)


def paused_lately(engine: Engine) -> PauseView | None:
    """The switch as read at most `SEEN_FOR_S` ago: for the banner on every card, without a
    database transaction (a SQLite write lock) per command."""
    seen = _seen.get(id(engine.db))
    if seen is not None and time.monotonic() - seen[0] < SEEN_FOR_S:
        return seen[1]
    state = paused(engine)
    _seen[id(engine.db)] = (time.monotonic(), state)
    return state


def refuse_if_paused(session: Session, cause: str, side: str) -> None:
    """Raise `TradingPaused` for an order the bot starts by itself while paused."""
    automatic = cause in AUTOMATIC_CAUSES or (cause, side) == ROTATION_SELL
    if automatic and session.get(TradingPause, ROW_ID) is not None:
        raise TradingPaused("the bot's trading is paused (/resume starts it again)")


def pause(engine: Engine, by: str) -> bool:
    """Pause; False when it already was. Every admin hears it (`trading_paused`)."""
    return pause_database(engine.db, by, engine.clock())


def pause_database(db: Database, by: str, now: datetime) -> bool:
    """`pause` on a database without an engine (`dcabot restore` pauses what it restores)."""
    try:
        with db.transaction() as session:
            if session.get(TradingPause, ROW_ID) is not None:
                return False
            session.add(TradingPause(id=ROW_ID, paused_by=by[:80], paused_at=now))
            session.flush()
            outbox.enqueue(session, kind="trading_paused", now=now, urgent=True,
                           payload={"by": by, "at": now.isoformat()})
    except IntegrityError:  # another admin paused at the same moment
        return False
    finally:
        _seen.pop(id(db), None)
    return True


def resume(engine: Engine, by: str) -> bool:
    """Resume; False when it was not paused."""
    now = engine.clock()
    with engine.db.transaction() as session:
        row = session.get(TradingPause, ROW_ID, with_for_update=True)
        if row is None:
            return False
        since = row.paused_at
        session.delete(row)
        outbox.enqueue(session, kind="trading_resumed", now=now, urgent=False,
                       payload={"by": by, "paused_at": since.isoformat()})
    _seen.pop(id(engine.db), None)
    return True


def skip_paused_run(engine: Engine, key: str, schedule_id: int, due_at: datetime,
                    amount: object) -> None:
    """Finish a due run that came while paused, with its one alert."""
    now = engine.clock()
    with engine.db.transaction() as session:
        schedules.finish(session, key, schedules.DONE, SKIPPED, now)
        outbox.enqueue(
            session,
            kind="run_paused",
            now=now,
            urgent=False,
            payload={
                "schedule_id": schedule_id,
                "due_at": due_at.isoformat(),
                "amount": str(amount),
                "exchange": engine.exchange.name,
                "mode": engine.exchange.mode,
                "run": key,
            },
        )
