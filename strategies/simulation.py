"""The backtester's candle-by-candle loop: decide on *t-1*, fill at the open of *t*, value at
the close of *t*.

Kept apart from `strategies.backtest` (parameters, windows, result) so the one loop every
strategy shares reads top to bottom. Decisions come only from `strategies.rules` and the s4
rotation schedule, both of which read closed candles before *t*; this loop only applies them.
The caller runs it inside the pinned decimal context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from strategies.candles import Candle
from strategies.cdc import Flip, Trend
from strategies.portfolio import EventKind, Portfolio
from strategies.rules import (
    BuyBtc,
    DeployReserve,
    SellPercent,
    decide_on_flip,
    decide_scheduled_dca,
)
from strategies.s4 import Asset, Rotation

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Plan:
    """S4's inputs: gold candles aligned with the BTC ones and the precomputed rotations."""

    gold_candles: list[Candle] | None = None
    active_after: list[Asset] | None = None
    rotations_by_index: dict[int, Rotation] = field(default_factory=dict)


@dataclass(slots=True)
class Run:
    portfolio: Portfolio
    invested: Decimal
    values: list[Decimal]
    dca_values: list[Decimal]
    max_drawdown_pct: Decimal
    flips: list[Flip]
    rotations: list[Rotation]


def _act_on_flip(p: Portfolio, flip: Flip, candle: Candle, sell_percent: Decimal) -> None:
    action = decide_on_flip(flip, p.btc, p.reserve, sell_percent)
    if isinstance(action, SellPercent):
        p.reserve += p.sell(
            Asset.BTC, action.base_amount, candle.open, candle.time, EventKind.FLIP_SELL
        )
    elif isinstance(action, DeployReserve):
        p.reserve = _ZERO  # the whole reserve, exactly (no 0E-23 left over)
        p.buy(Asset.BTC, action.quote_amount, candle.open, candle.time, EventKind.RESERVE_DEPLOY)


def _rotate(p: Portfolio, rotation: Rotation, btc: Candle, gold: Candle) -> None:
    price = {Asset.BTC: btc.open, Asset.GOLD: gold.open}
    proceeds = p.sell(
        rotation.from_asset,
        p.holding(rotation.from_asset),
        price[rotation.from_asset],
        btc.time,
        EventKind.ROTATION_SELL,
    )
    p.buy(rotation.to_asset, proceeds, price[rotation.to_asset], btc.time, EventKind.ROTATION_BUY)


def simulate(
    strategy: str,
    candles: Sequence[Candle],
    trends: Sequence[Trend | None],
    flip_candles: Sequence[int],
    plan: Plan,
    *,
    first: int,
    last: int,
    amount: Decimal,
    every: int,
    sell_percent: Decimal,
    fee: Decimal,
) -> Run:
    """Walk candles `first..last`; `flip_candles` are indices of flip candles (cdc only).

    Holdings change only on candles with a flip, rotation or DCA (the "event" candles), so the
    per-candle path is just the valuation and the drawdown; it is written for speed because an
    hourly history has 77,000 candles.
    """
    p = Portfolio(fee)
    keep = Decimal(1) - fee
    cdc_enabled = strategy == "cdc"
    flip_fills = {i + 1: i for i in flip_candles if first <= i + 1 <= last}
    rotation_fills = {
        i + 1: r for i, r in plan.rotations_by_index.items() if first <= i + 1 <= last
    }
    dca_days = set(range(first, last + 1, every))
    event_candles = dca_days | flip_fills.keys() | rotation_fills.keys()
    gold = plan.gold_candles
    gold_closes = None if gold is None else [g.close for g in gold[first : last + 1]]
    active_after = plan.active_after
    acted_flips: list[Flip] = []
    acted_rotations: list[Rotation] = []
    values: list[Decimal] = []
    dca_values: list[Decimal] = []
    add_value, add_dca_value = values.append, dca_values.append
    invested = dca_btc = _ZERO
    btc = gold_held = reserve = _ZERO
    peak = trough = max_drawdown = _ZERO
    for offset, candle in enumerate(candles[first : last + 1]):
        t = first + offset
        if t in event_candles:
            if t in flip_fills:
                trend = trends[t - 1]
                if trend is not None:
                    flip = Flip(candles[t - 1].time, trend)
                    acted_flips.append(flip)
                    _act_on_flip(p, flip, candle, sell_percent)
            if t in rotation_fills and gold is not None:
                acted_rotations.append(rotation_fills[t])
                _rotate(p, rotation_fills[t], candle, gold[t])
            if t in dca_days:
                invested += amount
                dca_btc += amount * keep / candle.open
                if gold is not None and active_after is not None:
                    asset = active_after[t - 1] if t > 0 else Asset.BTC
                    price = candle.open if asset is Asset.BTC else gold[t].open
                    p.buy(asset, amount, price, candle.time, EventKind.DCA_BUY)
                else:
                    trend_before = trends[t - 1] if t > 0 else None
                    action = decide_scheduled_dca(trend_before, cdc_enabled, amount)
                    if isinstance(action, BuyBtc):
                        p.buy(Asset.BTC, amount, candle.open, candle.time, EventKind.DCA_BUY)
                    else:
                        p.deposit_reserve(amount, candle.time)
            btc, gold_held, reserve = p.btc, p.gold, p.reserve
        close = candle.close
        value = btc * close + reserve
        if gold_closes is not None:
            value += gold_held * gold_closes[offset]
        add_value(value)
        add_dca_value(dca_btc * close)
        if value > peak:
            if trough < peak:
                max_drawdown = max(max_drawdown, (peak - trough) / peak)
            peak = trough = value
        elif value < trough:
            trough = value
    if trough < peak:
        max_drawdown = max(max_drawdown, (peak - trough) / peak)
    return Run(
        portfolio=p,
        invested=invested,
        values=values,
        dca_values=dca_values,
        max_drawdown_pct=max_drawdown * 100,
        flips=acted_flips,
        rotations=acted_rotations,
    )
