"""/signal and /backtest through the real registry, engine and database, on real candles.

Expected values are computed here straight from `strategies/` on the same candles, cut at the
clock independently of the paper exchange, so the chat can never drift from the backtester.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.cards.reply import Reply
from bot.chat.roles import Role
from bot.engine.analysis import (
    CHARTS_KEPT,
    SIGNAL_HISTORY_DAYS,
    compare_backtests,
    history_days,
)
from bot.exchanges.prices import SimulatedMarket
from storage.db import Database
from strategies.backtest import run_backtest
from strategies.candles import Candle
from strategies.cdc import cdc_series, current_trend_since, trend_flips
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings
from tests.shared_data import BTC_DAILY, load_candles

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FEE = Decimal("0.001")  # DCABOT_TAKER_FEE's default, which the chat backtest uses
BACKTEST_USAGE = "Usage: /backtest [strategy] [start] [end]"


@pytest.fixture
def clock() -> Clock:
    """Mid-morning of 2025-06-01: the last closed daily candle is 2025-05-31's."""
    return Clock(datetime(2025, 6, 1, 9, 30, tzinfo=UTC))


@pytest.fixture
def csv_bot(tmp_path: Path, db: Database, clock: Clock) -> Bot:
    return make_bot(make_settings(tmp_path, prices_csv=BTC_DAILY), db, clock)


@pytest.fixture
def simulated_bot(tmp_path: Path, db: Database, clock: Clock) -> Bot:
    return make_bot(make_settings(tmp_path), db, clock)


def closed_daily(now: datetime) -> list[Candle]:
    """The real daily candles whose day had ended at `now`."""
    return [c for c in load_candles(BTC_DAILY) if c.time + timedelta(days=1) <= now]


def fields_of(reply: Reply) -> dict[str, str]:
    return {f.label: f.value for f in reply.fields}


def charts(bot: Bot) -> list[Path]:
    folder = bot.services.engine.settings.data_dir / "charts"
    return sorted(folder.glob("*.png")) if folder.is_dir() else []


def assert_png(path: Path | None) -> None:
    assert path is not None and path.is_file()
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def usdt(value: Decimal) -> str:
    return f"{value:,.2f} USDT"


def btc(value: Decimal) -> str:
    """Satoshi precision, trailing zeros dropped, as the card writes it."""
    return f"{value:.8f}".rstrip("0").rstrip(".") + " BTC"


@pytest.mark.parametrize(
    "now",
    [
        datetime(2021, 11, 10, 12, tzinfo=UTC),  # just after the 2021 top
        datetime(2022, 6, 18, 12, tzinfo=UTC),  # the June 2022 capitulation
        datetime(2025, 6, 1, 9, 30, tzinfo=UTC),
    ],
)
async def test_signal_is_the_cdc_state_of_the_last_closed_candle(
    csv_bot: Bot, clock: Clock, now: datetime
) -> None:
    clock.now = now
    history = closed_daily(now)
    series = cdc_series(history[-SIGNAL_HISTORY_DAYS:])
    since = current_trend_since(series)
    zone, trend = series.zones[-1], series.trends[-1]
    assert zone is not None and trend is not None and since is not None
    # The 500 days read are enough warm-up: the full history says the same.
    full = cdc_series(history)
    assert (full.zones[-1], full.trends[-1], current_trend_since(full)) == (zone, trend, since)

    reply = await csv_bot.say("/signal", Role.VIEWER)

    assert reply.kind == "signal"
    fields = fields_of(reply)
    last_day = (now - timedelta(days=1)).date()
    assert fields["Last close"] == f"{usdt(history[-1].close)} on {last_day}"
    assert fields["Zone"].startswith(f"{zone.value} (EMA12 ")
    days = (series.times[-1] - since.time).days + 1
    assert fields["Trend"] == (f"{trend.value} since {since.time:%Y-%m-%d} ({days} "
                               f"day{'' if days == 1 else 's'})")
    expected_flips = [f"  {f.time:%Y-%m-%d}  {f.trend.value}" for f in trend_flips(series)[-5:]]
    assert list(reply.lines[2:]) == expected_flips[::-1]
    assert "SIMULATED" not in fields["Price"] and "SIMULATED" not in reply.footer
    assert "btc_usdt_1d_binance.csv" in reply.footer
    assert_png(reply.image)
    assert csv_bot.counts() == (0, 0, 0, 0)


