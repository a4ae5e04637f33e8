"""S4: rotate between BTC and tokenized gold on the CDC trend of the BTC/gold ratio.

The decision is `strategies.s4.decide_rotation`, the backtester's own rule. Each decision is
recorded once (a `flip_events` row keyed by the deciding candle), which also gives the active
asset (the last rotation's target, BTC at first) and the past rotation times the rule needs.
In shadow mode (the default) the owner is told what S4 would do and nothing is traded; with
`/strategy s4 execute on` the inactive asset is sold and the proceeds buy the active one.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.engine import strategy_settings
from bot.engine.context import Engine
from bot.engine.orders import OrderRequest, place_order
from bot.exchanges.base import ExchangeError
from storage import outbox
from storage.models import FlipEvent
from strategies.s4 import Asset, Rotation, S4Params, align_by_time, decide_rotation, ratio_cdc

GOLD_SYMBOLS = {"binance": "PAXG/USDT", "okx": "XAUT/USDT"}
PAIR = "S4:BTC/GOLD"


def gold_symbol(engine: Engine) -> str:
    return GOLD_SYMBOLS.get(engine.exchange.name, "PAXG/USDT")


def symbol_of(engine: Engine, asset: Asset) -> str:
    return engine.symbol if asset is Asset.BTC else gold_symbol(engine)


def rotation_state(engine: Engine) -> tuple[Asset, list[FlipEvent]]:
    """The active asset and the rotations so far, oldest first."""
    with engine.db.transaction() as session:
        rows = list(
            session.scalars(
                select(FlipEvent)
                .where(FlipEvent.exchange == engine.exchange.name, FlipEvent.symbol == PAIR)
                .order_by(FlipEvent.candle_time)
            )
        )
    return (Asset(rows[-1].trend) if rows else Asset.BTC), rows


async def decide(engine: Engine) -> Rotation | None:
    """The rotation the last closed ratio candle calls for, if any (nothing is recorded)."""
    history = engine.settings.trend_history_days
    btc = await engine.exchange.closed_candles(engine.symbol, history)
    gold = await engine.exchange.closed_candles(gold_symbol(engine), history)
    series = ratio_cdc(align_by_time(btc, gold))
    if not len(series):
        return None
    params = S4Params()
    active, rows = rotation_state(engine)
    return decide_rotation(
        active,
        series.trends[-params.confirm_days :],
        series.times[-1],
        [r.candle_time for r in rows],
        params,
    )


async def s4_watch(engine: Engine) -> str | None:
    """Record and announce a rotation once; execute it when the owner turned execution on."""
    try:
        rotation = await decide(engine)
    except (ExchangeError, LookupError) as exc:
        return f"S4 needs BTC and gold candles: {exc}"
    if rotation is None:
        return None
    execute = strategy_settings.current(engine).s4_execute
    key = f"s4:{engine.exchange.name}:{rotation.time:%Y-%m-%dT%H:%MZ}"
    try:
        with engine.db.transaction() as session:
            session.add(
                FlipEvent(
                    flip_key=key,
                    exchange=engine.exchange.name,
                    symbol=PAIR,
                    candle_time=rotation.time,
                    trend=rotation.to_asset.value,
                    status="started" if execute else "shadow",
                    outcome="",
                    created_at=engine.clock(),
                )
            )
            session.flush()
            outbox.enqueue(
                session,
                kind="s4_rotation",
                now=engine.clock(),
                urgent=True,
                payload={
                    "from": rotation.from_asset.value,
                    "to": rotation.to_asset.value,
                    "candle": rotation.time,
                    "shadow": not execute,
                },
            )
    except IntegrityError:
        return None  # decided and announced before (by us or another process)
    if not execute:
        return f"shadow: would rotate {rotation.from_asset.value} -> {rotation.to_asset.value}"
    return await _execute(engine, rotation, key)


async def _execute(engine: Engine, rotation: Rotation, key: str) -> str:
    sell_symbol = symbol_of(engine, rotation.from_asset)
    held = (await engine.exchange.balances()).get(sell_symbol.split("/")[0], Decimal(0))
    proceeds = Decimal(0)
    if held > 0:
        sold = await place_order(
            engine,
            OrderRequest(
                cause="rotation",
                cause_key=f"{key}:sell",
                side="sell",
                base_amount=held,
                symbol=sell_symbol,
            ),
        )
        if sold.fill is not None:
            proceeds = sold.fill.net_quote(engine.settings.quote_asset)
    outcome = f"sold {held} {sell_symbol}"
    if proceeds > 0:
        bought = await place_order(
            engine,
            OrderRequest(
                cause="rotation",
                cause_key=f"{key}:buy",
                side="buy",
                quote_amount=proceeds,
                symbol=symbol_of(engine, rotation.to_asset),
            ),
        )
        outcome += f", buy {bought.status}"
    with engine.db.transaction() as session:
        event = session.scalar(select(FlipEvent).where(FlipEvent.flip_key == key))
        if event is not None:
            event.status, event.outcome = "done", outcome[:200]
    return outcome
