"""What `/s4` shows: the asset S4 holds and since when, the BTC/gold ratio trend and since when,
the last rotations (real or shadow), the holdings, what the next signal will do, and a chart of
the ratio with its EMAs. Read-only: it records nothing (the watch decides)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from bot.charts import render_signal_chart
from bot.engine import strategy_settings
from bot.engine.analysis import SIGNAL_HISTORY_DAYS, render_chart
from bot.engine.context import Engine
from bot.engine.errors import UserError
from bot.engine.s4_rotation import holdings_after, symbol_of
from bot.engine.s4_watch import PARAMS, read_ratio, s4_state
from bot.exchanges.base import ExchangeError
from bot.exchanges.markets import gold_symbol
from bot.i18n import _
from storage.models import S4Rotation
from strategies.cdc import Flip, current_trend_since
from strategies.s4 import Asset, rotation_schedule

ROTATIONS_SHOWN = 5


@dataclass(frozen=True, slots=True)
class RotationLine:
    decided: datetime
    from_asset: str
    to_asset: str
    status: str

    @classmethod
    def of(cls, row: S4Rotation) -> RotationLine:
        return cls(row.candle_time, row.from_asset, row.to_asset, row.status)


@dataclass(frozen=True, slots=True)
class S4View:
    exchange: str
    mode: str
    execute: bool
    active: Asset
    since: datetime | None
    watched: bool  # False: no watch ran on this account yet; `active` is from the history
    ratio: Decimal
    last_close: datetime
    trend_since: Flip | None
    rotations: tuple[RotationLine, ...]  # the last few, newest first
    holdings: dict[str, Decimal]
    chart: Path
    gold_market: str

    def next_signal(self, engine: Engine) -> str:
        """What the next rotation will do, in words."""
        leave = symbol_of(engine, self.active).split("/")[0]
        to = Asset.GOLD if self.active is Asset.BTC else Asset.BTC
        buy = symbol_of(engine, to).split("/")[0]
        if self.active is Asset.BTC:
            text = _("When the ratio trend turns down (gold ahead) for {days} closed days, S4 "
                     "sells all {leave} on {exchange} ({mode}) and buys {buy} with it")
        else:
            text = _("When the ratio trend turns up (BTC ahead) for {days} closed days, S4 "
                     "sells all {leave} on {exchange} ({mode}) and buys {buy} with it")
        return text.format(days=PARAMS.confirm_days, leave=leave, exchange=self.exchange,
                           mode=self.mode, buy=buy)


async def s4_view(engine: Engine) -> S4View:
    try:
        reading = await read_ratio(engine, SIGNAL_HISTORY_DAYS)
    except (ExchangeError, LookupError) as exc:
        gold = gold_symbol(engine.exchange.name)
        raise UserError(_("S4 needs daily candles of {symbol} and {gold}: {reason}").format(
            symbol=engine.symbol, gold=gold, reason=exc)) from None
    series = reading.series
    if len(series) < 2:
        raise UserError(
            _("Only {count} days have both {symbol} and {gold} candles; S4 needs more "
              "history").format(count=len(series), symbol=engine.symbol,
                                gold=gold_symbol(engine.exchange.name))
        )
    state = await engine.db.run(s4_state, engine)
    active, since = state.active, state.since
    if not state.decisions:  # not watched yet: what the history says S4 would hold
        after, rotations = rotation_schedule(series, PARAMS)
        active = after[-1]
        since = rotations[max(rotations)].time if rotations else None
    title = (
        f"BTC/gold ratio ({engine.symbol} ÷ {gold_symbol(engine.exchange.name)}), last close "
        f"{series.times[-1]:%Y-%m-%d}: trend {series.trends[-1] or 'not set'}"
    )
    chart = await render_chart(engine, lambda path: render_signal_chart(series, path, title=title))
    settings = await engine.db.run(strategy_settings.current, engine)
    return S4View(
        exchange=engine.exchange.name,
        mode=engine.exchange.mode,
        execute=settings.s4_execute,
        active=active,
        since=since,
        watched=bool(state.decisions),
        ratio=series.closes[-1],
        last_close=series.times[-1],
        trend_since=current_trend_since(series),
        rotations=tuple(RotationLine.of(r) for r in reversed(state.rotations[-ROTATIONS_SHOWN:])),
        holdings=await holdings_after(engine),
        chart=chart,
        gold_market=gold_symbol(engine.exchange.name),
    )
