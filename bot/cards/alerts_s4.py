"""S4 cards: a rotation (shadow, traded, waiting, refused, missed or passed over) and a scheduled
S4 buy, with the legs' amounts, prices, fees and the holdings after."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from bot.cards import alert_parts as part
from bot.cards import format as fmt
from bot.cards.reply import Button, Field, Reply, Tone
from bot.i18n import _

Payload = Mapping[str, Any]
TRADE, FLIP, ERROR = "alert_trade", "alert_flip", "alert_error"


def asset_name(asset: str) -> str:
    """BTC, or gold in the reader's language; any other asset as it is."""
    return {"btc": "BTC", "gold": _("gold")}.get(asset, asset)


def _buttons() -> tuple[Button, ...]:
    return (Button("S4", "/s4"), Button(_("Status"), "/status"))


def _titled(status: str, move: str) -> tuple[str, str, Tone]:
    """The card's title (with the move, `BTC → PAXG`), its layout and its tone."""
    found = {
        "shadow": (_("S4 would rotate {move}"), FLIP, Tone.INFO),
        "superseded": (_("S4 passed over a rotation {move}"), FLIP, Tone.INFO),
        "started": (_("S4 rotates {move}"), TRADE, Tone.INFO),
        "retrying": (_("S4 rotation waits {move}"), ERROR, Tone.WARNING),
        "done": (_("S4 rotated {move}"), TRADE, Tone.SUCCESS),
        "refused": (_("S4 rotation refused {move}"), ERROR, Tone.ERROR),
        "missed": (_("S4 rotation missed {move}"), ERROR, Tone.ERROR),
    }.get(status, (_("S4 rotation {move}"), FLIP, Tone.INFO))
    return found[0].format(move=move), found[1], found[2]


def _line(status: str) -> str | None:
    left = _("What was sold and not bought stays free on the account as USDT.")
    return {
        "shadow": _("Shadow mode: nothing was traded. /strategy s4 execute on trades "
                    "rotations."),
        "superseded": _("A later rotation came first (the bot was down); only the latest is "
                        "traded."),
        "retrying": _("The exchange cannot be reached; the bot tries again with backoff and "
                      "tells you once more when the rotation ends."),
        "done": _("All of the asset S4 left was sold, and the proceeds bought the other."),
        "refused": left,
        "missed": left,
    }.get(status)


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
    return fmt.iso_day(value)


def _verb(verb: str) -> str:
    return {"would sell": _("would sell"), "sold": _("sold"), "would buy": _("would buy"),
            "bought": _("bought")}.get(verb, verb)


def describe_leg(leg: Mapping[str, Any], verb: str) -> str | None:
    """'0.0123 BTC at 98,000.00 USDT = 1,205.40 USDT, fee 1.2 USDT' (what is known of it);
    `verb` is one of would sell, sold, would buy, bought (said in the reader's language)."""
    symbol = str(leg.get("symbol") or "")
    if not symbol:
        return None
    base, _sep, quote = symbol.partition("/")
    amount, price = _amount(leg.get("amount")), _amount(leg.get("price"))
    cost = _amount(leg.get("cost")) or _amount(leg.get("notional"))
    parts = [f"{_verb(verb)} {fmt.crypto(amount, base)}" if amount is not None
             else f"{_verb(verb)} {base}"]
    if price is not None:
        parts.append(_("at {price}").format(price=fmt.money(price, quote)))
    if cost is not None:
        parts.append(f"= {fmt.money(cost.quantize(Decimal('0.01')), quote)}")
    text = " ".join(parts)
    fee = _amount(leg.get("fee"))
    if fee:
        text += _(", fee {fee}").format(
            fee=fmt.crypto(fee, str(leg.get("fee_asset") or ""))).rstrip()
    if leg.get("partial"):
        text += " " + _("(partly filled)")
    status = leg.get("status")
    if status and status != "filled":
        shown = part.status_word(str(status))
        text += f" ({shown}{': ' + str(leg['error']) if leg.get('error') else ''})"
    return text


def holdings_text(holdings: object) -> str | None:
    if not isinstance(holdings, Mapping) or not holdings:
        return None
    parts = [fmt.crypto(a, str(k)) for k, v in holdings.items() if (a := _amount(v)) is not None]
    return " · ".join(parts) or None


def s4_rotation(payload: Payload, zone: ZoneInfo) -> Reply:
    status = str(payload.get("status") or ("shadow" if payload.get("shadow") else "done"))
    move = " → ".join(
        asset_name(str(payload.get(end))) if payload.get(end) else "?" for end in ("from", "to")
    )
    title, kind, tone = _titled(status, move)
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
            (_("Decided on"), _day(payload.get("candle"))),
            (_("Where"), where or None),
            (_("Sell"), sell),
            (_("Buy"), buy),
            (_("Holdings now"), holdings_text(payload.get("holdings"))),
            (_("Why"), str(reason) if reason else None),
            (_("Retrying until"), _local(payload.get("retry_until"), zone)),
        )
        if value
    )
    line = _line(status)
    return Reply(kind=kind, title=title, tone=tone, fields=fields,
                 lines=(line,) if line else (), buttons=_buttons())


def s4_buy_fields(payload: Payload) -> tuple[Field, ...]:
    """The rows an S4 scheduled buy adds to its fill card: what S4 holds, since when, the
    position in BTC and gold, and, in shadow mode, what S4 would have bought."""
    holds = str(payload.get("s4_holds") or "btc")
    since = _day(payload.get("s4_since"))
    state = (_("{asset} since {day}").format(asset=asset_name(holds), day=since) if since
             else asset_name(holds))
    rows = [Field(_("S4 holds"), state)]
    position = holdings_text(payload.get("position"))
    if position:
        rows.append(Field(_("Position (bot's orders)"), position))
    if not payload.get("s4_execute"):
        note = (_("shadow: BTC bought, S4 would have bought gold") if holds == "gold"
                else _("shadow: BTC bought"))
        rows.append(Field(_("S4 mode"), note))
    return tuple(rows)
