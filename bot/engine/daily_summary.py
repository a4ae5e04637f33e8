"""The daily summary (`DCABOT_DAILY_SUMMARY=21:00`): yesterday's actions, then each exchange's
holdings, value, P&L and reserve, and the next run, as one `daily_summary` alert.

"Yesterday" is the owner's day before the one the summary is sent on, midnight to midnight in
their zone. An exchange that cannot be read is said so; the summary is sent all the same, once
per day (its key is the day, claimed in the outbox row's payload check below).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from bot.engine.accounts import Accounts
from bot.engine.profit_report import period_start, profit_view
from bot.engine.schedule_spec import ScheduleSpec
from bot.exchanges.base import ExchangeError
from storage import outbox, schedules
from storage.models import Order, ScheduleRun

KIND = "daily_summary"


def _actions(accounts: Accounts, start: datetime, end: datetime) -> dict[str, Any]:
    traded = {(engine.exchange.name, engine.exchange.mode) for engine in accounts}
    with accounts.db.transaction() as session:
        filled = [o for o in session.scalars(select(Order).where(
            Order.status == "filled", Order.updated_at >= start, Order.updated_at < end))
            if (o.exchange, o.mode) in traded]  # never an old paper order on a live bot
        runs = session.scalars(select(ScheduleRun).where(
            ScheduleRun.due_at >= start, ScheduleRun.due_at < end)).all()
    bought = sum((o.filled_quote or Decimal(0) for o in filled if o.side == "buy"), Decimal(0))
    sold = sum((o.filled_quote or Decimal(0) for o in filled if o.side == "sell"), Decimal(0))
    outcomes: dict[str, int] = {}
    for run in runs:
        word = (run.outcome or run.status).split(" ")[0].split(":")[0] or run.status
        outcomes[word] = outcomes.get(word, 0) + 1
    return {"buys": sum(o.side == "buy" for o in filled),
            "sells": sum(o.side == "sell" for o in filled),
            "bought": bought, "sold": sold, "runs": outcomes}


def _next_run(accounts: Accounts, now: datetime) -> datetime | None:
    zone = accounts.settings.zone
    with accounts.db.transaction() as session:
        upcoming = [ScheduleSpec(s.days, s.local_time).next_due(zone, now)
                    for s in schedules.active(session) if not s.paused
                    and s.exchange in accounts.names]
    known = [when for when in upcoming if when is not None]
    return min(known) if known else None


async def _accounts_part(accounts: Accounts, since: datetime) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for engine in accounts:
        where: dict[str, Any] = {"exchange": engine.exchange.name, "mode": engine.exchange.mode}
        try:
            view = await profit_view(engine, since)
        except ExchangeError as exc:
            parts.append(where | {"error": str(exc)[:160]})
            continue
        parts.append(where | {"value": view.value, "unrealized": view.unrealized,
                              "realized": view.realized, "reserve": view.reserve,
                              "invested": view.invested})
    return parts


def sent_for(accounts: Accounts, day: str) -> bool:
    with accounts.db.transaction() as session:
        return outbox.told(session, KIND, "day", day)


async def send_daily_summary(accounts: Accounts) -> bool:
    """Write today's summary to the outbox unless it was written already; True if written."""
    now, zone = accounts.clock(), accounts.settings.zone
    today = period_start(now, "day", zone)
    yesterday = period_start(today - timedelta(hours=1), "day", zone)
    day, db = f"{yesterday:%Y-%m-%d}", accounts.db
    if await db.run(sent_for, accounts, day):
        return False
    payload = {
        "day": day,
        "actions": await db.run(_actions, accounts, yesterday, today),
        "accounts": await _accounts_part(accounts, yesterday),
        "next_run": await db.run(_next_run, accounts, now),
    }
    await db.transact(outbox.enqueue, kind=KIND, now=now, payload=payload)
    return True
