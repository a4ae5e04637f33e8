"""Acting on a trend flip, once, with an outcome the owner hears about.

A flip recorded by the trend watch (`flip_events`, status `started`) is acted on here: on a flip
to down the set percent of BTC is sold into the reserve, on a flip to up the reserve buys BTC.
When the exchange cannot be reached the flip waits (`retrying`) and is tried again with backoff
while within `DCABOT_MISSED_RUN_GRACE` of when it was recorded, then recorded as `missed`; the
owner hears it once when it is first delayed and once at the end. An order whose answer is
unknown is settled by reconciliation, which finishes the flip (`settlement`).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.engine import flip_policy, strategy_settings
from bot.engine.context import Engine
from bot.engine.errors import UserError, recorded_in_english
from bot.engine.funds import BalanceReading, funds_now, read_balances
from bot.engine.pause import SKIPPED, PauseView, paused_in
from bot.engine.reserve import deploy_reserve, sell_into_reserve
from bot.engine.run_outcomes import backoff, grace
from bot.engine.strategy_settings import StrategyView
from bot.exchanges.base import ExchangeUnavailable, UnknownMarket
from storage import ledger, orders, outbox
from storage.models import FlipEvent, Order
from strategies.cdc import Flip, Trend
from strategies.rules import DeployReserve, NoAction, SellPercent, decide_on_flip

log = logging.getLogger(__name__)
STARTED, RETRYING, DONE, MISSED = "started", "retrying", "done", "missed"
FLIP_CAUSES = ("flip_sell", "flip_buy")


def finish_flip(engine: Engine, key: str, status: str, outcome: str) -> None:
    with engine.db.transaction() as session:
        event = session.scalar(select(FlipEvent).where(FlipEvent.flip_key == key).with_for_update())
        assert event is not None
        event.status, event.outcome, event.next_attempt_at = status, outcome[:200], None


def _not_acted(engine: Engine, key: str, trend: Trend, reason: str, status: str = DONE) -> str:
    finish_flip(engine, key, status, reason)
    with engine.db.transaction() as session:
        outbox.enqueue(
            session,
            kind="flip_not_acted",
            now=engine.clock(),
            urgent=True,
            payload={"trend": trend.value, "reason": reason, "exchange": engine.exchange.name,
                     "mode": engine.exchange.mode},
        )
    return reason


def _retry_flip(engine: Engine, key: str, trend: Trend, reason: str) -> str:
    now = engine.clock()
    with engine.db.transaction() as session:
        event = session.scalar(select(FlipEvent).where(FlipEvent.flip_key == key).with_for_update())
        assert event is not None
        give_up_at = event.created_at + grace(engine)
        if now >= give_up_at:
            missed = True
        else:
            missed = False
            wait = backoff(event.attempts)
            event.status, event.next_attempt_at = RETRYING, min(now + wait, give_up_at)
            event.attempts += 1
            event.outcome = f"retrying: {reason}"[:200]
            if event.attempts == 1:
                outbox.enqueue(
                    session,
                    kind="flip_not_acted",
                    now=now,
                    urgent=True,
                    payload={
                        "trend": trend.value,
                        "reason": reason,
                        "exchange": engine.exchange.name,
                        "mode": engine.exchange.mode,
                        "retry_until": give_up_at,
                    },
                )
    if missed:
        return _not_acted(engine, key, trend, f"missed: {reason}", MISSED)
    return f"retrying: {reason}"


def _flip_so_far(
    session: Session, key: str
) -> tuple[list[Order], FlipEvent | None, PauseView | None]:
    placed = [o for cause in FLIP_CAUSES for o in orders.for_cause(session, cause, key)]
    event = session.scalar(select(FlipEvent).where(FlipEvent.flip_key == key))
    return placed, event, paused_in(session)


@recorded_in_english
async def act_on_flip(engine: Engine, flip: Flip, key: str) -> str:
    """Sell into the reserve or deploy it, as the flip calls for; returns what happened."""
    db = engine.db
    settings = await db.run(strategy_settings.current, engine)
    if not settings.cdc_enabled:
        await db.run(finish_flip, engine, key, DONE, "CDC is off: no action")
        return "CDC is off: no action"
    placed, event, on_pause = await db.transact(_flip_so_far, key)
    if any(o.status == orders.SENDING for o in placed):
        return "waiting: an order for this flip awaits its answer"
    policy = await db.run(flip_policy.current, engine)
    if not placed and not flip_policy.acts_on_flips(engine, policy):  # one already sent goes on
        reason = flip_policy.not_acting_reason(engine, policy)
        return await db.run(_not_acted, engine, key, flip.trend, reason)
    if on_pause is not None:
        reason = f"{SKIPPED}: /resume to trade again"
        return await db.run(_not_acted, engine, key, flip.trend, reason)
    if event is not None and engine.clock() >= event.created_at + grace(engine):
        reason = "missed: found unfinished after the grace (the bot was not running)"
        return await db.run(_not_acted, engine, key, flip.trend, reason, MISSED)
    try:
        return await _act(engine, flip, key, settings, len(placed) + 1)
    except (ExchangeUnavailable, UnknownMarket) as exc:  # down, or not trading: try again
        return await db.run(_retry_flip, engine, key, flip.trend, str(exc))
    except UserError as exc:
        return await db.run(_not_acted, engine, key, flip.trend, str(exc))
    except Exception as exc:  # a failure nobody foresaw: retried and told, never left open
        log.exception("flip %s failed", key)
        reason = f"unexpected error: {type(exc).__name__}: {exc}"[:160]
        return await db.run(_retry_flip, engine, key, flip.trend, reason)


def _holdings(session: Session, engine: Engine, reading: BalanceReading) -> tuple[Decimal, Decimal]:
    held = funds_now(session, engine, reading, engine.settings.base_asset).spendable
    return held, ledger.balance(session, engine.exchange.name, engine.exchange.mode)


async def _act(engine: Engine, flip: Flip, key: str, settings: StrategyView, attempt: int
               ) -> str:
    attempt_key, db = orders.attempt_key(key, attempt), engine.db
    reading = await read_balances(engine)
    held, reserve = await db.transact(_holdings, engine, reading)
    action = decide_on_flip(flip, held, reserve, settings.sell_percent)
    if isinstance(action, SellPercent):
        outcome = await sell_into_reserve(
            engine, action.percent, cause="flip_sell", cause_key=attempt_key, requested_by=None
        )
    elif isinstance(action, DeployReserve):
        outcome = await deploy_reserve(
            engine, cause="flip_buy", cause_key=attempt_key, requested_by=None
        )
    else:
        assert isinstance(action, NoAction)
        await db.run(finish_flip, engine, key, DONE, action.reason)
        return action.reason
    if outcome.status == orders.FAILED:
        return await db.run(_retry_flip, engine, key, flip.trend, outcome.error or "not placed")
    if outcome.status == orders.SENDING:
        return "waiting: the order's outcome is unknown; reconciliation settles it"
    summary = f"{outcome.side} {outcome.status}"
    await db.run(finish_flip, engine, key, DONE, summary)
    return summary


def _events(session: Session, exchange: str, *statuses: str) -> list[FlipEvent]:
    return list(
        session.scalars(
            select(FlipEvent).where(
                FlipEvent.status.in_(statuses),
                FlipEvent.exchange == exchange,
                FlipEvent.trend.in_([t.value for t in Trend]),
            )
        )
    )


async def resume_unfinished_flips(engine: Engine) -> None:
    """At start-up: a flip claimed by a process that died before acting (or waiting to be
    retried) is acted on now."""
    for event in await engine.db.transact(_events, engine.exchange.name, STARTED, RETRYING):
        await act_on_flip(engine, Flip(event.candle_time, Trend(event.trend)), event.flip_key)


async def retry_due_flips(engine: Engine) -> None:
    now = engine.clock()
    for event in await engine.db.transact(_events, engine.exchange.name, RETRYING):
        if event.next_attempt_at is not None and event.next_attempt_at <= now:
            await act_on_flip(engine, Flip(event.candle_time, Trend(event.trend)), event.flip_key)

