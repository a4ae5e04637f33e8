"""A scheduled DCA run, exactly once per (schedule, due time) (the runs missed while no bot
was leading: `missed_runs`).

A run first acts on any trend flip not yet acted on (so a flip and a DCA on the same day happen
in the backtester's order), then applies the DCA rule: buy while the trend is up, set the amount
aside in the reserve while it is down, always buy in `plain` mode. An `s4` run first decides any
S4 rotation not decided yet, then buys the asset S4 holds (BTC in shadow mode, saying what S4
would have bought). The run's row is claimed before anything else; a second attempt with the
same key does nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from bot.engine import carry_run, strategy_settings
from bot.engine.context import Engine
from bot.engine.errors import UserError, recorded_in_english
from bot.engine.fill_context import trend_context
from bot.engine.funds import BalanceReading, under_account_lock
from bot.engine.orders import CarryChanged, OrderRequest, place_order
from bot.engine.pause import TradingPaused, paused, skip_paused_run
from bot.engine.reserve import set_aside
from bot.engine.run_decision import save_instead
from bot.engine.run_outcomes import finish_unrun, grace, missed_late, retry_later
from bot.engine.s4_watch import s4_market
from bot.engine.settlement import REST_SUFFIX
from bot.exchanges.base import ExchangeUnavailable, UnknownMarket
from storage import orders, outbox, schedules
from strategies.cdc import Trend

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunResult:
    run_key: str
    status: str  # done, missed, already (the key existed), gone (no such active schedule)
    outcome: str


def run_key(schedule_id: int, due_at: datetime) -> str:
    return f"schedule:{schedule_id}:{due_at.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


@dataclass(frozen=True, slots=True)
class _Claimed:
    schedule_id: int
    due_at: datetime
    amount: Decimal
    mode: str
    attempt: int  # this run's order attempt: 1, or more after attempts proven never placed
    rest: Decimal | None = None  # a partial fill's rest, to buy once more
    rest_tried: bool = False  # that once was tried already (and failed): the rest is saved
    symbol: str | None = None  # the market of the partly filled buy (S4 buys gold too)
    status: str = schedules.STARTED  # the run's status when claimed (`retrying` when resumed)
    note: str = ""  # its outcome so far (why it waits)


def _claim(
    engine: Engine, schedule_id: int, key: str, due_at: datetime, resume: bool
) -> _Claimed | RunResult:
    """Claim the run's key (or take over a claimed one when resuming); a RunResult when there
    is nothing to do: the key is finished, or an order of the run still awaits its answer."""
    now = engine.clock()
    with engine.db.transaction() as session:
        schedule = schedules.find(session, schedule_id)
        if schedule is None or schedule.paused:
            existing = schedules.by_key(session, key)
            sending = any(o.status == orders.SENDING
                          for o in orders.for_cause(session, "schedule", key))
            if existing is not None and existing.status not in schedules.FINAL and not sending:
                return RunResult(key, "ended", "the schedule was removed or paused")
            return RunResult(key, "gone", "no such active schedule")
        if schedule.exchange != engine.exchange.name:  # another exchange's engine runs it
            return RunResult(key, "gone", f"a schedule on {schedule.exchange}")
        existing = schedules.by_key(session, key)
        if existing is not None and not (resume and existing.status not in schedules.FINAL):
            return RunResult(key, "already", existing.outcome)
        if existing is None and schedules.claim_run(session, schedule_id, key, due_at, now) is None:
            return RunResult(key, "already", "claimed by another process")
        placed = orders.for_cause(session, "schedule", key)
        if any(o.status == orders.SENDING for o in placed):
            return RunResult(key, "waiting", "an order of this run awaits its answer")
        filled = [o for o in placed if o.status == orders.FILLED]
        rest, symbol = None, None
        if filled:  # a partial fill left the run to buy its rest once more
            first = filled[0]
            rest = (first.requested_quote or Decimal(0)) - (first.filled_quote or Decimal(0))
            symbol = first.symbol
        tried = any(o.cause_key.endswith(REST_SUFFIX) for o in placed)
        status = existing.status if existing is not None else schedules.STARTED
        note = (existing.last_error or existing.outcome) if existing is not None else ""
        return _Claimed(
            schedule_id, due_at, schedule.amount, schedule.mode, len(placed) + 1, rest, tried,
            symbol, status, note,
        )


@recorded_in_english
async def run_schedule(
    engine: Engine, schedule_id: int, due_at: datetime, *, resume: bool = False
) -> RunResult:
    """Run the schedule for `due_at`, once. `resume` continues a run that a dead process
    claimed or that waits to be retried. Every run ends in one outcome (`run_outcomes`)."""
    key, db = run_key(schedule_id, due_at), engine.db
    claimed = await db.run(_claim, engine, schedule_id, key, due_at, resume)
    if isinstance(claimed, RunResult) and claimed.status == "ended":  # waiting, then removed
        await db.run(finish_unrun, engine, key, f"skipped: {claimed.outcome}")
        return RunResult(key, "done", f"skipped: {claimed.outcome}")
    if isinstance(claimed, RunResult):
        return claimed
    if resume and engine.clock() >= due_at + grace(engine):  # too late to buy: a new decision
        if claimed.rest is not None:  # a late rest is not bought: it is saved
            return await _set_aside(engine, key, claimed.rest, "the rest of a partial fill")
        if claimed.status == schedules.RETRYING:
            reason = claimed.note.removeprefix("retrying: ") or "not placed"
            status, outcome = await db.run(retry_later, engine, key, due_at, reason)
        else:
            why = "found unfinished at a restart after the grace"
            status, outcome = await db.run(missed_late, engine, key, due_at, why)
        return RunResult(key, status, outcome)
    try:
        return await _attempt(engine, key, claimed)
    except (ExchangeUnavailable, UnknownMarket) as exc:  # down, or not trading: try again
        status, outcome = await db.run(retry_later, engine, key, due_at, str(exc))
    except Exception as exc:  # a failure nobody foresaw: retried and told, never left open
        log.exception("run %s failed", key)
        reason = f"unexpected error: {type(exc).__name__}: {exc}"[:160]
        status, outcome = await db.run(retry_later, engine, key, due_at, reason)
    return RunResult(key, status, outcome)


async def _attempt(engine: Engine, key: str, run: _Claimed) -> RunResult:
    if run.rest is not None and run.rest_tried:
        return await _set_aside(engine, key, run.rest, "the rest of a partial fill")
    if run.rest is not None:
        return await _buy_rest(engine, key, run.rest, run.symbol)
    db = engine.db
    if await db.run(paused, engine) is not None:
        return await db.run(_skip_paused, engine, key, run)
    settings = await db.run(strategy_settings.current, engine)
    amount, note = run.amount, ""
    if settings.order_cap is not None and amount > settings.order_cap:
        amount, note = settings.order_cap, f" (capped at {settings.order_cap})"
    symbol = None
    if run.mode == "s4":
        try:
            symbol, s4_note = await s4_market(engine, settings.s4_execute)
        except UserError as exc:
            await db.run(finish_unrun, engine, key, f"skipped: {exc}")
            return RunResult(key, "done", f"skipped: {exc}")
        note += s4_note
    else:
        saved = await save_instead(engine, run.mode, settings.cdc_enabled, amount)
        if saved is not None:
            return await _set_aside(engine, key, saved.amount, saved.trend)
    for plans_left in (1, 0):  # another run of this schedule spent its carry: plan once more
        carrying = None if run.mode == "s4" else await carry_run.plan(
            engine, run.schedule_id, amount, symbol, settings.order_cap)
        from_carry = carrying.carried if carrying is not None else Decimal(0)
        request = OrderRequest(
            cause="schedule",
            cause_key=orders.attempt_key(key, run.attempt),
            side="buy",
            quote_amount=amount + from_carry,
            symbol=symbol,
            from_carry=from_carry,
            carry_of=run.schedule_id if from_carry else None,
        )
        try:
            if carrying is not None and carrying.blocked:  # never enough: said, not carried
                await db.run(finish_unrun, engine, key, f"skipped: {carrying.blocked}")
                return RunResult(key, "done", f"skipped: {carrying.blocked}")
            if carrying is not None and carrying.below is not None:  # too small yet: carried
                carried = await carry_run.carry_over(engine, key, run.schedule_id, amount,
                                                     carrying)
                return RunResult(key, "done", carried)
            outcome = await place_order(engine, request)
            break
        except TradingPaused:  # paused while the run was on its way: nothing was sent
            return await db.run(_skip_paused, engine, key, run)
        except UserError as exc:  # not free, no such market: nothing written for the order
            if isinstance(exc, CarryChanged) and plans_left:
                continue
            await db.run(finish_unrun, engine, key, f"skipped: {exc}")
            return RunResult(key, "done", f"skipped: {exc}")
    if outcome.status == orders.FAILED:  # proven not placed (the exchange was unreachable)
        reason = outcome.error or "not placed"
        status, text = await db.run(retry_later, engine, key, run.due_at, reason)
        return RunResult(key, status, text)
    if outcome.status == orders.SENDING:  # unknown: reconciliation settles it, and the run
        return RunResult(key, "waiting", f"buy outcome unknown: {outcome.error}")
    bought = "" if symbol is None else f" {symbol}"
    return RunResult(key, "done", f"buy{bought} {outcome.status}{note}")


def _skip_paused(engine: Engine, key: str, run: _Claimed) -> RunResult:
    skip_paused_run(engine, key, run.schedule_id, run.due_at, run.amount)
    return RunResult(key, "done", "skipped: paused")


async def _buy_rest(engine: Engine, key: str, rest: Decimal, symbol: str | None) -> RunResult:
    """The second and last try at what a partial fill did not buy; what cannot be bought (below
    the minimum, not filled again) goes to the reserve (settlement)."""
    request = OrderRequest(
        cause="schedule",
        cause_key=f"{key}{REST_SUFFIX}",
        side="buy",
        quote_amount=rest,
        symbol=symbol,
    )
    try:
        outcome = await place_order(engine, request)
    except UserError as exc:
        return await _set_aside(engine, key, rest, f"the rest of a partial fill ({exc})")
    return RunResult(key, "done", f"rest: buy {outcome.status}")


async def _set_aside(engine: Engine, key: str, amount: Decimal, trend: object) -> RunResult:
    def save(session: Session, reading: BalanceReading) -> None:
        reserve = set_aside(session, engine, reading, amount, "dca_to_reserve", key)
        now = engine.clock()
        schedules.finish(session, key, schedules.DONE, f"{amount} to reserve", now)
        leg = schedules.find(session, int(key.split(":")[1]))
        why = ({"trend": trend.value} if isinstance(trend, Trend)
               else {"trend": None, "reason": str(trend)})
        outbox.enqueue(
            session,
            kind="dca_reserved",
            now=now,
            payload={
                "exchange": engine.exchange.name,
                "mode": engine.exchange.mode,
                "amount": amount,
                "reserve": reserve,
                "run": key,
                "at": now,
                "schedule_id": (leg.leg_of or leg.id) if leg else int(key.split(":")[1]),
                "schedule_label": leg.label if leg else None,
                **trend_context(engine),
                **why,
            },
        )

    try:
        await under_account_lock(engine, save)
    except UserError as exc:
        await engine.db.run(finish_unrun, engine, key, f"failed: {exc}")
        return RunResult(key, "done", f"failed: {exc}")
    return RunResult(key, "done", f"{amount} to reserve")


async def resume_unfinished_runs(engine: Engine) -> list[RunResult]:
    """At start-up: runs claimed by a process that died before finishing (or waiting to be
    retried) are finished now; a run whose order awaits its answer waits for reconciliation."""
    unfinished = await engine.db.transact(_unfinished, engine.exchange.name)
    return [
        await run_schedule(engine, schedule_id, due_at, resume=True)
        for schedule_id, due_at in unfinished
    ]


async def retry_due_runs(engine: Engine) -> list[RunResult]:
    """Runs waiting to be tried again whose time has come (the scheduler calls this often)."""
    due = await engine.db.transact(_due_retries, engine.clock(), engine.exchange.name)
    return [
        await run_schedule(engine, schedule_id, due_at, resume=True) for schedule_id, due_at in due
    ]


def _unfinished(session: Session, exchange: str) -> list[tuple[int, datetime]]:
    return [(r.schedule_id, r.due_at) for r in schedules.unfinished(session, exchange)]


def _due_retries(session: Session, now: datetime, exchange: str) -> list[tuple[int, datetime]]:
    return [(r.schedule_id, r.due_at) for r in schedules.due_retries(session, now, exchange)]
