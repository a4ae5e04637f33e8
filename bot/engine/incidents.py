"""Problems of the bot itself (not of an order): a background task that failed, a job that
could not do its work. Each is written as an urgent alert, so the owner hears about it even
when nobody reads the log."""

from __future__ import annotations

from bot.engine.context import Engine
from storage import outbox


def report_incident(engine: Engine, what: str, reason: str) -> None:
    with engine.db.transaction() as session:
        outbox.enqueue(
            session,
            kind="task_failed",
            now=engine.clock(),
            urgent=True,
            payload={"task": what, "reason": reason[:500]},
        )
