"""The real Binance and OKX data the tests read: `tests/data` (see its SOURCES.md).

That folder is part of the repository, so every test that reads real candles or exchange filters
runs on a fresh clone, on the same figures everywhere. It holds the daily candle files whole and
cuts of the rest (the first months of the 1h and 4h candles, six symbols of Binance's
exchangeInfo), made from the full shared data set beside the repository
(`SHARED_DATA_DIR`, `../shared/data`) by `tests/data/make_fixtures.py`.

`DCABOT_TEST_DATA` names another folder to read instead (for instance the full set: tests that
assert figures of the cut files will then say so). A missing file fails the test; nothing skips.
Benchmarks (bench/) measure on the full set in SHARED_DATA_DIR.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from strategies.candles import Candle, parse_candles_csv

FIXTURES_DIR = Path(__file__).resolve().parent / "data"
SHARED_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA_DIR = Path(os.environ.get("DCABOT_TEST_DATA") or FIXTURES_DIR).resolve()
if not DATA_DIR.is_dir():
    raise FileNotFoundError(
        f"test data folder {DATA_DIR} not found"
        + (" (from DCABOT_TEST_DATA)" if os.environ.get("DCABOT_TEST_DATA") else "")
    )

BTC_DAILY = DATA_DIR / "btc_usdt_1d_binance.csv"
BTC_HOURLY = DATA_DIR / "btc_usdt_1h_binance.csv"
PAXG_DAILY = DATA_DIR / "paxg_usdt_1d_binance.csv"


@cache
def load_candles(path: Path) -> tuple[Candle, ...]:
    """Parse a candle file once per test session (candles are immutable)."""
    return tuple(parse_candles_csv(path.read_text(encoding="utf-8"), source=path.name))


def csv_rows(path: Path) -> list[list[str]]:
    """The raw text fields of a candle file, header dropped, for independent checks."""
    return [line.split(",") for line in path.read_text(encoding="utf-8").splitlines()[1:]]