async def test_backtest_numbers_are_the_backtesters_on_the_same_candles(
    csv_bot: Bot, clock: Clock
) -> None:
    start, end = date(2022, 1, 1), date(2023, 1, 1)
    candles = closed_daily(clock.now)[-history_days(start, clock.now.date()) :]
    cdc = run_backtest(candles, strategy="cdc", start=start, end=end, fee=FEE)
    dca = run_backtest(candles, strategy="dca", start=start, end=end, fee=FEE)
    assert (cdc.start, cdc.end) == (start, end)

    view = await compare_backtests(csv_bot.services.engine, "cdc", start, end)
    assert view.chosen == cdc  # every figure and series, to the last digit
    assert view.baseline == dca
    assert view.chosen.dca_final_value == dca.final_value

    reply = await csv_bot.say("/backtest cdc 2022-01-01 2023-01-01", Role.VIEWER)
    fields = fields_of(reply)
    assert fields["Strategy"] == "cdc vs dca"
    assert fields["Window"] == "2022-01-01 to 2023-01-01 (366 days)"
    assert fields["Invested"] == usdt(cdc.invested) == usdt(dca.invested)
    assert fields["Final value"] == f"{usdt(cdc.final_value)} vs {usdt(dca.final_value)}"
    assert fields["Return"] == f"{cdc.return_pct:+.2f}% vs {dca.return_pct:+.2f}%"
    assert fields["Max drawdown"] == (f"{cdc.max_drawdown_pct:.2f}% vs {dca.max_drawdown_pct:.2f}%")
    assert fields["Reserve"] == f"{usdt(cdc.reserve)} vs {usdt(dca.reserve)}"
    assert fields["Buys / sells"] == f"{cdc.buys} / {cdc.sells} vs {dca.buys} / 0"
    assert cdc.sells > 0  # 2022 had flips to down: the comparison is not trivial
    assert_png(reply.image)
    assert len(charts(csv_bot)) == 2  # one per backtest run above
    assert csv_bot.counts() == (0, 0, 0, 0)


async def test_backtest_without_dates_covers_the_last_two_years(csv_bot: Bot, clock: Clock) -> None:
    candles = closed_daily(clock.now)[-history_days(None, clock.now.date()) :]
    expected = run_backtest(candles, strategy="cdc", start=date(2023, 6, 2), fee=FEE)
    reply = await csv_bot.say("/backtest")
    fields = fields_of(reply)
    assert fields["Window"] == "2023-06-02 to 2025-05-31 (730 days)"
    assert fields["Final value"].startswith(f"{usdt(expected.final_value)} vs ")
    assert_png(reply.image)


async def test_backtest_of_dca_is_set_beside_cdc(csv_bot: Bot, clock: Clock) -> None:
    start = date(2024, 1, 1)
    candles = closed_daily(clock.now)[-history_days(start, clock.now.date()) :]
    dca = run_backtest(candles, strategy="dca", start=start, fee=FEE)
    cdc = run_backtest(candles, strategy="cdc", start=start, fee=FEE)
    view = await compare_backtests(csv_bot.services.engine, "dca", start, None)
    assert (view.chosen, view.baseline) == (dca, cdc)
    reply = await csv_bot.say("/backtest DCA 2024-01-01")
    assert fields_of(reply)["Strategy"] == "dca vs cdc"
    assert fields_of(reply)["BTC held"] == f"{btc(dca.btc)} vs {btc(cdc.btc)}"


