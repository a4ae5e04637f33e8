"""`dcabot backtest` and `dcabot signal` through a small argparse root, as the real CLI wires
them: every bad input is one stderr line naming the option or file line, exit code 2, and no
file written."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.backtest_cli import add_backtest_parser, add_signal_parser
from strategies.backtest import run_backtest
from tests.shared_data import BTC_DAILY, PAXG_DAILY, load_candles

REPO = Path(__file__).resolve().parents[1]
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*argv: str) -> tuple[int, str, str]:
        parser = argparse.ArgumentParser(prog="dcabot")
        sub = parser.add_subparsers(dest="command", required=True)
        add_backtest_parser(sub)
        add_signal_parser(sub)
        args = parser.parse_args(list(argv))
        code = args.func(args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _rows(count: int) -> list[str]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        f"{(start + timedelta(days=i)):%Y-%m-%dT%H:%M:%SZ},{100 + i},{102 + i},{99 + i},"
        f"{101 + i},5"
        for i in range(count)
    ]


def _write(folder: Path, rows: list[str], header: str = "timestamp,open,high,low,close,volume",
           name: str = "btc.csv") -> str:
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


def _assert_refused(result: tuple[int, str, str], folder: Path, *expected: str) -> None:
    code, out, err = result
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for text in expected:
        assert text in lines[0]
    assert not (folder / "out.png").exists()
    assert not [p for p in folder.iterdir() if p.suffix != ".csv"]  # nothing written


def _corrupt(rows: list[str], index: int, field: int, value: str) -> list[str]:
    fields = rows[index].split(",")
    fields[field] = value
    return [*rows[:index], ",".join(fields), *rows[index + 1 :]]


ROWS = _rows(40)
BAD_FILES = {
    "missing column": (dict(header="timestamp,open,high,low,close"), ROWS, "line 1",
                       "missing column volume"),
    "unsorted": ({}, [*ROWS[:5], ROWS[6], ROWS[5], *ROWS[7:]], "line 8", "out of order"),
    "duplicate": ({}, [*ROWS[:5], ROWS[4], *ROWS[5:]], "line 7", "duplicate"),
    "non-numeric": ({}, _corrupt(ROWS, 9, 4, "abc"), "line 11", "close 'abc' is not a number"),
    "non-positive": ({}, _corrupt(ROWS, 3, 1, "0"), "line 5", "open 0 is not positive"),
    "negative price": ({}, _corrupt(ROWS, 3, 3, "-1"), "line 5", "low -1 is not positive"),
    "too few candles": ({}, ROWS[:20], "--csv", "too few candles for the EMAs: 20"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_candle_files(cli: Run, tmp_path: Path, case: str) -> None:
    kwargs, rows, *expected = BAD_FILES[case]
    csv = _write(tmp_path, rows, **kwargs)  # type: ignore[arg-type]
    result = cli("backtest", "--csv", csv, "--strategy", "cdc", "--chart",
                 str(tmp_path / "out.png"))
    _assert_refused(result, tmp_path, *expected)


BAD_OPTIONS = {
    "start after end": (["--start", "2024-02-01", "--end", "2024-01-15"],
                        "--start 2024-02-01 is after --end 2024-01-15"),
    "unknown strategy": (["--strategy", "hodl"], "--strategy 'hodl' is unknown"),
    "negative amount": (["--amount", "-100"], "--amount -100 must be greater than 0"),
    "sell percent above 100": (["--sell-percent", "101"], "--sell-percent 101"),
    "sell percent below 0": (["--sell-percent", "-1"], "--sell-percent -1"),
    "amount not a number": (["--amount", "ten"], "--amount 'ten' is not a number"),
    "every zero": (["--every", "0"], "--every 0 must be at least 1"),
    "fee of 1": (["--fee", "1"], "--fee 1 must be a fraction"),
    "bad date": (["--start", "2024-13-01"], "--start '2024-13-01' is not a date"),
    "no candles in window": (["--start", "2030-01-01"], "--start: no candles from 2030-01-01"),
    "gold for cdc": (["--gold-csv", "x.csv"], "--gold-csv is only used by --strategy s4"),
    "s4 without gold": (["--strategy", "s4"], "--strategy s4 needs --gold-csv"),
    "unknown source": (["--source", "hl2"], "--source 'hl2' is unknown"),
}


@pytest.mark.parametrize("case", BAD_OPTIONS)
def test_bad_options(cli: Run, tmp_path: Path, case: str) -> None:
    extra, expected = BAD_OPTIONS[case]
    argv = ["backtest", "--csv", _write(tmp_path, ROWS), "--chart", str(tmp_path / "out.png")]
    if "--strategy" not in extra:
        argv += ["--strategy", "cdc"]
    _assert_refused(cli(*argv, *extra), tmp_path, expected)


def test_missing_file_and_missing_options(cli: Run, tmp_path: Path) -> None:
    _assert_refused(cli("backtest", "--csv", str(tmp_path / "nope.csv"), "--strategy", "dca"),
                    tmp_path, "--csv", "nope.csv", "cannot read")
    _assert_refused(cli("backtest", "--strategy", "dca"), tmp_path, "--csv FILE is required")
    _assert_refused(cli("backtest", "--csv", _write(tmp_path, ROWS)), tmp_path,
                    "--strategy is required")


def test_chart_must_be_a_png_in_an_existing_folder(cli: Run, tmp_path: Path) -> None:
    csv = _write(tmp_path, ROWS)
    _assert_refused(cli("backtest", "--csv", csv, "--strategy", "dca", "--chart",
                        str(tmp_path / "out.jpg")), tmp_path, "must be a .png")
    _assert_refused(cli("backtest", "--csv", csv, "--strategy", "dca", "--chart",
                        str(tmp_path / "no" / "out.png")), tmp_path, "does not exist")


def test_json_is_exact_and_reproducible(cli: Run) -> None:
    argv = ("backtest", "--csv", str(BTC_DAILY), "--strategy", "cdc", "--json")
    code, out, err = cli(*argv)
    assert (code, err) == (0, "")
    assert cli(*argv)[1] == out
    data = json.loads(out)
    assert {"invested", "btc", "reserve", "final_value", "return_pct", "max_drawdown_pct",
            "buys", "sells", "avg_cost"} <= data.keys()
    assert data["final_value"] == "357793.5463101908154241577477"
    assert data["invested"] == "43800"
    assert (data["buys"], data["sells"]) == (279, 44)
    result = run_backtest(load_candles(BTC_DAILY), strategy="cdc")
    assert data["btc"] == str(result.btc)
    assert data["max_drawdown_pct"] == str(result.max_drawdown_pct)


def test_s4_json_has_gold_and_rotations(cli: Run) -> None:
    code, out, _ = cli("backtest", "--csv", str(BTC_DAILY), "--strategy", "s4", "--gold-csv",
                       str(PAXG_DAILY), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["gold"] == "24.35116847868965168373875227"
    assert (data["rotations"], data["btc"], data["reserve"]) == (41, "0", "0")


def test_text_output_and_chart(cli: Run, tmp_path: Path) -> None:
    chart = tmp_path / "bt.png"
    code, out, err = cli("backtest", "--csv", str(BTC_DAILY), "--strategy", "cdc", "--start",
                         "2021-01-01", "--chart", str(chart))
    assert (code, err) == (0, "")
    assert "final value" in out and "plain DCA" in out and "max drawdown" in out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["bt.png"]  # no temporary file left


def test_signal_text_and_chart(cli: Run, tmp_path: Path) -> None:
    chart = tmp_path / "signal.png"
    code, out, err = cli("signal", "--csv", str(BTC_DAILY), "--chart", str(chart))
    assert (code, err) == (0, "")
    assert "zone   green" in out
    assert "trend  up since 2026-01-05" in out
    assert "2025-10-15  down" in out
    assert chart.read_bytes()[:4] == b"\x89PNG"


def test_signal_json_is_one_object_per_candle(cli: Run) -> None:
    code, out, _ = cli("signal", "--csv", str(BTC_DAILY), "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 3064
    assert rows[0] == {"time": "2017-08-17T00:00:00Z", "close": "4285.08", "ema_fast": None,
                       "ema_slow": None, "zone": None, "trend": None}
    assert rows[-1]["time"] == "2026-01-05T00:00:00Z"
    assert (rows[-1]["zone"], rows[-1]["trend"]) == ("green", "up")
    assert rows[-1]["ema_fast"] == pytest.approx(89859.1538, abs=1e-3)


def test_signal_without_csv_reads_dcabot_prices_csv_and_drops_the_forming_candle(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    closed = list(load_candles(BTC_DAILY))
    forming = replace(closed[-1], time=today)
    rows = [f"{c.time:%Y-%m-%dT%H:%M:%SZ},{c.open},{c.high},{c.low},{c.close},{c.volume}"
            for c in (*closed, forming)]
    prices = tmp_path / "prices.csv"
    prices.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DCABOT_PRICES_CSV", str(prices))
    code, out, _ = cli("signal", "--json")
    assert code == 0
    assert json.loads(out.splitlines()[-1])["time"] == "2026-01-05T00:00:00Z"


def test_signal_without_csv_offline_reads_the_real_history_shipped_with_dcabot(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DCABOT_PRICE_SOURCE", "simulated")  # no exchange: what a newcomer has
    code, out, err = cli("signal", "--json")
    assert code == 0
    shipped = [json.loads(line) for line in out.splitlines()]
    from_file = [json.loads(line) for line in cli("signal", "--csv", str(BTC_DAILY), "--json")[1]
                 .splitlines()]
    def candles(rows: list[dict[str, object]]) -> list[tuple[object, object]]:
        return [(row["time"], row["close"]) for row in rows]

    assert len(shipped) == 500  # as chat's /signal
    assert candles(shipped) == candles(from_file[-500:])  # the same real candles
    assert (shipped[-1]["zone"], shipped[-1]["trend"]) == (from_file[-1]["zone"],
                                                            from_file[-1]["trend"])
    assert shipped[-1]["time"] == "2026-01-05T00:00:00Z"
    assert "shipped with dcabot, up to 2026-01-05" in err
    assert list(tmp_path.iterdir()) == []  # a read: no database, no data folder


def test_signal_without_csv_reads_the_configured_exchange(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.exchange_harness import running

    monkeypatch.chdir(tmp_path)
    with running("binance") as fake:
        monkeypatch.setenv("DCABOT_BINANCE_API_URL", fake.url)
        monkeypatch.setenv("DCABOT_PRICE_SOURCE", "exchange")
        code, out, err = cli("signal")
        assert fake.requests_to("/api/v3/klines")
    assert code == 0 and "last closed candle" in out and "shipped" not in err


def test_signal_with_too_few_candles(cli: Run, tmp_path: Path) -> None:
    _assert_refused(cli("signal", "--csv", _write(tmp_path, ROWS[:25])), tmp_path,
                    "too few candles for the EMAs: 25, need at least 26")


def test_wired_into_the_dcabot_command(tmp_path: Path) -> None:
    pytest.importorskip("bot.cli")
    command = [sys.executable, "-c", "from bot.cli import main; raise SystemExit(main())",
               "backtest", "--csv", _write(tmp_path, ROWS), "--strategy", "cdc", "--amount",
               "-1", "--chart", str(tmp_path / "out.png")]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == "dcabot backtest: error: --amount -1 must be greater than 0"
    assert not (tmp_path / "out.png").exists()


def test_ohlc4_source_is_accepted(cli: Run) -> None:
    code, out, _ = cli("signal", "--csv", str(BTC_DAILY), "--source", "ohlc4", "--json")
    last = json.loads(out.splitlines()[-1])
    assert code == 0
    close_based = json.loads(cli("signal", "--csv", str(BTC_DAILY), "--json")[1].splitlines()[-1])
    assert last["ema_fast"] != close_based["ema_fast"]
