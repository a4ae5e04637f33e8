"""The S4 watch: decide rotations between BTC and tokenized gold once per daily close.

The rule is `strategies.s4.decide_rotation`, the backtester's own, run on the CDC trend of the
BTC/gold close ratio (closed daily candles of `engine.symbol` and the exchange's gold market,
`markets.GOLD_SYMBOLS`). Each decision is a row of `s4_rotations` keyed by account (exchange and
mode) and deciding candle, so however often the watch runs a rotation is decided once.

The first watch of an account records a baseline: the state machine run over the whole history
before the last closed candle, which gives the asset S4 holds now and the recent rotations the
cooldown and the 30-day cap count; the last closed candle may then rotate. After a gap (the bot
was down) every candle since the last decision is decided in order; only the newest rotation is
traded, the others are told as passed over.

Shadow (the default) records and tells what the rotation would do, trading nothing; with
`/strategy s4 execute on` the rotation is traded by `s4_rotation.carry_out`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.engine import strategy_settings
from bot.engine.context import Engine
from bot.engine.errors import UserError
from bot.engine.funds import funds_now, read_balances
from bot.engine.s4_rotation import carry_out, symbol_of
from bot.exchanges.base import ExchangeError, ExchangeUnavailable
from bot.exchanges.markets import gold_symbol
from storage import outbox, s4, schedules
from storage.models import S4Rotation
from strategies.cdc import CdcSeries
from strategies.s4 import (
    ROTATION_WINDOW,
    Asset,
    Rotation,
    S4Params,
    align_by_time,
    decide_rotation,
    ratio_cdc,
    rotation_schedule,
)

PARAMS = S4Params()
SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class S4State:
    """What S4 holds on an account (per its decisions), since when, and every decision."""

    active: Asset
    since: datetime | None
    decisions: tuple[S4Rotation, ...]

    @property
    def rotations(self) -> tuple[S4Rotation, ...]:
        return tuple(d for d in self.decisions if d.status != s4.BASELINE)


def decision_key(engine: Engine, when: datetime) -> str:
    exchange = engine.exchange
    return f"s4:{exchange.name}:{exchange.mode}:{when:%Y-%m-%dT%H:%MZ}"


def s4_state(engine: Engine) -> S4State:
    with engine.db.transaction() as session:
        rows = tuple(s4.decisions(session, engine.exchange.name, engine.exchange.mode))
    if not rows:
        return S4State(Asset.BTC, None, ())
    last = rows[-1]
    since = s4.legs_of(last).get("since") if last.status == s4.BASELINE else None
    when = datetime.fromisoformat(since) if isinstance(since, str) else last.candle_time
    return S4State(Asset(last.to_asset), when, rows)


@dataclass(frozen=True, slots=True)
class RatioReading:
    """The CDC series of the BTC/gold close ratio, and the last close of each market."""

    series: CdcSeries
    closes: dict[str, Decimal]


async def read_ratio(engine: Engine, history: int | None = None) -> RatioReading:
    """The ratio on the closed daily candles both markets have (`history` days at most)."""
    days = history or engine.settings.trend_history_days
    gold_market = gold_symbol(engine.exchange.name)
    btc = await engine.exchange.closed_candles(engine.symbol, days)
    gold = await engine.exchange.closed_candles(gold_market, days)
    pairs = align_by_time(btc, gold)
    closes = {engine.symbol: pairs[-1][0].close, gold_market: pairs[-1][1].close} if pairs else {}
    return RatioReading(ratio_cdc(pairs), closes)


def _past_rotations(rows: Sequence[S4Rotation]) -> list[datetime]:
    """Decision times the cooldown and the 30-day cap count, oldest first."""
    times = [r.candle_time for r in rows if r.status != s4.BASELINE]
    for row in rows:
        if row.status == s4.BASELINE:
            times += [datetime.fromisoformat(t) for t in s4.legs_of(row).get("recent", [])]
    return sorted(times)


def _baseline(session: Session, engine: Engine, series: CdcSeries) -> S4Rotation:
    """The state after the candle before the last closed one, from the whole history."""
    active_after, rotations = rotation_schedule(series, PARAMS)
    at = series.times[-2]
    earlier = [r for i, r in sorted(rotations.items()) if i < len(series) - 1]
    active = active_after[-2]
    recent = [r.time.isoformat() for r in earlier if r.time > at - ROTATION_WINDOW]
    since = earlier[-1].time if earlier else series.times[0]
    row = S4Rotation(
        decision_key=f"s4-baseline:{engine.exchange.name}:{engine.exchange.mode}",
        exchange=engine.exchange.name,
        mode=engine.exchange.mode,
        candle_time=at,
        from_asset=active.value,
        to_asset=active.value,
        shadow=True,
        status=s4.BASELINE,
        legs=json.dumps({"recent": recent, "since": since.isoformat(), "history": len(earlier)}),
        outcome="watch started",
        attempts=0,
        created_at=engine.clock(),
    )
    session.add(row)
    session.flush()
    return row


def _new_rotations(rows: Sequence[S4Rotation], series: CdcSeries) -> list[Rotation]:
    """The rotations decided on the candles after the last decision, oldest first."""
    active = Asset(rows[-1].to_asset)
    watermark = max(r.candle_time for r in rows)
    past = _past_rotations(rows)
    found: list[Rotation] = []
    trends = series.trends
    for i, when in enumerate(series.times):
        if when <= watermark:
            continue
        window = trends[max(0, i + 1 - PARAMS.confirm_days) : i + 1]
        rotation = decide_rotation(active, window, when, past, PARAMS)
        if rotation is not None:
            found.append(rotation)
            past.append(when)
            active = rotation.to_asset
    return found


async def _would_trade(engine: Engine, rotation: Rotation, series_closes: dict[str, Decimal]
                       ) -> dict[str, Any]:
    """The legs a shadow rotation would trade: all of the asset left, at the last closes."""
    sell_symbol = symbol_of(engine, rotation.from_asset)
    buy_symbol = symbol_of(engine, rotation.to_asset)
    legs: dict[str, Any] = {
        "sell": {"symbol": sell_symbol, "price": series_closes.get(sell_symbol)},
        "buy": {"symbol": buy_symbol, "price": series_closes.get(buy_symbol)},
    }
    try:
        reading = await read_balances(engine)
    except ExchangeError:
        return legs
    base = sell_symbol.split("/")[0]
    held = (await engine.db.transact(funds_now, engine, reading, base)).spendable
    sell_price, buy_price = legs["sell"]["price"], legs["buy"]["price"]
    legs["sell"]["amount"] = held
    if sell_price is not None:
        notional = held * sell_price
        legs["sell"]["notional"] = notional
        if buy_price:
            legs["buy"]["amount"] = (notional / buy_price).quantize(Decimal("0.00000001"))
            legs["buy"]["notional"] = notional
    return legs


def _record(engine: Engine, series: CdcSeries, execute: bool,
            legs: dict[str, Any] | None) -> S4Rotation | None:
    """Record the baseline and the new decisions; returns the one to act on, if any."""
    name, mode, now = engine.exchange.name, engine.exchange.mode, engine.clock()
    with engine.db.transaction() as session:
        rows = list(s4.decisions(session, name, mode))
        if not rows:
            rows.append(_baseline(session, engine, series))
        fresh = _new_rotations(rows, series)
        newest: S4Rotation | None = None
        for rotation in fresh:
            passed_over = rotation is not fresh[-1]
            status = SUPERSEDED if passed_over else (s4.STARTED if execute else s4.SHADOW)
            row = S4Rotation(
                decision_key=decision_key(engine, rotation.time),
                exchange=name,
                mode=mode,
                candle_time=rotation.time,
                from_asset=rotation.from_asset.value,
                to_asset=rotation.to_asset.value,
                shadow=not execute or passed_over,
                status=status,
                legs=json.dumps(legs if status == s4.SHADOW and legs else {}, default=str),
                outcome="a later rotation came first" if passed_over else "",
                attempts=0,
                created_at=now,
            )
            session.add(row)
            session.flush()
            newest = row
            if status != s4.STARTED:  # a traded rotation is told when it ends (s4_rotation)
                outbox.enqueue(session, kind="s4_rotation", now=now, urgent=True,
                               payload=announcement(row, legs if status == s4.SHADOW else None))
        return newest


def announcement(row: S4Rotation, legs: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "exchange": row.exchange,
        "mode": row.mode,
        "from": row.from_asset,
        "to": row.to_asset,
        "candle": row.candle_time,
        "shadow": row.shadow,
        "status": row.status,
        "legs": legs or {},
        "reason": row.outcome,
    }


async def s4_watch(engine: Engine) -> str | None:
    """Decide on the closed candles not decided yet; shadow rotations are told, real ones
    traded. Returns what happened (None when nothing was decided). `ExchangeError` and
    `LookupError` (no gold market) reach the caller, which retries or reports."""
    reading = await read_ratio(engine)
    series = reading.series
    if len(series) < 2:
        return None
    execute = (await engine.db.run(strategy_settings.current, engine)).s4_execute
    preview: dict[str, Any] | None = None
    if not execute:
        preview = await _preview(engine, reading)
    try:
        newest = await engine.db.run(_record, engine, series, execute, preview)
    except IntegrityError:
        return None  # another process decided these candles first: it acts, not us
    if newest is None:
        return None
    if newest.status == s4.SHADOW:
        return f"shadow: would rotate {newest.from_asset} -> {newest.to_asset}"
    return await carry_out(engine, newest.decision_key)


async def _preview(engine: Engine, reading: RatioReading) -> dict[str, Any] | None:
    """The would-be legs of a shadow rotation, read only when a candle rotates."""
    series = reading.series
    state = await engine.db.run(s4_state, engine)
    if state.decisions:
        rows = list(state.decisions)
        fresh = _new_rotations(rows, series)
    else:
        _, rotations = rotation_schedule(series, PARAMS)
        fresh = [r for i, r in rotations.items() if i == len(series) - 1]
    if not fresh:
        return None
    return await _would_trade(engine, fresh[-1], reading.closes)


def s4_in_use(engine: Engine) -> bool:
    """Whether the daily S4 watch should run: an active schedule uses S4, or S4 executes."""
    if strategy_settings.current(engine).s4_execute:
        return True
    with engine.db.transaction() as session:
        legs = schedules.active(session, engine.exchange.name)
        return any(s.mode == "s4" and not s.paused for s in legs)


async def s4_market(engine: Engine, execute: bool) -> tuple[str, str]:
    """The market an `s4` run buys on, with a note for its outcome: first any rotation not
    decided yet is decided (as the backtester rotates before that day's DCA), then the asset S4
    holds is bought; in shadow mode BTC is, and the note says what S4 would have bought."""
    try:
        await s4_watch(engine)
    except ExchangeUnavailable:
        raise
    except (ExchangeError, LookupError) as exc:
        gold = gold_symbol(engine.exchange.name)
        raise UserError(f"S4 needs daily candles of {engine.symbol} and {gold}: {exc}") from None
    active = (await engine.db.run(s4_state, engine)).active
    if execute:
        return symbol_of(engine, active), f" (S4 holds {active.value})"
    if active is Asset.BTC:
        return engine.symbol, " (S4 shadow: holds btc)"
    would = symbol_of(engine, active)
    return engine.symbol, f" (S4 shadow: holds gold, would have bought {would})"
