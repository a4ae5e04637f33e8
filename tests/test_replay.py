"""`dcabot replay` (the live engine on a simulated clock) agrees with `dcabot backtest`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.shared_data import BTC_DAILY, PAXG_DAILY


def dcabot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DCABOT_")}
    clean.update(env)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, cwd=tmp_path, env=clean, timeout=300, check=False)


@pytest.mark.slow
def test_eight_years_of_replay_agree_with_the_backtest(tmp_path: Path) -> None:
    replay = dcabot(tmp_path, "replay", "--csv", str(BTC_DAILY), "--schedule", "mon 07:00 100",
                    "--start", "2018-01-01", "--end", "2025-12-31", "--json",
                    DCABOT_TIMEZONE="Asia/Bangkok",  # the bot's own exchanges are not the replay's:
                    DCABOT_EXCHANGES="okx,binance", DCABOT_MODE_OKX="live")
    assert replay.returncode == 0, replay.stderr
    backtest = dcabot(tmp_path, "backtest", "--csv", str(BTC_DAILY), "--strategy", "cdc",
                      "--every", "7", "--amount", "100", "--start", "2018-01-01",
                      "--end", "2025-12-31", "--json")
    assert backtest.returncode == 0, backtest.stderr
    live, model = json.loads(replay.stdout), json.loads(backtest.stdout)
    for field in ("btc", "reserve"):
        a, b = Decimal(live[field]), Decimal(model[field])
        assert abs(a - b) / b < Decimal("0.005"), (field, a, b)
    assert live["invested"] == model["invested"] == "41800"
    assert (live["buys"], live["sells"]) == (model["buys"], model["sells"])
    # the step sizes only ever make the live engine hold a little less, never more
    assert Decimal(live["btc"]) <= Decimal(model["btc"])
    alerts = live["alerts"]
    assert alerts["dca_bought"] + alerts["dca_reserved"] == 418
    assert alerts["trend_flip"] == alerts["sold_on_red"] + alerts["reserve_deployed"]
    assert not list(tmp_path.iterdir())  # the replay's database was a temporary file


@pytest.mark.slow
def test_six_years_of_s4_replay_end_where_the_backtest_ends(tmp_path: Path) -> None:
    """The live engine (daily S4 watch, rotations as two orders, S4 runs buying what S4 holds)
    against the backtester on the real BTC and PAXG candles. S4 needs both markets, so both
    start on 2020-08-28 (PAXG's first day, a Friday): the replay's weekly runs are Fridays."""
    common = ["--csv", str(BTC_DAILY), "--gold-csv", str(PAXG_DAILY), "--start", "2020-01-01",
              "--end", "2025-12-31", "--json"]
    replay = dcabot(tmp_path, "replay", "--schedule", "fri 07:00 100", *common)
    assert replay.returncode == 0, replay.stderr
    backtest = dcabot(tmp_path, "backtest", "--strategy", "s4", "--every", "7", "--amount",
                      "100", *common)
    assert backtest.returncode == 0, backtest.stderr
    live, model = json.loads(replay.stdout), json.loads(backtest.stdout)
    assert live["started"] == model["start"] == "2020-08-28"
    assert live["invested"] == model["invested"] == "27900"
    model_held = "gold" if Decimal(model["gold"]) > 0 and Decimal(model["btc"]) == 0 else "btc"
    assert live["held"] == model_held == "gold"
    assert live["rotations"] == model["rotations"] > 30
    assert live["alerts"]["s4_rotation"] == live["rotations"]
    assert (live["buys"], live["sells"]) == (model["buys"], model["sells"])
    a, b = Decimal(live["final_value"]), Decimal(model["final_value"])
    assert abs(a - b) / b < Decimal("0.005"), (a, b)


@pytest.mark.parametrize(("args", "says"), [
    (["--schedule", "mon 07:00"], "must be '<days> <HH:MM> <amount>'"),
    (["--schedule", "mon 25:00 100"], "'25:00' is not a time of day"),
    (["--schedule", "mon 07:00 -5"], "must be a positive number"),
    (["--start", "2025-01-01", "--end", "2024-01-01"], "is after --end"),
    (["--start", "2025-13-01"], "--start/--end must be YYYY-MM-DD"),
])
def test_bad_replay_options_exit_2_with_one_line(tmp_path: Path, args: list[str],
                                                 says: str) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text("timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,1,1,1,1\n")
    options = {"--schedule": "mon 07:00 100", "--start": "2024-01-01", "--end": "2024-02-01"}
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    run = dcabot(tmp_path, "replay", "--csv", str(csv),
                 *[x for pair in options.items() for x in pair])
    assert run.returncode == 2
    assert says in run.stderr and len(run.stderr.strip().splitlines()) == 1
