"""The chaos year (see tests/chaos_year.py): 52 weeks of a weekly DCA and the daily trend watch,
live through the real ccxt against the fake Binance and OKX, with random faults, kills and
restarts, on SQLite and PostgreSQL. `bench/chaos.py` runs it with more seeds and prints the
counts; here one seed per exchange and database must come out clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos_checks import check
from tests.chaos_year import ChaosYear, live_a_year

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("exchange_id", "seed"), [("binance", 11), ("okx", 12)])
async def test_a_chaos_year_keeps_every_promise(
    database_url: str, tmp_path: Path, exchange_id: str, seed: int
) -> None:
    year = ChaosYear(exchange_id, database_url, seed=seed)
    world = await live_a_year(year, tmp_path / "data")
    try:
        verdict = check(world)
    finally:
        await world.close()
    assert verdict.problems == []
    assert verdict.runs_due == 52 and sum(verdict.outcomes.values()) == 52
    assert verdict.duplicate_orders == 0 and verdict.ban_violations == 0
    # the year was a hard one: every kind of fault happened, and the bot was killed
    kinds = {"order answer lost", "connection reset", "5xx", "429 with Retry-After",
             "order lands late", "clock drift", "outage", "order connection dropped"}
    if exchange_id == "binance":
        kinds.add("418 ban with Retry-After")
    assert set(year.faults) == kinds and year.kills >= 1
    assert verdict.outcomes["bought"] >= 20 and verdict.orders_on_exchange >= 20
