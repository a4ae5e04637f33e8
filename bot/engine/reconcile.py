"""Reconciliation: settle what a crash or a timeout left open, at start and every minute after.

Orders of this account (exchange and mode) left `sending` are looked up by client order id:
a fill found there is recorded (with its books and alert) exactly as if the answer had
arrived; an order that ended with nothing filled is recorded refused; one the exchange does not
know is recorded never placed only once its request's deadline has passed on the exchange's
clock (`deadline_at`), because until then it may still land. Orders of another mode are left
alone: a restart in testnet never settles a live order (`/status` says they wait). Then the
schedule runs, flips and S4 rotations that were claimed but not finished, or wait to be
retried, go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.engine.context import Engine
from bot.engine.dca_run import resume_unfinished_runs, retry_due_runs
from bot.engine.flip_actions import resume_unfinished_flips, retry_due_flips
from bot.engine.order_records import deadline_passed, mark_failed, record_failure, record_fill
from bot.engine.orders import fee_values
from bot.engine.s4_rotation import settle_rotations
from bot.exchanges.base import ExchangeError, OrderRejected, UnknownMarket
from storage import orders

log = logging.getLogger(__name__)
NOT_FOUND = "not found on the exchange after its request's deadline: it was never placed"


@dataclass(frozen=True, slots=True)
class Reconciled:
    recorded: int
    failed: int
    unknown: int
    waiting: int = 0  # not found yet, but its request may still land


def _open_intents(
    session: Session, engine: Engine, sending: frozenset[str]
) -> list[tuple[str, str, datetime | None]]:
    exchange = engine.exchange
    return [
        (o.client_order_id, o.symbol, o.deadline_at)
        for o in orders.unsettled(session, exchange.name, exchange.mode)
        if o.client_order_id not in sending
    ]


async def reconcile_orders(engine: Engine) -> Reconciled:
    exchange, db = engine.exchange, engine.db
    # `in_flight` changes on the loop: the thread gets a copy taken here
    open_intents = await db.transact(_open_intents, engine, frozenset(engine.in_flight))
    recorded = failed = unknown = waiting = 0
    if open_intents:
        try:  # a deadline is judged on the exchange's clock: measure it first
            await exchange.measure_clock()
        except ExchangeError:
            return Reconciled(0, 0, len(open_intents))
    for client_id, symbol, deadline in open_intents:
        try:
            fill = await exchange.find_order(symbol, client_id)
        except UnknownMarket:  # listed as not trading: a look-up that tells nothing
            unknown += 1
            continue
        except OrderRejected as exc:  # it existed and ended with nothing filled
            await db.run(record_failure, engine, client_id, orders.REJECTED, str(exc))
            failed += 1
            continue
        except ExchangeError:
            unknown += 1  # still unknown: stays open, looked up again
            continue
        if fill is not None:
            fees = await fee_values(engine, fill)
            await db.run(record_fill, engine, client_id, fill, fees)
            recorded += 1
        elif deadline_passed(engine, deadline):
            outcome = await db.run(mark_failed, engine, client_id, NOT_FOUND)
            failed += outcome.status == orders.FAILED
            waiting += outcome.status == orders.SENDING
        else:
            waiting += 1
    return Reconciled(recorded, failed, unknown, waiting)


def other_modes_waiting(engine: Engine) -> dict[str, int]:
    """Orders of this exchange left open in another mode: `{mode: count}` (they are settled
    only by a bot running in that mode)."""
    exchange = engine.exchange
    with engine.db.transaction() as session:
        return orders.open_in_other_modes(session, exchange.name, exchange.mode)


async def reconcile(engine: Engine) -> Reconciled:
    """Everything a restart must settle before the scheduler starts."""
    result = await reconcile_orders(engine)
    for mode, count in (await engine.db.run(other_modes_waiting, engine)).items():
        log.warning(
            "%d %s order(s) of %s from %s mode wait to be settled: start the bot in %s mode "
            "to settle them",
            count,
            engine.exchange.name,
            "an earlier run",
            mode,
            mode,
        )
    await resume_unfinished_flips(engine)
    await settle_rotations(engine)
    await resume_unfinished_runs(engine)
    return result


async def keep_settling(engine: Engine) -> Reconciled:
    """The scheduler's minute: look open orders up again, take open rotations further, and
    retry the runs and flips whose retry time has come."""
    result = await reconcile_orders(engine)
    await retry_due_flips(engine)
    await settle_rotations(engine)
    await retry_due_runs(engine)
    return result
