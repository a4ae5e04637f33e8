"""The pieces every alert card is made of: amounts, local times, where, why and the trend."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from bot.cards import format as fmt
from bot.cards.reply import Button, Field

Payload = Mapping[str, Any]
STATUS_BUTTONS = (Button("Status", "/status"), Button("History", "/history"))


def amount(payload: Payload, key: str) -> Decimal | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def local(payload: Payload, key: str, zone: ZoneInfo) -> str | None:
    value = payload.get(key)
    if not isinstance(value, str):
        return None
    try:
        return fmt.local_time(datetime.fromisoformat(value), zone)
    except ValueError:
        return value


def fields(*pairs: tuple[str, str | None]) -> tuple[Field, ...]:
    return tuple(Field(label, value) for label, value in pairs if value)


def assets(payload: Payload) -> tuple[str, str]:
    base, _, quote = str(payload.get("symbol") or "BTC/USDT").partition("/")
    return base, quote or "USDT"


def where(payload: Payload) -> str | None:
    """`PAPER · binance`: the mode in capitals when it is not real money, then the exchange."""
    mode = str(payload.get("mode") or "")
    parts = [mode.upper() if mode in ("paper", "testnet") else mode,
             str(payload.get("exchange") or "")]
    if payload.get("simulated") or payload.get("simulated_price"):
        parts.append("SIMULATED price")
    return " · ".join(p for p in parts if p) or None


def trend_why(payload: Payload) -> str | None:
    """`up, green zone: EMA12 95,120.50 above EMA26 93,002.10 (candle 2026-11-20)`."""
    trend = payload.get("trend")
    if not trend:
        return None
    text = str(trend) + (f", {payload['zone']} zone" if payload.get("zone") else "")
    fast, slow = payload.get("ema_fast"), payload.get("ema_slow")
    if fast and slow:
        above = "above" if Decimal(str(fast)) >= Decimal(str(slow)) else "below"
        text += (f": EMA12 {fmt.rounded(Decimal(str(fast)))} {above} EMA26 "
                 f"{fmt.rounded(Decimal(str(slow)))}")
    candle = payload.get("trend_candle")
    if isinstance(candle, str):
        text += f" (daily candle {candle[:10]})"
    return text


def schedule_name(payload: Payload) -> str | None:
    """`#3 Payday`: the schedule a run's alert is about (its label when it has one)."""
    number = payload.get("schedule_id")
    if number is None:
        return None
    label = payload.get("schedule_label")
    return f"#{number}" + (f" {label}" if label else "")


def money(payload: Payload, key: str, asset: str) -> str | None:
    value = amount(payload, key)
    return None if value is None else fmt.money(value, asset)
