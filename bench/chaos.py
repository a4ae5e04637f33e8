"""The chaos year as a benchmark: every exchange on every database, for several seeds, with the
counts of each fault injected and each run's outcome.

    python bench/chaos.py [--seeds 3] [--weeks 52] [--postgres postgresql://postgres@127.0.0.1/test]

One year is 52 weekly DCA runs and 364 daily trend watches of the live engine on a simulated
clock, through the real ccxt against the fake Binance or OKX (see tests/chaos_year.py for the
faults, the kills and the restarts, tests/chaos_checks.py for what is checked). Exit code 1 when
any year broke a promise.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from storage.db import normalise_url  # noqa: E402
from tests.chaos_checks import check  # noqa: E402
from tests.chaos_year import ChaosYear, live_a_year  # noqa: E402


async def one_year(exchange_id: str, database: str, url: str, seed: int, weeks: int) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        schema = None
        if database == "postgresql":
            schema = f"chaos_{uuid.uuid4().hex[:10]}"
            admin = create_engine(normalise_url(url))
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            db_url = f"{normalise_url(url)}?options=-csearch_path%3D{schema}"
        else:
            db_url = f"sqlite:///{Path(folder) / 'chaos.db'}"
        year = ChaosYear(exchange_id, db_url, seed=seed, weeks=weeks)
        started = time.perf_counter()
        world = await live_a_year(year, Path(folder) / "data")
        verdict = check(world)
        await world.close()
        took = time.perf_counter() - started
        if schema is not None:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    faults = ", ".join(f"{name} {count}" for name, count in sorted(year.faults.items()))
    outcomes = ", ".join(f"{name} {count}" for name, count in sorted(verdict.outcomes.items()))
    print(f"{exchange_id:8} {database:10} seed {seed:3}  {took:5.1f} s  runs {verdict.runs_due}: "
          f"{outcomes}")
    print(f"{'':30}faults {sum(year.faults.values())}: {faults}; kills and restarts "
          f"{year.kills}; orders on the exchange {verdict.orders_on_exchange}, placed twice "
          f"{verdict.duplicate_orders}; requests inside a ban {verdict.ban_violations}")
    for problem in verdict.problems:
        print(f"{'':30}PROBLEM {problem}")
    TOTALS["faults"].update(year.faults)
    TOTALS["outcomes"].update(verdict.outcomes)
    return verdict.ok


TOTALS: dict[str, Counter[str]] = {"faults": Counter(), "outcomes": Counter()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="years per exchange and database")
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="a PostgreSQL database ('' to skip)")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # the bot logs every fault; the figures are below
    databases = ["sqlite"] + (["postgresql"] if args.postgres else [])
    ok = True
    for database in databases:
        for exchange_id in ("binance", "okx"):
            for seed in range(1, args.seeds + 1):
                ok = asyncio.run(one_year(exchange_id, database, args.postgres, seed,
                                          args.weeks)) and ok
    print(f"\ntotal faults {sum(TOTALS['faults'].values())}: "
          + ", ".join(f"{k} {v}" for k, v in sorted(TOTALS["faults"].items())))
    print("total runs: " + ", ".join(f"{k} {v}" for k, v in sorted(TOTALS["outcomes"].items())))
    print("every promise kept" if ok else "SOME PROMISE BROKEN")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
