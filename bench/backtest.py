"""Benchmark the backtester on the full real candles in ../shared/data (not the cut copies the
tests read in tests/data: `SHARED_DATA_DIR` of tests/shared_data.py).

Prints: CSV parse time and compute time (indicators + the cdc backtest, `every=168`) for the
hourly BTC file (77k candles; target under 100 ms of compute), the same for the daily file,
and the wall time of the whole `dcabot backtest` command run as a subprocess (target under
1.5 s). Compute times are the best of several runs, to keep machine noise out of the figure;
the first run is printed too.

Run: `python bench/backtest.py` from the repository root.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from strategies.backtest import run_backtest  # noqa: E402
from strategies.candles import Candle, parse_candles_csv  # noqa: E402
from tests.shared_data import SHARED_DATA_DIR  # noqa: E402

HOURLY = SHARED_DATA_DIR / "btc_usdt_1h_binance.csv"
DAILY = SHARED_DATA_DIR / "btc_usdt_1d_binance.csv"
REPEATS = 7
COMPUTE_TARGET_MS = 100.0
COMMAND_TARGET_S = 1.5


def _timed(action: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(first, best) wall time in milliseconds over `repeats` runs."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return times[0], min(times)


def bench_file(path: Path, every: int) -> None:
    text = path.read_text(encoding="utf-8")
    candles: list[Candle] = []

    def parse() -> None:
        candles[:] = parse_candles_csv(text, source=path.name)

    parse_first, parse_best = _timed(parse, 3)

    def compute() -> None:
        run_backtest(candles, strategy="cdc", every=every, amount=Decimal(100))

    first, best = _timed(compute, REPEATS)
    print(f"{path.name}: {len(candles):,} candles, cdc every={every}")
    print(f"  CSV parse      {parse_best:8.1f} ms (first {parse_first:.1f} ms)")
    print(f"  compute        {best:8.1f} ms (first {first:.1f} ms)")
    if path == HOURLY:
        verdict = "OK" if best < COMPUTE_TARGET_MS else "OVER TARGET"
        print(f"  target         {COMPUTE_TARGET_MS:8.1f} ms -> {verdict}")


def bench_command() -> None:
    command = [
        sys.executable,
        "-c",
        "from bot.cli import main; raise SystemExit(main())",
        "backtest",
        "--csv",
        str(HOURLY),
        "--strategy",
        "cdc",
        "--every",
        "168",
        "--json",
    ]
    walls = []
    for _ in range(3):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
        walls.append(time.perf_counter() - started)
        if done.returncode != 0:
            if "No module named 'bot.cli'" in done.stderr or "invalid choice" in done.stderr:
                print("dcabot backtest (subprocess): the CLI is not wired yet")
            else:
                last = (done.stderr.strip().splitlines() or ["?"])[-1]
                print(f"dcabot backtest (subprocess): failed with exit {done.returncode}: {last}")
            return
    verdict = "OK" if min(walls) < COMMAND_TARGET_S else "OVER TARGET"
    print("dcabot backtest --csv btc_usdt_1h_binance.csv --strategy cdc --every 168 --json")
    print(f"  wall           {min(walls):8.2f} s  (runs: {', '.join(f'{w:.2f}' for w in walls)})")
    print(f"  target         {COMMAND_TARGET_S:8.2f} s -> {verdict}")


def main() -> int:
    if not SHARED_DATA_DIR.is_dir():
        print(f"no shared data at {SHARED_DATA_DIR}; nothing to measure")
        return 0
    bench_file(HOURLY, every=168)
    bench_file(DAILY, every=7)
    bench_command()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
