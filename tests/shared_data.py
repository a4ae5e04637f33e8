"""The real Binance candles in `shared/data` beside the repository (see its SOURCES.md).

They are never copied into the repo; tests that need them are marked `needs_shared_data` and
skip, saying where the folder was expected, when it is absent.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from strategies.candles import Candle, parse_candles_csv

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
BTC_DAILY = DATA_DIR / "btc_usdt_1d_binance.csv"
BTC_HOURLY = DATA_DIR / "btc_usdt_1h_binance.csv"
PAXG_DAILY = DATA_DIR / "paxg_usdt_1d_binance.csv"

needs_shared_data = pytest.mark.skipif(
    not DATA_DIR.is_dir(),
    reason=f"real candles not found: expected the shared data folder at {DATA_DIR}",
)


@cache
def load_candles(path: Path) -> tuple[Candle, ...]:
    """Parse a shared candle file once per test session (candles are immutable)."""
    return tuple(parse_candles_csv(path.read_text(encoding="utf-8"), source=path.name))


def csv_rows(path: Path) -> list[list[str]]:
    """The raw text fields of a shared candle file, header dropped, for independent checks."""
    return [line.split(",") for line in path.read_text(encoding="utf-8").splitlines()[1:]]
