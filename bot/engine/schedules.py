"""Schedule use cases: add, list, pause, resume, remove. The table is the scheduler's truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bot.engine import strategy_settings
from bot.engine.context import Engine
from bot.engine.errors import UserError, shown
from bot.engine.reserve import check_exchange
from bot.engine.schedule_spec import ScheduleSpec, parse_spec
from bot.exchanges.base import BelowMinimum
from bot.exchanges.quantize import check_cost, fmt_plain
from storage import outbox
from storage import schedules as rows
from storage.models import Schedule

MODES = ("cdc", "plain", "s4")
PAST = {"pause": "paused", "resume": "resumed", "remove": "removed"}


@dataclass(frozen=True, slots=True)
class ScheduleView:
    id: int
    days: str
    local_time: str
    amount: Decimal
    exchange: str
    mode: str
    paused: bool
    next_run: datetime | None


def _view(engine: Engine, row: Schedule) -> ScheduleView:
    spec = ScheduleSpec(row.days, row.local_time)
    upcoming = None if row.paused else spec.next_due(engine.settings.zone, engine.clock())
    return ScheduleView(
        row.id, row.days, row.local_time, row.amount, row.exchange, row.mode, row.paused, upcoming
    )


def list_schedules(engine: Engine) -> list[ScheduleView]:
    with engine.db.transaction() as session:
        return [_view(engine, row) for row in rows.active(session)]


async def add_schedule(
    engine: Engine,
    days: str,
    local_time: str,
    amount: Decimal,
    exchange: str | None,
    mode: str | None,
    *,
    requested_by: str,
) -> ScheduleView:
    spec = parse_spec(days, local_time)
    name = check_exchange(engine, exchange)
    mode = (mode or "cdc").lower()
    if mode not in MODES:
        raise UserError(f"{shown(mode)!r} is not a mode; use cdc (trend-gated), plain or s4")
    limit = strategy_settings.current(engine).order_cap or engine.settings.max_order
    if amount > limit:
        raise UserError(
            f"{fmt_plain(amount)} is above the per-order cap of {fmt_plain(limit)} "
            f"{engine.settings.quote_asset}"
        )
    try:
        check_cost(await engine.exchange.market_rules(engine.symbol), amount)
    except BelowMinimum as exc:
        raise UserError(str(exc)) from None
    now = engine.clock()
    with engine.db.transaction() as session:
        row = Schedule(
            days=spec.days,
            local_time=spec.local_time,
            amount=amount,
            exchange=name,
            mode=mode,
            paused=False,
            removed=False,
            created_at=now,
        )
        session.add(row)
        session.flush()
        outbox.enqueue(
            session,
            kind="schedule_changed",
            now=now,
            payload={"schedule_id": row.id, "change": "added", "requested_by": requested_by},
        )
        return _view(engine, row)


def change_schedule(
    engine: Engine, schedule_id: int, change: str, *, requested_by: str
) -> ScheduleView:
    """`pause`, `resume` or `remove` a schedule."""
    now = engine.clock()
    with engine.db.transaction() as session:
        row = rows.find(session, schedule_id)
        if row is None:
            raise UserError(f"There is no schedule #{schedule_id}; /schedule lists them")
        if change == "pause":
            row.paused = True
        elif change == "resume":
            row.paused = False
        else:
            row.removed = True
        outbox.enqueue(
            session,
            kind="schedule_changed",
            now=now,
            payload={"schedule_id": row.id, "change": PAST[change], "requested_by": requested_by},
        )
        return _view(engine, row)
