"""`dcabot backtest` and `dcabot signal`: the command-line edge over `strategies/`.

Every option is taken as text and checked here (not by argparse `type=`/`choices=`, whose
errors print a usage block), so that any bad input -- an option, a candle file, a date range --
ends as **one** line on stderr naming the option or the file line, exit code 2, and nothing
written: the chart is rendered only after everything else succeeded, to a temporary file that
replaces the target only when complete, and results are printed last.

`--json` prints money as exact decimal strings (see `bot.backtest_report`).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from bot.backtest_report import (
    RunSettings,
    backtest_json,
    backtest_text,
    signal_json_lines,
    signal_text,
)
from bot.candle_input import BadInput, configured_candles, read_candles
from strategies.backtest import (
    DEFAULT_AMOUNT,
    DEFAULT_EVERY,
    DEFAULT_FEE,
    DEFAULT_SELL_PERCENT,
    BacktestInputError,
    BacktestResult,
    Strategy,
    run_backtest,
)
from strategies.candles import candle_interval
from strategies.cdc import CdcSeries, PriceSource, cdc_series
from strategies.indicators import EMA_SLOW_PERIOD

EXIT_BAD_INPUT = 2


_OPTION_FLAGS = {
    "strategy": "--strategy",
    "amount": "--amount",
    "every": "--every",
    "start": "--start",
    "end": "--end",
    "sell_percent": "--sell-percent",
    "fee": "--fee",
    "gold": "--gold-csv",
    "candles": "--csv",
}


def add_backtest_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "backtest",
        help="replay dca / cdc / s4 over a candle CSV",
        description="Backtest a strategy: decide on the closed candle t-1, fill at the open of "
        "candle t, fee taken from what is received.",
    )
    parser.add_argument("--csv", metavar="FILE", help="BTC/USDT candles (required)")
    parser.add_argument("--strategy", metavar="dca|cdc|s4", help="strategy (required)")
    parser.add_argument("--gold-csv", metavar="FILE", help="PAXG/USDT daily candles (s4 only)")
    parser.add_argument("--amount", default=str(DEFAULT_AMOUNT), help="USDT per DCA (100)")
    parser.add_argument("--every", default=str(DEFAULT_EVERY), help="candles between DCAs (7)")
    parser.add_argument("--start", metavar="YYYY-MM-DD", help="first day (UTC) of the DCA")
    parser.add_argument("--end", metavar="YYYY-MM-DD", help="last day (UTC), inclusive")
    parser.add_argument(
        "--sell-percent", default=str(DEFAULT_SELL_PERCENT),
        help="percent of BTC sold on a flip to down, 0-100 (50)",
    )
    parser.add_argument("--fee", default=str(DEFAULT_FEE), help="fee fraction per fill (0.001)")
    parser.add_argument("--source", default="close", metavar="close|ohlc4", help="EMA source")
    parser.add_argument(
        "--json", action="store_true",
        help="print one JSON object; money as exact decimal strings",
    )
    parser.add_argument("--chart", metavar="OUT.png", help="write a PNG chart")
    parser.set_defaults(func=run_backtest_command)


def add_signal_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "signal",
        help="current CDC zone and trend, and the last flips",
        description="CDC Action Zone (EMA 12/26) on closed candles.",
    )
    parser.add_argument(
        "--csv", metavar="FILE",
        help="candles (default: DCABOT_PRICES_CSV, else the exchange's daily candles)",
    )
    parser.add_argument("--source", default="close", metavar="close|ohlc4", help="EMA source")
    parser.add_argument(
        "--json", action="store_true",
        help="one JSON object per candle per line: time, close (string), ema_fast, "
        "ema_slow, zone, trend",
    )
    parser.add_argument("--chart", metavar="OUT.png", help="write a PNG of the last 180 candles")
    parser.set_defaults(func=run_signal_command)


def _decimal(text: str, flag: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadInput(f"{flag} {text!r} is not a number") from None
    if not value.is_finite():
        raise BadInput(f"{flag} {text!r} is not a finite number")
    return value


def _day(text: str | None, flag: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{flag} {text!r} is not a date like 2024-01-31") from None


def _source(text: str) -> PriceSource:
    try:
        return PriceSource(text)
    except ValueError:
        raise BadInput(f"--source {text!r} is unknown; choose close or ohlc4") from None


def _chart_path(text: str | None) -> Path | None:
    if text is None:
        return None
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise BadInput(f"--chart {text!r} must be a .png file")
    if not path.parent.is_dir():
        raise BadInput(f"--chart {text!r}: folder {str(path.parent)!r} does not exist")
    return path


def _fail(command: str, problem: str) -> int:
    print(f"dcabot {command}: error: {problem}", file=sys.stderr)
    return EXIT_BAD_INPUT


def run_backtest_command(args: argparse.Namespace) -> int:
    try:
        result, settings = _backtest(args)
    except BadInput as exc:
        return _fail("backtest", str(exc))
    if args.json:
        print(json.dumps(backtest_json(result)))
    else:
        print(backtest_text(result, settings))
    return 0


def _backtest(args: argparse.Namespace) -> tuple[BacktestResult, RunSettings]:
    if args.csv is None:
        raise BadInput("--csv FILE is required")
    if args.strategy is None:
        raise BadInput("--strategy is required: dca, cdc or s4")
    if args.strategy not in {s.value for s in Strategy}:
        raise BadInput(f"--strategy {args.strategy!r} is unknown; choose dca, cdc or s4")
    amount = _decimal(args.amount, "--amount")
    if amount <= 0:
        raise BadInput(f"--amount {args.amount} must be greater than 0")
    try:
        every = int(args.every)
    except ValueError:
        raise BadInput(f"--every {args.every!r} is not a whole number of candles") from None
    if every < 1:
        raise BadInput(f"--every {args.every} must be at least 1")
    sell_percent = _decimal(args.sell_percent, "--sell-percent")
    if not 0 <= sell_percent <= 100:
        raise BadInput(f"--sell-percent {args.sell_percent} must be between 0 and 100")
    fee = _decimal(args.fee, "--fee")
    if not 0 <= fee < 1:
        raise BadInput(f"--fee {args.fee} must be a fraction from 0 to below 1 (0.001 = 0.1%)")
    start, end = _day(args.start, "--start"), _day(args.end, "--end")
    if start is not None and end is not None and start > end:
        raise BadInput(f"--start {start} is after --end {end}")
    source = _source(args.source)
    if args.gold_csv is not None and args.strategy != Strategy.S4:
        raise BadInput("--gold-csv is only used by --strategy s4")
    if args.gold_csv is None and args.strategy == Strategy.S4:
        raise BadInput("--strategy s4 needs --gold-csv FILE (PAXG/USDT daily candles)")
    chart = _chart_path(args.chart)
    now = datetime.now(UTC)
    candles = read_candles(args.csv, "--csv", now)
    gold = None if args.gold_csv is None else read_candles(args.gold_csv, "--gold-csv", now)
    try:
        result = run_backtest(
            candles, strategy=args.strategy, amount=amount, every=every, start=start, end=end,
            sell_percent=sell_percent, fee=fee, gold=gold, source=source,
        )
    except BacktestInputError as exc:
        raise BadInput(f"{_OPTION_FLAGS.get(exc.option, exc.option)}: {exc}") from None
    if chart is not None:
        from bot.charts import render_backtest_chart

        try:
            render_backtest_chart(result, chart)
        except OSError as exc:
            raise BadInput(f"--chart {args.chart!r}: cannot write it ({exc})") from None
    return result, RunSettings(amount, every, fee, sell_percent)


def run_signal_command(args: argparse.Namespace) -> int:
    try:
        series, interval = _signal(args)
    except BadInput as exc:
        return _fail("signal", str(exc))
    if args.json:
        sys.stdout.writelines(line + "\n" for line in signal_json_lines(series))
    else:
        print(signal_text(series, interval))
    return 0


def _signal(args: argparse.Namespace) -> tuple[CdcSeries, timedelta]:
    source = _source(args.source)
    chart = _chart_path(args.chart)
    now = datetime.now(UTC)
    if args.csv is not None:
        candles, flag = read_candles(args.csv, "--csv", now), "--csv"
    else:
        candles, flag = configured_candles(now)
    if len(candles) < EMA_SLOW_PERIOD:
        raise BadInput(
            f"{flag}: too few candles for the EMAs: {len(candles)}, "
            f"need at least {EMA_SLOW_PERIOD}"
        )
    interval = candle_interval(candles)
    series = cdc_series(candles, source)
    if chart is not None:
        from bot.charts import render_signal_chart

        try:
            render_signal_chart(series, chart)
        except OSError as exc:
            raise BadInput(f"--chart {args.chart!r}: cannot write it ({exc})") from None
    return series, interval
