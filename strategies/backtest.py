"""Backtest dca / cdc / s4 over candle history, with the live engine's own decision rules.

Semantics (the issue's, exactly):

* **No look-ahead.** The decision for candle *t* reads only candles up to *t-1* (closed) and
  fills at the **open** of *t*. Indicators run over the whole file, so history before `start`
  warms the EMAs up, but no money moves before `start`.
* **Schedule.** DCA days are every `every` candles, counted from the first candle on or after
  `start` (UTC dates; `end` is inclusive). Candles are counted, not hours, so an exchange outage
  gap shifts later DCA days a little, as it would shift a live bot's daily closes.
* **Order on one candle.** A trend flip (cdc) or rotation (s4) seen on *t-1* is acted on at the
  open of *t* before that candle's scheduled DCA, which then follows the new trend.
* **Fees** are taken from what is received (see `strategies.portfolio`).
* **dca** buys BTC every DCA day. **cdc** applies `strategies.rules`: buy while the trend is up
  (or still unknown), save into the reserve while down, sell `sell_percent` of the BTC on a flip
  to down, deploy the whole reserve on a flip to up. A flip to down with no BTC sells nothing
  and a flip to up with an empty reserve buys nothing; neither counts as a trade. **s4** buys
  the active asset of `strategies.s4` and rotates holdings as described there; it needs daily
  candles for BTC and gold.

Figures:

* `invested` is the total scheduled USDT contributed (`amount` times the DCA days), whether it
  bought an asset or went into the reserve; money later deployed from the reserve is not
  counted again.
* `final_value` = BTC x last close (+ gold x last gold close) + reserve, at the window's last
  candle; `return_pct` = (final_value - invested) / invested x 100.
* `max_drawdown_pct` is the largest peak-to-trough fall of holdings value plus reserve, measured
  at each candle's close, as a percentage of the peak (new contributions count as value, as the
  issue defines it).
* `buys` / `sells` count fills (an s4 rotation is one sell and one buy); reserve deposits are
  not trades.
* `avg_cost` = USDT paid for BTC, **fees included**, divided by BTC received (net of fees), over
  every BTC purchase (DCA, reserve deployment, rotation); `None` when no BTC was bought. It is
  the effective price paid; sells do not change it.

All money is `Decimal` under `MONEY_CONTEXT` (28 significant digits, half-even), independent of
the caller's decimal context, so results are reproducible to the last digit.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from enum import StrEnum

from strategies.candles import Candle, candle_interval
from strategies.cdc import CdcSeries, Flip, PriceSource, Zone, cdc_series, flip_indices
from strategies.indicators import EMA_SLOW_PERIOD
from strategies.portfolio import LedgerEvent
from strategies.rules import check_sell_percent
from strategies.s4 import Rotation, S4Params, align_by_time, ratio_cdc, rotation_schedule
from strategies.simulation import Plan, simulate

MONEY_CONTEXT = Context(
    prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
# The slow EMA needs 26 candles before it has a value; one more candle is needed to act on it.
MIN_CANDLES = EMA_SLOW_PERIOD + 1
DEFAULT_AMOUNT = Decimal(100)
DEFAULT_EVERY = 7
DEFAULT_FEE = Decimal("0.001")
DEFAULT_SELL_PERCENT = Decimal(50)
_ONE_DAY = timedelta(days=1)


class Strategy(StrEnum):
    DCA = "dca"
    CDC = "cdc"
    S4 = "s4"


class BacktestInputError(ValueError):
    """A parameter or input series the backtest cannot run on; `option` names the parameter."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(problem)
        self.option = option


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Figures of one run (see the module docstring) plus per-candle series for charts.

    `flips` and `rotations` are those acted on inside the window. The series are index-aligned
    over the window's candles: `values` is the strategy's holdings plus reserve at each close,
    `dca_values` the same for plain DCA on the same schedule and fee.
    """

    strategy: Strategy
    start: date
    end: date
    candles: int
    invested: Decimal
    btc: Decimal
    gold: Decimal
    reserve: Decimal
    final_value: Decimal
    return_pct: Decimal
    max_drawdown_pct: Decimal
    buys: int
    sells: int
    avg_cost: Decimal | None
    dca_final_value: Decimal
    events: tuple[LedgerEvent, ...]
    flips: tuple[Flip, ...]
    rotations: tuple[Rotation, ...]
    times: tuple[datetime, ...]
    closes: tuple[Decimal, ...]
    zones: tuple[Zone | None, ...]
    values: tuple[Decimal, ...]
    dca_values: tuple[Decimal, ...]


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


def _window(times: Sequence[datetime], start: date | None, end: date | None) -> tuple[int, int]:
    if start is not None and end is not None and start > end:
        raise BacktestInputError("start", f"start {start} is after end {end}")
    first = 0 if start is None else bisect_left(times, _utc_midnight(start))
    last = len(times) - 1 if end is None else bisect_left(times, _utc_midnight(end) + _ONE_DAY) - 1
    if first > last:
        span = f"{start or 'the first candle'} to {end or 'the last candle'}"
        raise BacktestInputError(
            "start" if start is not None else "end", f"no candles from {span}"
        )
    return first, last


def _check_parameters(
    amount: Decimal, every: int, sell_percent: Decimal, fee: Decimal
) -> None:
    if not amount.is_finite() or amount <= 0:
        raise BacktestInputError("amount", f"amount must be a positive number, got {amount}")
    if every < 1:
        raise BacktestInputError("every", f"every must be at least 1 candle, got {every}")
    try:
        check_sell_percent(sell_percent)
    except ValueError as exc:
        raise BacktestInputError("sell_percent", str(exc)) from None
    if not fee.is_finite() or not 0 <= fee < 1:
        raise BacktestInputError("fee", f"fee must be a fraction from 0 to below 1, got {fee}")


def _check_daily(candles: Sequence[Candle], option: str) -> None:
    if len(candles) >= 2 and candle_interval(candles) != _ONE_DAY:
        raise BacktestInputError(
            option, f"s4 needs daily candles; this series is {candle_interval(candles)} apart"
        )


def _s4_plan(
    candles: Sequence[Candle], gold: Sequence[Candle] | None, params: S4Params
) -> tuple[list[Candle], Plan]:
    if gold is None:
        raise BacktestInputError("gold", "strategy s4 needs gold (PAXG/USDT) candles")
    _check_daily(candles, "candles")
    _check_daily(gold, "gold")
    pairs = align_by_time(candles, gold)
    if len(pairs) < MIN_CANDLES:
        raise BacktestInputError(
            "gold",
            f"only {len(pairs)} days have both BTC and gold candles; "
            f"need at least {MIN_CANDLES} for the EMAs",
        )
    active, rotations = rotation_schedule(ratio_cdc(pairs), params)
    btc = [b for b, _ in pairs]
    plan = Plan(
        gold_candles=[g for _, g in pairs], active_after=active, rotations_by_index=rotations
    )
    return btc, plan


def run_backtest(
    candles: Sequence[Candle],
    *,
    strategy: Strategy | str,
    amount: Decimal = DEFAULT_AMOUNT,
    every: int = DEFAULT_EVERY,
    start: date | None = None,
    end: date | None = None,
    sell_percent: Decimal = DEFAULT_SELL_PERCENT,
    fee: Decimal = DEFAULT_FEE,
    gold: Sequence[Candle] | None = None,
    source: PriceSource = PriceSource.CLOSE,
    s4_params: S4Params | None = None,
) -> BacktestResult:
    """Run one strategy over closed candles; raise `BacktestInputError` on unusable input."""
    try:
        chosen = Strategy(strategy)
    except ValueError:
        raise BacktestInputError(
            "strategy", f"unknown strategy {strategy!r}; choose dca, cdc or s4"
        ) from None
    _check_parameters(amount, every, sell_percent, fee)
    if chosen is not Strategy.DCA and len(candles) < MIN_CANDLES:
        raise BacktestInputError(
            "candles",
            f"too few candles for the EMAs: {len(candles)}, need at least {MIN_CANDLES}",
        )
    if chosen is Strategy.S4:
        series_candles, plan = _s4_plan(candles, gold, s4_params or S4Params())
    else:
        if gold is not None:
            raise BacktestInputError("gold", "gold candles are only used by strategy s4")
        series_candles, plan = list(candles), Plan()
    if not series_candles:
        raise BacktestInputError("candles", "no candles")
    cdc: CdcSeries = cdc_series(series_candles, source)
    first, last = _window(cdc.times, start, end)
    with localcontext(MONEY_CONTEXT):
        run = simulate(
            chosen.value,
            series_candles,
            cdc.trends,
            flip_indices(cdc.trends) if chosen is Strategy.CDC else [],
            plan,
            first=first,
            last=last,
            amount=amount,
            every=every,
            sell_percent=sell_percent,
            fee=fee,
        )
        portfolio = run.portfolio
        final_value = run.values[-1]
        hundred = Decimal(100)
        return_pct = (final_value - run.invested) / run.invested * hundred
        avg_cost = portfolio.avg_cost()
    return BacktestResult(
        strategy=chosen,
        start=cdc.times[first].date(),
        end=cdc.times[last].date(),
        candles=last - first + 1,
        invested=run.invested,
        btc=portfolio.btc,
        gold=portfolio.gold,
        reserve=portfolio.reserve,
        final_value=final_value,
        return_pct=return_pct,
        max_drawdown_pct=run.max_drawdown_pct,
        buys=portfolio.buys,
        sells=portfolio.sells,
        avg_cost=avg_cost,
        dca_final_value=run.dca_values[-1],
        events=tuple(portfolio.events),
        flips=tuple(run.flips),
        rotations=tuple(run.rotations),
        times=cdc.times[first : last + 1],
        closes=cdc.closes[first : last + 1],
        zones=cdc.zones[first : last + 1],
        values=tuple(run.values),
        dca_values=tuple(run.dca_values),
    )
