"""S4: rotate the DCA between BTC and gold by the CDC trend of the BTC/gold price ratio.

The ratio is BTC/USDT close divided by PAXG/USDT close, on the **daily** candles both series
have (aligned by open time; a day missing from either series is skipped). The same CDC Action
Zone as for BTC runs on that ratio: an `up` trend means BTC is outperforming gold, so BTC is the
active asset; `down` makes gold active. The active asset starts as BTC (this is a Bitcoin bot)
and changes only by a rotation, which needs all of:

* `confirm_days` consecutive closed candles in the new trend (default 2; the flip candle counts
  as the first), so a one-day wobble does not rotate;
* at least `cooldown_days` since the last rotation (default 3);
* fewer than `max_rotations_30d` rotations (default 2) in the 30 days before this one, so no
  30-day window ever holds more than that (a rotation exactly 30 days ago no longer counts).

A rotation blocked by the cooldown or the 30-day cap happens as soon as it is allowed, provided
the ratio trend still points the same way. Rotation times are the open times of the deciding
(closed) candles, and the state machine runs over the whole history, so the active asset on any
day depends only on candles up to the day before.

What a rotation does to holdings (backtester, and the intent for the live engine): **all** of
the inactive asset is sold at the next candle's open and the proceeds buy the active asset at
the same open, with the fee taken on both legs. A user who asked for "BTC while it beats gold,
gold otherwise" expects the whole stack to follow, not only the new buys; selling a part would
leave an unexplained split. S4 keeps no USDT reserve: every scheduled DCA buys the active asset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context
from enum import StrEnum

from strategies.candles import Candle
from strategies.cdc import CdcSeries, Trend, cdc_from_values

ROTATION_WINDOW = timedelta(days=30)
_RATIO_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)


class Asset(StrEnum):
    BTC = "btc"
    GOLD = "gold"


@dataclass(frozen=True, slots=True)
class S4Params:
    confirm_days: int = 2
    cooldown_days: int = 3
    max_rotations_30d: int = 2

    def __post_init__(self) -> None:
        if self.confirm_days < 1:
            raise ValueError(f"confirm_days must be at least 1, got {self.confirm_days}")
        if self.cooldown_days < 0:
            raise ValueError(f"cooldown_days must not be negative, got {self.cooldown_days}")
        if self.max_rotations_30d < 1:
            raise ValueError(
                f"max_rotations_30d must be at least 1, got {self.max_rotations_30d}"
            )


@dataclass(frozen=True, slots=True)
class Rotation:
    """Switch the active asset; decided on the closed candle opened at `time`."""

    time: datetime
    from_asset: Asset
    to_asset: Asset


def asset_for_trend(trend: Trend | None) -> Asset | None:
    """The asset the ratio trend prefers (None while the ratio trend is unknown)."""
    if trend is Trend.UP:
        return Asset.BTC
    if trend is Trend.DOWN:
        return Asset.GOLD
    return None


def align_by_time(
    btc: Sequence[Candle], gold: Sequence[Candle]
) -> list[tuple[Candle, Candle]]:
    """Pairs of candles with the same open time, oldest first (both inputs sorted)."""
    gold_by_time = {c.time: c for c in gold}
    return [(b, gold_by_time[b.time]) for b in btc if b.time in gold_by_time]


def ratio_cdc(pairs: Sequence[tuple[Candle, Candle]]) -> CdcSeries:
    """CDC Action Zone on the BTC/gold close ratio of aligned candle pairs."""
    times = [b.time for b, _ in pairs]
    closes = [_RATIO_CONTEXT.divide(b.close, g.close) for b, g in pairs]
    values = [float(b.close) / float(g.close) for b, g in pairs]
    return cdc_from_values(times, closes, values)


def decide_rotation(
    active: Asset,
    trends: Sequence[Trend | None],
    decided_at: datetime,
    past_rotations: Sequence[datetime],
    params: S4Params,
) -> Rotation | None:
    """Whether to rotate after the last closed ratio candle (`trends[-1]`, opened `decided_at`).

    `trends` are the ratio trends of closed candles, oldest first (only the last
    `confirm_days` matter); `past_rotations` are the decision times of earlier rotations, oldest
    first. The live engine keeps those in its database and calls this once per daily close.
    """
    if not trends:
        return None
    target = asset_for_trend(trends[-1])
    if target is None or target is active:
        return None
    if len(trends) < params.confirm_days:
        return None
    if any(t is not trends[-1] for t in trends[-params.confirm_days :]):
        return None
    if past_rotations and decided_at - past_rotations[-1] < timedelta(days=params.cooldown_days):
        return None
    recent = sum(1 for t in past_rotations if t > decided_at - ROTATION_WINDOW)
    if recent >= params.max_rotations_30d:
        return None
    return Rotation(decided_at, active, target)


def rotation_schedule(
    ratio: CdcSeries, params: S4Params, initial: Asset = Asset.BTC
) -> tuple[list[Asset], dict[int, Rotation]]:
    """Replay `decide_rotation` over a ratio series.

    Returns the active asset after each closed candle (index-aligned with `ratio`) and the
    rotations keyed by the index of the candle that decided them; a rotation decided on candle
    i is carried out at the open of candle i + 1.
    """
    active = initial
    after: list[Asset] = []
    rotations: dict[int, Rotation] = {}
    times: list[datetime] = []
    trends = ratio.trends
    confirm = params.confirm_days
    for i, decided_at in enumerate(ratio.times):
        window = trends[max(0, i + 1 - confirm) : i + 1]
        rotation = decide_rotation(active, window, decided_at, times, params)
        if rotation is not None:
            rotations[i] = rotation
            times.append(decided_at)
            active = rotation.to_asset
        after.append(active)
    return after, rotations
