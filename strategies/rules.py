"""The DCA and reserve rules, as pure decisions shared by the backtester and the live engine.

Each rule reads the trend of **closed** candles and the caller's state (BTC held, reserve
balance) and returns an action; it never trades. The backtester applies the action to a
simulated portfolio at the next candle's open; the live engine turns the same action into an
order intent and a reserve-ledger row in one transaction. Keeping the decision here, and only
here, is what lets a later replay compare the engine against the backtester.

The rules:

* a scheduled DCA buys BTC while the trend is up and moves its amount into the reserve while the
  trend is down; with CDC disabled it always buys. While the trend is still unknown (not enough
  history for the EMAs, or no green or red candle yet) it buys: CDC only diverts money once it
  has seen a downtrend, so an unknown trend behaves like plain DCA;
* a flip to down sells `sell_percent` (0-100) of the BTC held into the reserve;
* a flip to up buys BTC with the whole reserve;
* on a day with both, the caller applies the flip's action before the scheduled DCA.

Amounts returned are exact (unquantized): the exchange layer rounds them to the market's step.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from strategies.cdc import Flip, Trend

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
DEFAULT_SELL_PERCENT = Decimal(50)


@dataclass(frozen=True, slots=True)
class BuyBtc:
    """Spend `quote_amount` USDT on BTC (a scheduled DCA buy)."""

    quote_amount: Decimal


@dataclass(frozen=True, slots=True)
class MoveToReserve:
    """Keep `quote_amount` USDT in the reserve instead of buying (trend is down)."""

    quote_amount: Decimal


@dataclass(frozen=True, slots=True)
class SellPercent:
    """Sell `base_amount` BTC (`percent` of the holdings) and put the proceeds in the reserve."""

    percent: Decimal
    base_amount: Decimal


@dataclass(frozen=True, slots=True)
class DeployReserve:
    """Spend the whole reserve, `quote_amount` USDT, on BTC (trend turned up)."""

    quote_amount: Decimal


@dataclass(frozen=True, slots=True)
class NoAction:
    """Nothing to do; `reason` is shown to the user (for example "no BTC to sell")."""

    reason: str


ScheduledAction = BuyBtc | MoveToReserve
FlipAction = SellPercent | DeployReserve | NoAction


def check_sell_percent(sell_percent: Decimal) -> None:
    if not sell_percent.is_finite() or not _ZERO <= sell_percent <= _HUNDRED:
        raise ValueError(f"sell percent must be between 0 and 100, got {sell_percent}")


def decide_scheduled_dca(
    trend: Trend | None, cdc_enabled: bool, amount: Decimal
) -> ScheduledAction:
    """What a scheduled DCA of `amount` USDT does, given the trend of the last closed candle."""
    if amount <= _ZERO:
        raise ValueError(f"DCA amount must be positive, got {amount}")
    if cdc_enabled and trend is Trend.DOWN:
        return MoveToReserve(amount)
    return BuyBtc(amount)


def decide_on_flip(
    flip: Flip, holdings: Decimal, reserve: Decimal, sell_percent: Decimal
) -> FlipAction:
    """React to a trend flip seen on the last closed candle (call only with CDC enabled).

    `holdings` is the BTC held and `reserve` the USDT reserve balance at decision time. A flip to
    down with no BTC, or a sell percent of 0, sells nothing; a flip to up with an empty reserve
    buys nothing: both give `NoAction`, and neither counts as a trade.
    """
    check_sell_percent(sell_percent)
    if flip.trend is Trend.DOWN:
        quantity = holdings * sell_percent / _HUNDRED
        if quantity <= _ZERO:
            return NoAction("no BTC to sell" if holdings <= _ZERO else "sell percent is 0")
        return SellPercent(sell_percent, quantity)
    if reserve <= _ZERO:
        return NoAction("the reserve is empty")
    return DeployReserve(reserve)
