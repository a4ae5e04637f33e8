"""Small savers' carry when two runs of one schedule are in flight at once (a retry meeting the
next due run): no scheduled cent is skipped."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from bot.engine.dca_run import run_schedule
from bot.engine.schedules import add_schedule
from storage import carry
from storage.db import Database
from storage.models import Order
from tests.conftest import Clock
from tests.exchange_harness import adapter, engine_with, running
from tests.fakes.exchange import Fault

START = datetime(2025, 6, 1, tzinfo=UTC)


async def test_two_runs_of_one_schedule_at_once_lose_no_cent(
    tmp_path: Path, db: Database, clock: Clock
) -> None:
    """Two runs of one schedule in flight together (a retry meeting the next due run), through
    ccxt against the fake Binance with a slow ticker: both plan with the 3 USDT carried; one
    buys it, the other finds it spent and plans again: its own 3 is carried, not skipped."""
    with running("binance") as fake:
        exchange = adapter(fake, clock)
        engine = engine_with(tmp_path, db, fake, exchange, clock)
        clock.now = START
        view = await add_schedule(engine, "daily", "09:00", Decimal(3), None, "plain",
                                  requested_by="t")
        clock.now = first = START + timedelta(hours=9)
        assert (await run_schedule(engine, view.id, first)).outcome.startswith("carried 3")
        fake.inject("GET /api/v3/ticker/24hr", Fault.slow(0.2), times=None)  # both plan first
        due = START + timedelta(days=1, hours=9)
        clock.now = due + timedelta(minutes=1)
        results = await asyncio.gather(run_schedule(engine, view.id, due),
                                       run_schedule(engine, view.id, due + timedelta(minutes=1)))
        await exchange.close()
    outcomes = sorted(r.outcome for r in results)
    assert outcomes[0] == "buy filled" and outcomes[1].startswith("carried 3"), outcomes
    with db.transaction() as session:
        bought = session.scalars(select(Order).where(Order.status == "filled")).one()
        left = carry.total(session, "binance", "live")
    assert bought.requested_quote == 6  # the first 3 carried and one run's 3: the other's 3
    assert (bought.filled_quote or 0) + left == 9  # is carried, and what the step left over
