"""What `/metrics` reads from the database at each scrape: one GROUP BY count per table.

The figures come from the tables every process writes, so a scrape of any process (the leader
or a worker) sees the same counts. Each query is an aggregate over indexed or small tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from storage import schedules
from storage.models import ExchangeState, Order, OutboxAlert, ScheduleRun


@dataclass(frozen=True, slots=True)
class Pause:
    exchange: str
    mode: str
    paused_until: datetime | None
    reason: str


def order_counts(session: Session) -> list[tuple[str, str, str, str, int]]:
    """(exchange, mode, cause, status, orders)."""
    query = select(
        Order.exchange, Order.mode, Order.cause, Order.status, func.count(Order.id)
    ).group_by(Order.exchange, Order.mode, Order.cause, Order.status)
    return [(e, m, c, s, int(n)) for e, m, c, s, n in session.execute(query)]


# A finished run's outcome text starts with what became of it (bot/engine/run_outcomes.py,
# settlement.py, dca_run.py): "bought ...", "<amount> to reserve", "skipped: ...", "failed: ...".
_DONE_AS = (
    (ScheduleRun.outcome.like("bought%"), "bought"),
    (ScheduleRun.outcome.like("% to reserve%"), "reserve"),
    (ScheduleRun.outcome.like("skipped%"), "skipped"),
    (ScheduleRun.outcome.like("failed%"), "failed"),
)


def run_counts(session: Session) -> list[tuple[str, int]]:
    """(outcome, runs): bought, reserve, skipped, failed or other for a finished run; else its
    status (started, retrying, missed)."""
    outcome = case(
        (ScheduleRun.status != schedules.DONE, ScheduleRun.status),
        *((condition, literal(label)) for condition, label in _DONE_AS),
        else_=literal("other"),
    ).label("outcome")
    query = select(outcome, func.count(ScheduleRun.id)).group_by(outcome)
    return [(str(kind), int(n)) for kind, n in session.execute(query)]


def alert_counts(session: Session) -> list[tuple[str, int]]:
    """(status, alerts) over the outbox: pending, sending, delivered, failed, muted, routed."""
    query = select(OutboxAlert.status, func.count(OutboxAlert.id)).group_by(OutboxAlert.status)
    return [(str(status), int(n)) for status, n in session.execute(query)]


def exchange_pauses(session: Session) -> list[Pause]:
    """Every account's saved pause (a 429/418 Retry-After or a ban), ended or not."""
    rows = session.execute(
        select(
            ExchangeState.exchange,
            ExchangeState.mode,
            ExchangeState.paused_until,
            ExchangeState.pause_reason,
        )
    )
    return [Pause(e, m, until, reason or "") for e, m, until, reason in rows]
