"""S4 cards: a rotation (shadow, traded, waiting, refused, missed or passed over) and a scheduled
S4 buy, with the legs' amounts, prices, fees and the holdings after."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from bot.cards import format as fmt
from bot.cards.reply import Button, Field, Reply, Tone

Payload = Mapping[str, Any]
TRADE, FLIP, ERROR = "alert_trade", "alert_flip", "alert_error"
NAMES = {"btc": "BTC", "gold": "gold"}
BUTTONS = (Button("S4", "/s4"), Button("Status", "/status"))

_TITLES = {
    "shadow": ("S4 would rotate", FLIP, Tone.INFO),
    "superseded": ("S4 passed over a rotation", FLIP, Tone.INFO),
    "started": ("S4 rotates", TRADE, Tone.INFO),
    "retrying": ("S4 rotation waits", ERROR, Tone.WARNING),
    "done": ("S4 rotated", TRADE, Tone.SUCCESS),
    "refused": ("S4 rotation refused", ERROR, Tone.ERROR),
    "missed": ("S4 rotation missed", ERROR, Tone.ERROR),
}
_LINES = {
    "shadow": "Shadow mode: nothing was traded. /strategy s4 execute on trades rotations.",
    "superseded": "A later rotation came first (the bot was down); only the latest is traded.",
    "retrying": "The exchange cannot be reached; the bot tries again with backoff and tells "
    "you once more when the rotation ends.",
    "done": "All of the asset S4 left was sold, and the proceeds bought the other.",
    "refused": "What was sold and not bought stays free on the account as USDT.",
    "missed": "What was sold and not bought stays free on the account as USDT.",
}


def _amount(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _local(value: object, zone: ZoneInfo) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return fmt.local_time(datetime.fromisoformat(value), zone)
    except ValueError:
        return value


def _day(value: object) -> str | None:
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def describe_leg(leg: Mapping[str, Any], verb: str) -> str | None:
    """'0.0123 BTC at 98,000.00 USDT = 1,205.40 USDT, fee 1.2 USDT' (what is known of it)."""
    symbol = str(leg.get("symbol") or "")
    if not symbol:
        return None
    base, _, quote = symbol.partition("/")
    amount, price = _amount(leg.get("amount")), _amount(leg.get("price"))
    cost = _amount(leg.get("cost")) or _amount(leg.get("notional"))
    parts = [f"{verb} {fmt.crypto(amount, base)}" if amount is not None else f"{verb} {base}"]
    if price is not None:
        parts.append(f"at {fmt.money(price, quote)}")
    if cost is not None:
        parts.append(f"= {fmt.money(cost.quantize(Decimal('0.01')), quote)}")
    text = " ".join(parts)
    fee = _amount(leg.get("fee"))
    if fee:
        text += f", fee {fmt.crypto(fee, str(leg.get('fee_asset') or ''))}".rstrip()
    if leg.get("partial"):
        text += " (partly filled)"
    status = leg.get("status")
    if status and status != "filled":
        text += f" ({status}{': ' + str(leg['error']) if leg.get('error') else ''})"
    return text


def holdings_text(holdings: object) -> str | None:
    if not isinstance(holdings, Mapping) or not holdings:
        return None
    parts = [fmt.crypto(a, str(k)) for k, v in holdings.items() if (a := _amount(v)) is not None]
    return " · ".join(parts) or None


def s4_rotation(payload: Payload, zone: ZoneInfo) -> Reply:
    status = str(payload.get("status") or ("shadow" if payload.get("shadow") else "done"))
    title, kind, tone = _TITLES.get(status, ("S4 rotation", FLIP, Tone.INFO))
    move = " → ".join(
        NAMES.get(str(payload.get(end)), str(payload.get(end) or "?")) for end in ("from", "to")
    )
    found = payload.get("legs")
    legs: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    would = status == "shadow"
    sell = describe_leg(legs.get("sell") or {}, "would sell" if would else "sold")
    buy = describe_leg(legs.get("buy") or {}, "would buy" if would else "bought")
    reason = payload.get("reason") if status in ("refused", "missed", "retrying") else None
    where = " · ".join(str(payload[k]) for k in ("mode", "exchange") if payload.get(k))
    fields = tuple(
        Field(label, value)
        for label, value in (
            ("Decided on", _day(payload.get("candle"))),
            ("Where", where or None),
            ("Sell", sell),
            ("Buy", buy),
            ("Holdings now", holdings_text(payload.get("holdings"))),
            ("Why", str(reason) if reason else None),
            ("Retrying until", _local(payload.get("retry_until"), zone)),
        )
        if value
    )
    line = _LINES.get(status)
    return Reply(kind=kind, title=f"{title} {move}", tone=tone, fields=fields,
                 lines=(line,) if line else (), buttons=BUTTONS)


def s4_buy_fields(payload: Payload) -> tuple[Field, ...]:
    """The rows an S4 scheduled buy adds to its fill card: what S4 holds, since when, the
    position in BTC and gold, and, in shadow mode, what S4 would have bought."""
    holds = str(payload.get("s4_holds") or "btc")
    since = _day(payload.get("s4_since"))
    state = f"{NAMES.get(holds, holds)}" + (f" since {since}" if since else "")
    rows = [Field("S4 holds", state)]
    position = holdings_text(payload.get("position"))
    if position:
        rows.append(Field("Position (bot's orders)", position))
    if not payload.get("s4_execute"):
        note = "shadow: BTC bought" + (", S4 would have bought gold" if holds == "gold" else "")
        rows.append(Field("S4 mode", note))
    return tuple(rows)
