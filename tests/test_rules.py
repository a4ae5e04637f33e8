"""The decision rules shared by the backtester and the live engine, and the S4 rotation gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from strategies.cdc import CdcSeries, Flip, Trend
from strategies.rules import (
    BuyBtc,
    DeployReserve,
    MoveToReserve,
    NoAction,
    SellPercent,
    decide_on_flip,
    decide_scheduled_dca,
)
from strategies.s4 import Asset, Rotation, S4Params, decide_rotation, rotation_schedule

T0 = datetime(2024, 1, 1, tzinfo=UTC)
D = Decimal


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


@pytest.mark.parametrize(
    ("trend", "cdc_enabled", "expected"),
    [
        (Trend.UP, True, BuyBtc(D(100))),
        (Trend.DOWN, True, MoveToReserve(D(100))),
        (None, True, BuyBtc(D(100))),  # unknown trend: behave like plain DCA
        (Trend.DOWN, False, BuyBtc(D(100))),  # CDC disabled: every DCA buys
        (Trend.UP, False, BuyBtc(D(100))),
    ],
)
def test_scheduled_dca(trend: Trend | None, cdc_enabled: bool, expected: object) -> None:
    assert decide_scheduled_dca(trend, cdc_enabled, D(100)) == expected


def test_scheduled_dca_rejects_a_non_positive_amount() -> None:
    with pytest.raises(ValueError, match="positive"):
        decide_scheduled_dca(Trend.UP, True, D(0))


def test_flip_down_sells_the_percent_of_holdings() -> None:
    action = decide_on_flip(Flip(T0, Trend.DOWN), D("0.3"), D(0), D(50))
    assert action == SellPercent(D(50), D("0.15"))
    action = decide_on_flip(Flip(T0, Trend.DOWN), D("0.3"), D(0), D("12.5"))
    assert action == SellPercent(D("12.5"), D("0.0375"))


def test_flip_down_with_no_btc_or_zero_percent_sells_nothing() -> None:
    assert decide_on_flip(Flip(T0, Trend.DOWN), D(0), D(500), D(50)) == NoAction("no BTC to sell")
    assert decide_on_flip(Flip(T0, Trend.DOWN), D(1), D(0), D(0)) == NoAction("sell percent is 0")


def test_flip_up_deploys_the_whole_reserve_or_nothing() -> None:
    assert decide_on_flip(Flip(T0, Trend.UP), D(1), D("250.5"), D(50)) == DeployReserve(D("250.5"))
    assert decide_on_flip(Flip(T0, Trend.UP), D(1), D(0), D(50)) == NoAction(
        "the reserve is empty"
    )


@pytest.mark.parametrize("percent", ["-1", "100.01", "NaN"])
def test_sell_percent_outside_0_to_100_is_refused(percent: str) -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        decide_on_flip(Flip(T0, Trend.DOWN), D(1), D(0), D(percent))


def test_selling_100_percent_sells_everything() -> None:
    assert decide_on_flip(Flip(T0, Trend.DOWN), D("0.7"), D(0), D(100)) == SellPercent(
        D(100), D("0.7")
    )


# --- S4 rotation gate -------------------------------------------------------------------------

PARAMS = S4Params()


def test_rotation_needs_two_consecutive_candles_in_the_new_trend() -> None:
    assert decide_rotation(Asset.BTC, [Trend.UP, Trend.DOWN], day(1), [], PARAMS) is None
    assert decide_rotation(Asset.BTC, [Trend.DOWN, Trend.DOWN], day(2), [], PARAMS) == Rotation(
        day(2), Asset.BTC, Asset.GOLD
    )
    assert decide_rotation(Asset.BTC, [Trend.DOWN], day(2), [], PARAMS) is None


def test_no_rotation_towards_the_asset_already_active_or_without_a_trend() -> None:
    assert decide_rotation(Asset.GOLD, [Trend.DOWN, Trend.DOWN], day(5), [], PARAMS) is None
    assert decide_rotation(Asset.BTC, [None, None], day(5), [], PARAMS) is None
    assert decide_rotation(Asset.BTC, [], day(5), [], PARAMS) is None


def test_rotation_waits_for_the_cooldown() -> None:
    trends = [Trend.UP, Trend.UP]
    assert decide_rotation(Asset.GOLD, trends, day(12), [day(10)], PARAMS) is None
    assert decide_rotation(Asset.GOLD, trends, day(13), [day(10)], PARAMS) == Rotation(
        day(13), Asset.GOLD, Asset.BTC
    )


def test_at_most_two_rotations_in_30_days() -> None:
    trends = [Trend.UP, Trend.UP]
    past = [day(0), day(10)]
    assert decide_rotation(Asset.GOLD, trends, day(20), past, PARAMS) is None
    # Any 30-day window holds at most two: on day 29 the window (day -1, day 29] still holds
    # days 0 and 10; on day 30 it is (day 0, day 30] and holds only day 10.
    assert decide_rotation(Asset.GOLD, trends, day(29), past, PARAMS) is None
    assert decide_rotation(Asset.GOLD, trends, day(30), past, PARAMS) is not None


def test_s4_params_are_validated() -> None:
    with pytest.raises(ValueError, match="confirm_days"):
        S4Params(confirm_days=0)
    with pytest.raises(ValueError, match="max_rotations_30d"):
        S4Params(max_rotations_30d=0)


def _ratio_series(trends: list[Trend | None]) -> CdcSeries:
    n = len(trends)
    return CdcSeries(
        tuple(day(i) for i in range(n)), tuple(D(1) for _ in range(n)), (None,) * n,
        (None,) * n, (None,) * n, tuple(trends),
    )


def test_rotation_schedule_replays_the_gate_day_by_day() -> None:
    u, d = Trend.UP, Trend.DOWN
    #            0     1  2  3  4  5  6  7  8  9
    trends = [None, d, d, u, u, d, d, d, u, u]
    active, rotations = rotation_schedule(_ratio_series(trends), PARAMS)
    # day 2: 2nd down day -> gold. day 4: 2nd up day, but the cooldown (3 days) blocks until
    # day 5, when the trend is down again: no rotation. Day 9: 2nd up day, 7 days after the
    # last rotation -> BTC.
    assert rotations == {
        2: Rotation(day(2), Asset.BTC, Asset.GOLD),
        9: Rotation(day(9), Asset.GOLD, Asset.BTC),
    }
    btc, gold = Asset.BTC, Asset.GOLD
    assert active == [btc, btc, gold, gold, gold, gold, gold, gold, gold, btc]


def test_a_blocked_rotation_happens_once_the_cooldown_ends() -> None:
    u, d = Trend.UP, Trend.DOWN
    trends = [d, d, u, u, u, u]
    _, rotations = rotation_schedule(_ratio_series(trends), PARAMS)
    assert rotations == {
        1: Rotation(day(1), Asset.BTC, Asset.GOLD),
        4: Rotation(day(4), Asset.GOLD, Asset.BTC),  # up confirmed on day 3, cooldown to day 4
    }
