"""The backtester: hand-computed small cases, a straightforward reference loop on the real
daily candles (exact to the last digit), no look-ahead, reproducibility, and bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

import pytest

from strategies.backtest import BacktestInputError, BacktestResult, run_backtest
from strategies.candles import Candle
from strategies.portfolio import EventKind
from tests.shared_data import BTC_DAILY, PAXG_DAILY, load_candles
from tests.test_cdc import _reference

D = Decimal
FEE = D("0.001")
CTX = Context(prec=28, rounding=ROUND_HALF_EVEN)
AMOUNT = D(100)


def _candles(opens: list[str], closes: list[str]) -> list[Candle]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        Candle(start + timedelta(days=i), D(o), max(D(o), D(c)), min(D(o), D(c)), D(c), D(1))
        for i, (o, c) in enumerate(zip(opens, closes, strict=True))
    ]


# --- small cases computed by hand ----------------------------------------------------------------


def test_plain_dca_by_hand() -> None:
    # 100 USDT at opens 100, 200, 400 with a 0.1% fee: 0.999 + 0.4995 + 0.24975 = 1.74825 BTC;
    # worth 1.74825 * 500 = 874.125 at the last close; return (874.125 - 300) / 300 = 191.375 %.
    result = run_backtest(_candles(["100", "200", "400"], ["150", "300", "500"]),
                          strategy="dca", amount=D(100), every=1, fee=FEE)
    assert result.invested == D(300)
    assert result.btc == D("1.74825")
    assert result.final_value == D("874.125")
    assert result.return_pct == D("191.375")
    assert result.values == (D("149.85"), D("449.55"), D("874.125"))
    assert result.max_drawdown_pct == 0
    assert (result.buys, result.sells, result.reserve) == (3, 0, 0)
    # 300 USDT paid for 1.74825 BTC: 171.600171600... (the fee is in the cost)
    assert result.avg_cost == D("171.6001716001716001716001716")


def test_drawdown_is_peak_to_trough_of_value_at_closes() -> None:
    # One buy of 0.999 BTC at 100; closes 100, 50, 100: value 99.9 -> 49.95 -> 99.9 = 50 %.
    result = run_backtest(_candles(["100"] * 3, ["100", "50", "100"]), strategy="dca",
                          every=3, fee=FEE)
    assert result.values == (D("99.9"), D("49.95"), D("99.9"))
    assert result.max_drawdown_pct == D(50)


def _scenario() -> list[Candle]:
    # 30 flat days (no zone), a rise (green from day 30: flip up), a crash (orange on day 35,
    # red on day 36: flip down), a rebound (green on day 40: flip up). Opens are close - 1.
    closes = [100] * 30 + [110, 120, 130, 140, 150, 60, 55, 50, 80, 120, 160, 200]
    return _candles([str(c - 1) for c in closes], [str(c) for c in closes])


def test_cdc_semantics_step_by_step() -> None:
    candles = _scenario()
    result = run_backtest(candles, strategy="cdc", every=1, start=date(2024, 1, 29), fee=FEE)
    kinds = [(e.time.day - 1 + (e.time.month - 1) * 31, e.kind) for e in result.events]
    buy, sell = EventKind.DCA_BUY, EventKind.FLIP_SELL
    save, deploy = EventKind.RESERVE_DEPOSIT, EventKind.RESERVE_DEPLOY
    assert kinds == (
        [(day, buy) for day in range(28, 37)]  # trend unknown (28-30) or up (31-36)
        + [(37, sell), (37, save)]  # flip down seen on day 36: sell first, then save the DCA
        + [(38, save), (39, save), (40, save)]
        + [(41, deploy), (41, buy)]  # flip up seen on day 40: deploy, then buy
    )
    with localcontext(CTX):
        btc = D(0)
        for day in range(28, 37):
            btc += D(100) * (1 - FEE) / candles[day].open
        sold = btc * D(50) / D(100)
        btc -= sold
        reserve = sold * D(49) * (1 - FEE) + D(400)  # day 37 opens at 49
        btc += reserve * (1 - FEE) / D(199)
        btc += D(100) * (1 - FEE) / D(199)
    assert result.events[9].base == sold
    assert result.events[-2].quote == reserve
    assert result.btc == btc
    assert (result.invested, result.reserve, result.buys, result.sells) == (D(1400), 0, 11, 1)
    assert result.final_value == btc * D(200)


def test_too_few_candles_for_the_emas() -> None:
    with pytest.raises(BacktestInputError, match="too few candles") as caught:
        run_backtest(_scenario()[:26], strategy="cdc")
    assert caught.value.option == "candles"


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"strategy": "hodl"}, "strategy"),
        ({"strategy": "cdc", "amount": D(-5)}, "amount"),
        ({"strategy": "cdc", "amount": D(0)}, "amount"),
        ({"strategy": "cdc", "every": 0}, "every"),
        ({"strategy": "cdc", "sell_percent": D(101)}, "sell_percent"),
        ({"strategy": "cdc", "sell_percent": D(-1)}, "sell_percent"),
        ({"strategy": "cdc", "fee": D(1)}, "fee"),
        ({"strategy": "cdc", "start": date(2024, 2, 1), "end": date(2024, 1, 1)}, "start"),
        ({"strategy": "cdc", "start": date(2030, 1, 1)}, "start"),
        ({"strategy": "s4"}, "gold"),
        ({"strategy": "cdc", "gold": []}, "gold"),
    ],
)
def test_bad_parameters_name_their_option(kwargs: dict[str, object], option: str) -> None:
    with pytest.raises(BacktestInputError) as caught:
        run_backtest(_scenario(), **kwargs)  # type: ignore[arg-type]
    assert caught.value.option == option


# --- the real daily candles against a straightforward reference loop ---------------------------


def reference_backtest(
    candles: tuple[Candle, ...], trends: list[str | None], *, cdc: bool, every: int,
    first: int, last: int, sell_percent: Decimal, amount: Decimal = AMOUNT, fee: Decimal = FEE,
) -> dict[str, object]:
    """The issue's rules written as plainly as possible, one candle at a time."""
    btc = reserve = invested = spent = bought = D(0)
    buys = sells = 0
    values = []
    with localcontext(CTX):
        for t in range(first, last + 1):
            price = candles[t].open
            before = trends[t - 1] if t >= 1 else None
            if cdc and t >= 2 and before is not None and before != trends[t - 2]:
                if before == "down" and btc * sell_percent / 100 > 0:
                    quantity = btc * sell_percent / 100
                    btc -= quantity
                    reserve += quantity * price * (1 - fee)
                    sells += 1
                elif before == "up" and reserve > 0:
                    got = reserve * (1 - fee) / price
                    btc, spent, bought, buys = btc + got, spent + reserve, bought + got, buys + 1
                    reserve = D(0)
            if (t - first) % every == 0:
                invested += amount
                if cdc and before == "down":
                    reserve += amount
                else:
                    got = amount * (1 - fee) / price
                    btc, spent, bought, buys = btc + got, spent + amount, bought + got, buys + 1
            values.append(btc * candles[t].close + reserve)
        peak = drawdown = D(0)
        for value in values:
            peak = max(peak, value)
            drawdown = max(drawdown, (peak - value) / peak)
        return {
            "invested": invested, "btc": btc, "reserve": reserve, "final_value": values[-1],
            "return_pct": (values[-1] - invested) / invested * 100,
            "max_drawdown_pct": drawdown * 100, "buys": buys, "sells": sells,
            "avg_cost": spent / bought, "values": tuple(values),
        }


