"""Start-up reconciliation: before any job runs, settle what a crash or timeout left open.

Orders left `sending` are looked up on the exchange by client order id: a fill found there is
recorded (with its ledger rows and alert) exactly as if the answer had arrived; an order the
exchange never saw is marked failed and whatever it held is released. Then schedule runs and
flips that were claimed but not finished are resumed.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.context import Engine
from bot.engine.dca_run import resume_unfinished_runs
from bot.engine.orders import mark_failed, record_fill
from bot.engine.trend_watch import resume_unfinished_flips
from bot.exchanges.base import ExchangeError
from storage import orders

NOT_FOUND = "not found on the exchange after a restart: it was never placed"


@dataclass(frozen=True, slots=True)
class Reconciled:
    recorded: int
    failed: int
    unknown: int


async def reconcile_orders(engine: Engine) -> Reconciled:
    with engine.db.transaction() as session:
        open_intents = [
            (o.client_order_id, o.symbol)
            for o in orders.unsettled(session)
            if o.exchange == engine.exchange.name
        ]
    recorded = failed = unknown = 0
    for client_id, symbol in open_intents:
        try:
            fill = await engine.exchange.find_order(symbol, client_id)
        except ExchangeError:
            unknown += 1  # still unknown: stays open, tried again at the next start
            continue
        if fill is not None:
            record_fill(engine, client_id, fill)
            recorded += 1
        else:
            mark_failed(engine, client_id, NOT_FOUND)
            failed += 1
    return Reconciled(recorded, failed, unknown)


async def reconcile(engine: Engine) -> Reconciled:
    """Everything a restart must settle before the scheduler starts."""
    result = await reconcile_orders(engine)
    await resume_unfinished_flips(engine)
    await resume_unfinished_runs(engine)
    return result
