"""EMA: Pine-style seeding, checked by hand on small numbers and against exact rationals on
the real daily BTC closes."""

from __future__ import annotations

from fractions import Fraction

import pytest

from strategies.indicators import EMA_FAST_PERIOD, EMA_SLOW_PERIOD, ema
from tests.shared_data import BTC_DAILY, csv_rows


def exact_ema(values: list[Fraction], period: int) -> list[Fraction | None]:
    """The textbook definition in exact arithmetic: SMA seed, then alpha = 2/(n+1)."""
    out: list[Fraction | None] = [None] * len(values)
    if len(values) < period:
        return out
    alpha = Fraction(2, period + 1)
    current = sum(values[:period], Fraction(0)) / period
    out[period - 1] = current
    for i in range(period, len(values)):
        current = alpha * values[i] + (1 - alpha) * current
        out[i] = current
    return out


def test_cdc_periods_are_the_classic_12_and_26() -> None:
    assert (EMA_FAST_PERIOD, EMA_SLOW_PERIOD) == (12, 26)


def test_ema_is_none_until_seeded_then_follows_alpha_by_hand() -> None:
    # period 3: alpha = 0.5; seed = mean(1, 2, 3) = 2; then 0.5*4 + 0.5*2 = 3; 0.5*5 + 0.5*3 = 4;
    # 0.5*10 + 0.5*4 = 7
    assert ema([1.0, 2.0, 3.0, 4.0, 5.0, 10.0], 3) == [None, None, 2.0, 3.0, 4.0, 7.0]


def test_ema_period_one_is_the_series_itself() -> None:
    assert ema([3.0, 1.0, 2.0], 1) == [3.0, 1.0, 2.0]


def test_ema_with_fewer_values_than_the_period_has_no_value() -> None:
    assert ema([1.0, 2.0], 3) == [None, None]
    assert ema([], 12) == []


def test_ema_rejects_a_period_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ema([1.0], 0)


def test_ema_seed_on_real_candles_matches_the_hand_sum() -> None:
    # The first 12 daily closes (2017-08-17 .. 2017-08-28) add up to 50,420.56, summed by hand
    # (awk over the file): 4285.08 + 4108.37 + 4139.98 + 4086.29 + 4016 + 4040 + 4114.01 +
    # 4316.01 + 4280.68 + 4337.44 + 4310.01 + 4386.69. The EMA12 seed is that / 12.
    closes = [float(row[4]) for row in csv_rows(BTC_DAILY)]
    fast = ema(closes, EMA_FAST_PERIOD)
    assert fast[10] is None
    assert fast[11] == pytest.approx(50420.56 / 12, abs=1e-9)
    assert fast[11] == pytest.approx(4201.713333, abs=1e-6)


@pytest.mark.parametrize("period", [EMA_FAST_PERIOD, EMA_SLOW_PERIOD])
def test_float_ema_agrees_with_exact_rational_ema_on_all_daily_closes(period: int) -> None:
    rows = csv_rows(BTC_DAILY)
    exact = exact_ema([Fraction(row[4]) for row in rows], period)
    fast = ema([float(row[4]) for row in rows], period)
    for got, want in zip(fast, exact, strict=True):
        if want is None:
            assert got is None
        else:
            assert got is not None
            assert abs(Fraction(got) - want) <= want * Fraction(1, 10**12)