async def test_simulated_market_is_labelled_and_s4_reads_gold_from_it(
    simulated_bot: Bot, clock: Clock
) -> None:
    signal = await simulated_bot.say("/signal", Role.VIEWER)
    fields = fields_of(signal)
    assert fields["Price"].endswith("USDT SIMULATED")
    day = clock.now.date() - timedelta(days=1)  # the last candle closed by now
    assert signal.footer == (  # offline, the candles are the real ones dcabot ships
        "No exchange reachable: candles are real Binance daily candles shipped with dcabot, "
        f"up to {day}. Price now: SIMULATED."
    )
    binance = next(c for c in load_candles(BTC_DAILY) if c.time.date() == day)
    assert fields["Last close"] == f"{binance.close:,.2f} USDT on {day}"  # Binance's close
    market = SimulatedMarket(42, clock)  # DCABOT_SIMULATED_SEED's default
    series = cdc_series(market.closed_candles("BTC/USDT", SIGNAL_HISTORY_DAYS))
    assert series.zones[-1] is not None
    assert fields["Zone"].startswith(f"{series.zones[-1].value} (")
    assert_png(signal.image)

    start = date(2024, 1, 1)
    limit = history_days(start, clock.now.date())
    btc, gold = market.closed_candles("BTC/USDT", limit), market.closed_candles("PAXG/USDT", limit)
    s4 = run_backtest(btc, strategy="s4", gold=gold, start=start, fee=FEE)
    dca = run_backtest(btc, strategy="dca", start=start, fee=FEE)
    view = await compare_backtests(simulated_bot.services.engine, "s4", start, None)
    assert (view.chosen, view.baseline) == (s4, dca)
    reply = await simulated_bot.say("/backtest s4 2024-01-01", Role.VIEWER)
    assert fields_of(reply)["Gold held"].endswith(f"({len(s4.rotations)} rotations)")
    assert "SIMULATED" in reply.footer
    assert_png(reply.image)
    assert simulated_bot.counts() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("/backtest foo", "'foo' is not a strategy; choose dca, cdc or s4"),
        ("/backtest cdc 2024-13-01", "'2024-13-01' is not a date for the start; write it as"),
        ("/backtest 20240101", "'20240101' is not a date for the start; write it as YYYY-MM-DD"),
        ("/backtest cdc 2024-01-01 1/2/2024", "'1/2/2024' is not a date for the end"),
        ("/backtest cdc 2024-02-01 2024-01-01", "The start 2024-02-01 is after the end 2024-01-01"),
        ("/backtest 2030-01-01", "No closed candles from 2030-01-01: the last one is 2025-05-31"),
        ("/backtest cdc 2024-01-01 2024-02-01 x", "Give at most a strategy, a start and an end"),
        ("/backtest s4", "s4 needs gold prices (PAXG/USDT daily candles)"),
    ],
)
async def test_bad_backtest_input_gets_one_line_and_writes_nothing(
    csv_bot: Bot, command: str, says: str
) -> None:
    reply = await csv_bot.say(command, Role.VIEWER)
    assert reply.kind == "error"
    assert says in reply.lines[0] and "\n" not in reply.lines[0]
    assert reply.lines[1] == BACKTEST_USAGE
    assert reply.image is None
    assert charts(csv_bot) == []
    assert csv_bot.counts() == (0, 0, 0, 0)


async def test_too_few_candles_for_the_emas(csv_bot: Bot, clock: Clock) -> None:
    clock.now = datetime(2017, 8, 29, 12, tzinfo=UTC)  # 12 days after Binance's first candle
    assert len(closed_daily(clock.now)) == 12
    signal = await csv_bot.say("/signal")
    assert signal.lines == (
        "Only 12 closed daily BTC/USDT candles so far; the CDC EMAs need at least 26",
        "Usage: /signal",
    )
    backtest = await csv_bot.say("/backtest")
    assert backtest.lines[0] == "Too few candles for the EMAs: 12, need at least 27"
    assert (await csv_bot.say("/signal now")).lines[0] == "/signal takes nothing after it"
    assert charts(csv_bot) == []
    assert csv_bot.counts() == (0, 0, 0, 0)


async def test_a_start_near_the_first_candle_says_the_emas_had_little_history(
    csv_bot: Bot,
) -> None:
    reply = await csv_bot.say("/backtest cdc 2017-09-01 2018-01-31")
    assert fields_of(reply)["Window"] == "2017-09-01 to 2018-01-31 (153 days)"
    assert "Only 15 days of history before the start" in reply.lines[-1]
    calm = await csv_bot.say("/backtest cdc 2019-01-01 2019-12-31")
    assert not any("history before the start" in line for line in calm.lines)


async def test_only_the_newest_charts_are_kept(csv_bot: Bot) -> None:
    folder = csv_bot.services.engine.settings.data_dir / "charts"
    folder.mkdir(parents=True)
    old = time.time() - 86_400
    for i in range(CHARTS_KEPT + 10):
        stale = folder / f"old{i:02d}.png"
        stale.write_bytes(PNG_SIGNATURE)
        os.utime(stale, (old + i, old + i))
    reply = await csv_bot.say("/signal")
    kept = charts(csv_bot)
    assert len(kept) == CHARTS_KEPT
    assert reply.image in kept
    assert folder / "old00.png" not in kept and folder / f"old{CHARTS_KEPT + 9}.png" in kept


async def test_the_event_loop_keeps_running_while_a_chart_renders(csv_bot: Bot) -> None:
    ticks = 0
    done = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    beat = asyncio.create_task(heartbeat())
    started = time.perf_counter()
    reply = await csv_bot.say("/backtest cdc 2020-01-01")
    elapsed = time.perf_counter() - started
    done.set()
    await beat
    assert_png(reply.image)
    # A blocked loop would tick about once; a free one ticks every few milliseconds.
    assert ticks >= max(3, int(elapsed / 0.005) // 8)
