"""The pieces every alert card is made of: amounts, local times, where, why and the trend."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from bot.cards import format as fmt
from bot.cards.reply import Button, Field
from bot.i18n import _

Payload = Mapping[str, Any]


def status_buttons() -> tuple[Button, ...]:
    """Status and History, labelled in the reader's language."""
    return (Button(_("Status"), "/status"), Button(_("History"), "/history"))


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
    base, _sep, quote = str(payload.get("symbol") or "BTC/USDT").partition("/")
    return base, quote or "USDT"


def where(payload: Payload) -> str | None:
    """`PAPER · binance`: the mode in capitals when it is not real money, then the exchange."""
    mode = str(payload.get("mode") or "")
    parts = [mode.upper() if mode in ("paper", "testnet") else mode,
             str(payload.get("exchange") or "")]
    if payload.get("simulated") or payload.get("simulated_price"):
        parts.append(_("SIMULATED price"))
    return " · ".join(p for p in parts if p) or None


def side_word(side: str) -> str:
    """`buy` or `sell` in the reader's language (another side as stored)."""
    return {"buy": _("buy"), "sell": _("sell")}.get(side, side)


def status_word(status: str) -> str:
    """An order's state in the reader's language (an unknown one as stored)."""
    words = {"sending": _("sending"), "filled": _("filled"), "rejected": _("rejected"),
             "failed": _("failed")}
    return words.get(status, status)


def cause_word(cause: str) -> str:
    """Why an order was placed, in the reader's language (an unknown cause as stored)."""
    words = {"buy_now": _("your /buy"), "sell_now": _("your /sell"),
             "schedule": _("a scheduled run"), "flip_sell": _("the trend turning down"),
             "flip_buy": _("the trend turning up"), "deploy": _("your /reserve deploy")}
    return words.get(cause, cause)


def rule_text(rule: object) -> str | None:
    """The rule an order followed (`buy_now`, `schedule:cdc`, … as the engine names it), in
    the reader's language; an older alert's sentence as it was written."""
    if not rule:
        return None
    words = {
        "flip_sell": _("the trend turned red: sell the set percent of the BTC into the reserve"),
        "flip_buy": _("the trend turned green: buy BTC with the reserve"),
        "deploy": _("you deployed the reserve"),
        "buy_now": _("you asked to buy"),
        "sell_now": _("you asked to sell into the reserve"),
        "rotation": _("S4 rotates between BTC and gold"),
        "schedule:cdc": _("cdc schedule: buys while the trend is up (saves while it is down)"),
        "schedule:plain": _("plain schedule: buys whatever the trend"),
        "schedule:s4": _("s4 schedule: buys the asset S4 holds"),
    }
    return words.get(str(rule), str(rule))


def reason_text(reason: object) -> str | None:
    """A reason the engine wrote into an alert: its fixed sentences in the reader's language,
    any other (an exchange's error, a refusal with figures) as it was written."""
    if not reason:
        return None
    fixed = {"the bot was not running at that time": _("the bot was not running at that time"),
             "the rest of a partial fill": _("the rest of a partial fill")}
    return fixed.get(str(reason), str(reason))


def trading_on(payload: Payload) -> str:
    """`paper mode on binance + …` in the reader's language (from the accounts named in the
    payload; an older alert's text as it was written)."""
    accounts = payload.get("trading_accounts")
    if not isinstance(accounts, list) or not accounts:
        return str(payload.get("trading_on", ""))
    return " + ".join(_("{mode} mode on {exchange}").format(mode=mode, exchange=name)
                      for name, mode in accounts)


def zone_word(zone: str) -> str:
    """A CDC Action Zone colour in the reader's language (`lightblue` as the zone is named)."""
    return {"green": _("green"), "blue": _("blue"), "lightblue": _("lightblue"),
            "red": _("red"), "orange": _("orange"), "yellow": _("yellow")}.get(zone, zone)


def trend_word(trend: str) -> str:
    """`up` or `down` in the reader's language (the ids say `(trend)`: a plain `down` is a
    service's, in other words); any other value as it is."""
    said = {"up": _("up (trend)"), "down": _("down (trend)")}.get(trend)
    return said.removesuffix(" (trend)") if said else trend


def trend_why(payload: Payload) -> str | None:
    """`up, green zone: EMA12 95,120.50 above EMA26 93,002.10 (candle 2026-11-20)`."""
    trend = payload.get("trend")
    if not trend:
        return None
    text = trend_word(str(trend))
    if payload.get("zone"):
        text = _("{trend}, {zone} zone").format(trend=text, zone=zone_word(str(payload["zone"])))
    fast, slow = payload.get("ema_fast"), payload.get("ema_slow")
    if fast and slow:
        above = (_("{trend}: EMA12 {fast} above EMA26 {slow}")
                 if Decimal(str(fast)) >= Decimal(str(slow))
                 else _("{trend}: EMA12 {fast} below EMA26 {slow}"))
        text = above.format(trend=text, fast=fmt.rounded(Decimal(str(fast))),
                            slow=fmt.rounded(Decimal(str(slow))))
    candle = payload.get("trend_candle")
    if isinstance(candle, str):
        text = _("{trend} (daily candle {day})").format(trend=text, day=fmt.iso_day(candle))
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
