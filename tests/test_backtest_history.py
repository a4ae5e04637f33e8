"""The backtester on real history: no decision reads a later candle, the date window and DCA
schedule, the edge cases of flips, and the S4 rotation bookkeeping."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from strategies.backtest import BacktestInputError, run_backtest
from strategies.candles import Candle
from strategies.portfolio import EventKind
from strategies.s4 import Asset
from tests.shared_data import BTC_DAILY, BTC_HOURLY, PAXG_DAILY, load_candles


def _scaled(candles: tuple[Candle, ...], from_index: int, factor: Decimal) -> list[Candle]:
    """The same history, with every candle from `from_index` on changed beyond recognition."""
    return list(candles[:from_index]) + [
        replace(c, open=c.open * factor, high=c.high * factor, low=c.low * factor,
                close=c.close * factor)
        for c in candles[from_index:]
    ]


@pytest.mark.parametrize("cut", [40, 400, 1234, 2500, 3000])
@pytest.mark.parametrize("strategy", ["dca", "cdc"])
def test_no_decision_reads_a_later_candle(strategy: str, cut: int) -> None:
    candles = load_candles(BTC_DAILY)
    full = run_backtest(candles, strategy=strategy)
    truncated = run_backtest(candles[:cut], strategy=strategy)
    cut_time = candles[cut - 1].time
    assert truncated.events == tuple(e for e in full.events if e.time <= cut_time)
    assert truncated.values == full.values[:cut]
    # Rewriting the future (prices x3 from candle `cut` on) changes nothing before it; the
    # candle at `cut` itself only fills at its own (changed) open.
    rewritten = run_backtest(_scaled(candles, cut, Decimal(3)), strategy=strategy)
    assert tuple(e for e in rewritten.events if e.time < candles[cut].time) == tuple(
        e for e in full.events if e.time < candles[cut].time
    )
    assert [e.kind for e in rewritten.events if e.time == candles[cut].time] == [
        e.kind for e in full.events if e.time == candles[cut].time
    ]


@pytest.mark.parametrize("cut", [60, 700, 1500])
def test_s4_reads_no_later_candle(cut: int) -> None:
    btc, gold = load_candles(BTC_DAILY), load_candles(PAXG_DAILY)
    full = run_backtest(btc, strategy="s4", gold=gold)
    cut_time = gold[cut - 1].time
    truncated = run_backtest(btc, strategy="s4", gold=gold[:cut])
    assert truncated.events == tuple(e for e in full.events if e.time <= cut_time)
    assert truncated.rotations == tuple(r for r in full.rotations if r.time < cut_time)


def test_hourly_cdc_reads_no_later_candle() -> None:
    # The 4,660 hours in tests/data (2017-08-17 .. 2018-02-28), cut about two thirds of the way
    # (2017-12-20T09:00), as 50,000 cut the full 77,374; flips fall on both sides of the cut.
    candles = load_candles(BTC_HOURLY)
    cut = 3_000
    full = run_backtest(candles, strategy="cdc", every=168)
    truncated = run_backtest(candles[:cut], strategy="cdc", every=168)
    assert truncated.events == tuple(e for e in full.events if e.time <= candles[cut - 1].time)
    later = [e.kind for e in full.events if e.time > candles[cut - 1].time]
    assert EventKind.FLIP_SELL in later and EventKind.RESERVE_DEPLOY in later
    assert EventKind.FLIP_SELL in [e.kind for e in truncated.events]


def test_window_and_schedule() -> None:
    # Every 7 candles from the first candle on or after the start; the end day is included.
    result = run_backtest(load_candles(BTC_DAILY), strategy="dca", start=date(2020, 1, 1),
                          end=date(2020, 1, 29))
    assert (result.start, result.end, result.candles) == (date(2020, 1, 1), date(2020, 1, 29), 29)
    assert [e.time.day for e in result.events] == [1, 8, 15, 22, 29]
    assert result.invested == Decimal(500)


def test_a_flip_down_with_no_btc_sells_nothing() -> None:
    # The trend flipped down on 2018-01-14; starting the next day, that flip meets an empty
    # account, and every DCA until the flip up (seen 2018-02-21) goes to the reserve.
    result = run_backtest(load_candles(BTC_DAILY), strategy="cdc", every=1,
                          start=date(2018, 1, 15), end=date(2018, 2, 21))
    assert (result.buys, result.sells, result.btc) == (0, 0, 0)
    assert result.reserve == result.invested == Decimal(3800)
    assert {e.kind for e in result.events} == {EventKind.RESERVE_DEPOSIT}


def test_a_flip_up_with_an_empty_reserve_buys_nothing() -> None:
    # Flip up on 2017-09-30: on 2017-10-01 the reserve is empty, so only the DCA buys.
    result = run_backtest(load_candles(BTC_DAILY), strategy="cdc", every=1,
                          start=date(2017, 10, 1), end=date(2017, 10, 1))
    assert [e.kind for e in result.events] == [EventKind.DCA_BUY]
    assert result.buys == 1


def test_the_flip_acts_before_the_dca_of_the_same_candle() -> None:
    result = run_backtest(load_candles(BTC_DAILY), strategy="cdc", every=1,
                          start=date(2017, 9, 1), end=date(2018, 3, 1))
    by_time: dict[object, list[EventKind]] = {}
    for event in result.events:
        by_time.setdefault(event.time, []).append(event.kind)
    # 2017-09-13 follows the first flip (down, on 2017-09-12): sell, then save that day's DCA.
    assert by_time[load_candles(BTC_DAILY)[27].time] == [
        EventKind.FLIP_SELL, EventKind.RESERVE_DEPOSIT
    ]
    sells = [kinds for kinds in by_time.values() if EventKind.FLIP_SELL in kinds]
    deploys = [kinds for kinds in by_time.values() if EventKind.RESERVE_DEPLOY in kinds]
    assert sells and all(k == [EventKind.FLIP_SELL, EventKind.RESERVE_DEPOSIT] for k in sells)
    assert deploys and all(k == [EventKind.RESERVE_DEPLOY, EventKind.DCA_BUY] for k in deploys)


def test_s4_rotation_moves_the_whole_inactive_holding_with_a_fee_on_each_leg() -> None:
    result = run_backtest(load_candles(BTC_DAILY), strategy="s4", gold=load_candles(PAXG_DAILY))
    holdings = {Asset.BTC: Decimal(0), Asset.GOLD: Decimal(0)}
    active = Asset.BTC
    events = list(result.events)
    for i, event in enumerate(events):
        if event.kind is EventKind.ROTATION_SELL:
            assert event.base == holdings[event.asset]  # all of it
            buy = events[i + 1]
            assert buy.kind is EventKind.ROTATION_BUY and buy.time == event.time
            assert buy.asset is not event.asset and buy.quote == event.quote
            assert event.price is not None and buy.price is not None
            assert event.quote == event.base * event.price * (1 - Decimal("0.001"))
            active = buy.asset
        if event.kind is EventKind.DCA_BUY:
            assert event.asset is active
        sign = -1 if event.kind is EventKind.ROTATION_SELL else 1
        holdings[event.asset] += sign * event.base
    assert holdings[Asset.BTC] == result.btc
    assert holdings[Asset.GOLD] == result.gold
    assert result.reserve == 0
    assert len(result.rotations) == 41


def test_s4_needs_daily_candles() -> None:
    with pytest.raises(BacktestInputError, match="daily") as caught:
        run_backtest(load_candles(BTC_HOURLY)[:2000], strategy="s4",
                     gold=load_candles(PAXG_DAILY))
    assert caught.value.option == "candles"


def test_s4_needs_enough_days_with_both_prices() -> None:
    btc = load_candles(BTC_DAILY)
    with pytest.raises(BacktestInputError, match="both BTC and gold") as caught:
        run_backtest(btc[:1100], strategy="s4", gold=load_candles(PAXG_DAILY))
    assert caught.value.option == "gold"
