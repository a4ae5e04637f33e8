"""What a fill's alert card explains beside the fill itself: why it happened (its cause, its
schedule, the rule applied), the trend it was read under (zone, EMA 12/26, the last closed
candle), and where things stand after it (the books' holdings and the reserve)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.engine.context import Engine
from bot.engine.portfolio import cost_basis
from storage import ledger, orders
from storage.models import Order, Schedule
from strategies.cdc import CdcSeries


def _schedule(session: Session, order: Order) -> Schedule | None:
    parts = orders.base_key(order.cause_key).split(":")
    if order.cause != "schedule" or len(parts) < 2 or not parts[1].isdigit():
        return None
    return session.get(Schedule, int(parts[1]))


def cdc_point(series: CdcSeries, at: int) -> dict[str, Any]:
    """The trend, zone and EMAs of one candle of a CDC series, as a card shows them."""
    fast, slow = series.ema_fast[at], series.ema_slow[at]
    zone, trend = series.zones[at], series.trends[at]
    return {
        "trend": trend.value if trend is not None else None,
        "zone": zone.value if zone is not None else None,
        "ema_fast": f"{fast:.2f}" if fast is not None else None,
        "ema_slow": f"{slow:.2f}" if slow is not None else None,
        "trend_candle": series.times[at],
    }


def trend_context(engine: Engine) -> dict[str, Any]:
    """The trend the engine last read (on the trend's own exchange), if it read one."""
    reading = (engine.trend_source or engine).memory.trend
    series = getattr(reading, "series", None)
    if series is None or not len(series):
        return {}
    return cdc_point(series, -1)


def fill_context(session: Session, engine: Engine, order: Order) -> dict[str, Any]:
    schedule = _schedule(session, order)
    context: dict[str, Any] = {"at": engine.clock()}
    if schedule is not None:
        context |= {"schedule_id": schedule.leg_of or schedule.id,
                    "schedule_label": schedule.label,
                    "rule": f"schedule:{schedule.mode}"}  # the card words the rule
    else:
        context["rule"] = order.cause
    if order.cause in ("schedule", "flip_sell", "flip_buy"):
        context |= trend_context(engine)
    filled = orders.filled(session, exchange=order.exchange, mode=order.mode,
                           symbol=order.symbol)
    base = order.symbol.split("/")[0]
    context["held_after"] = cost_basis(filled, base).held
    context["reserve_after"] = ledger.balance(session, order.exchange, order.mode)
    return context