def _figures(result: BacktestResult) -> dict[str, object]:
    return {
        "invested": result.invested, "btc": result.btc, "reserve": result.reserve,
        "final_value": result.final_value, "return_pct": result.return_pct,
        "max_drawdown_pct": result.max_drawdown_pct, "buys": result.buys,
        "sells": result.sells, "avg_cost": result.avg_cost, "values": result.values,
    }


@pytest.mark.parametrize(
    ("strategy", "every", "start", "end", "sell_percent"),
    [
        ("cdc", 7, None, None, D(50)),
        ("dca", 7, None, None, D(50)),
        ("cdc", 1, date(2020, 1, 1), date(2022, 12, 31), D(30)),
        ("cdc", 30, date(2018, 6, 15), None, D(100)),
        ("cdc", 3, None, date(2019, 1, 1), D(0)),
    ],
)
def test_daily_backtest_matches_the_reference_loop_exactly(
    strategy: str, every: int, start: date | None, end: date | None, sell_percent: Decimal
) -> None:
    candles = load_candles(BTC_DAILY)
    times, _, trends = _reference()
    dates = [t[:10] for t in times]
    first = 0 if start is None else next(i for i, d in enumerate(dates) if d >= str(start))
    last = len(dates) - 1 if end is None else max(i for i, d in enumerate(dates) if d <= str(end))
    result = run_backtest(candles, strategy=strategy, every=every, start=start, end=end,
                          sell_percent=sell_percent)
    expected = reference_backtest(candles, trends, cdc=strategy == "cdc", every=every,
                                  first=first, last=last, sell_percent=sell_percent)
    assert _figures(result) == expected


def test_daily_cdc_default_figures_are_pinned() -> None:
    # Verified by `reference_backtest` above (an independent loop); pinned so that any change
    # of a digit is noticed.
    result = run_backtest(load_candles(BTC_DAILY), strategy="cdc")
    assert result.invested == D(43800)
    assert result.btc == D("1.743629474038278738976695973")
    assert result.reserve == D("194136.9895295054440846393669")
    assert result.final_value == D("357793.5463101908154241577477")
    assert result.max_drawdown_pct == D("64.74964902256720674163611605")
    assert (result.buys, result.sells) == (279, 44)


@pytest.mark.parametrize("strategy", ["dca", "cdc", "s4"])
def test_results_are_reproducible_to_the_last_digit(strategy: str) -> None:
    gold = load_candles(PAXG_DAILY) if strategy == "s4" else None
    runs = [run_backtest(load_candles(BTC_DAILY), strategy=strategy, gold=gold)
            for _ in range(2)]
    assert runs[0] == runs[1]
    with localcontext(Context(prec=5)):  # the caller's decimal context must not matter
        third = run_backtest(load_candles(BTC_DAILY), strategy=strategy, gold=gold)
    assert third == runs[0]


def test_s4_default_figures_are_pinned() -> None:
    result = run_backtest(load_candles(BTC_DAILY), strategy="s4", gold=load_candles(PAXG_DAILY))
    assert (result.start, result.end, result.candles) == (date(2020, 8, 28), date(2026, 1, 5), 1957)
    assert result.invested == D(28000)
    assert result.btc == D(0)
    assert result.gold == D("24.35116847868965168373875227")
    assert result.final_value == D("108251.9019135909120774764363")
    assert (result.buys, result.sells, len(result.rotations)) == (321, 41, 41)
