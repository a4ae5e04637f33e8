"""One card per alert kind, from the payload the engine stored with it.

The card is a channel-neutral `Reply`; Telegram renders it as HTML, LINE as a Flex bubble from
`flex_templates/alert_<group>.json` (`Reply.kind`), the terminal as text. Payload amounts are
exact decimal strings; a field the payload lacks is left out rather than shown empty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from bot.cards import format as fmt
from bot.cards.alerts_ops import OPS_KINDS
from bot.cards.alerts_s4 import s4_buy_fields, s4_rotation
from bot.cards.alerts_summary import SUMMARY_KINDS
from bot.cards.reply import Button, Field, Reply, Tone

Payload = Mapping[str, Any]
TRADE, FLIP, ERROR, INFO = "alert_trade", "alert_flip", "alert_error", "alert"
STATUS_BUTTONS = (Button("Status", "/status"), Button("History", "/history"))


def _amount(payload: Payload, key: str) -> Decimal | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _local(payload: Payload, key: str, zone: ZoneInfo) -> str | None:
    value = payload.get(key)
    if not isinstance(value, str):
        return None
    try:
        return fmt.local_time(datetime.fromisoformat(value), zone)
    except ValueError:
        return value


def _fields(*pairs: tuple[str, str | None]) -> tuple[Field, ...]:
    return tuple(Field(label, value) for label, value in pairs if value)


def _assets(payload: Payload) -> tuple[str, str]:
    base, _, quote = str(payload.get("symbol") or "BTC/USDT").partition("/")
    return base, quote or "USDT"


def _where(payload: Payload) -> str | None:
    parts = [str(payload[k]) for k in ("mode", "exchange") if payload.get(k)]
    return " · ".join(parts) or None


def _schedule_name(payload: Payload) -> str | None:
    """`#3 Payday`: the schedule a run's alert is about (its label when it has one)."""
    number = payload.get("schedule_id")
    if number is None:
        return None
    label = payload.get("schedule_label")
    return f"#{number}" + (f" {label}" if label else "")


def _money(payload: Payload, key: str, asset: str) -> str | None:
    value = _amount(payload, key)
    return None if value is None else fmt.money(value, asset)


TITLES = {
    "order_filled": "Order filled",
    "dca_bought": "DCA bought",
    "sold_on_red": "Trend turned red: sold",
    "sold_to_reserve": "Sold into the reserve",
    "reserve_deployed": "Reserve deployed",
}


def fill_card(kind: str, payload: Payload, zone: ZoneInfo) -> Reply:
    base, quote = _assets(payload)
    amount = _amount(payload, "amount")
    verb = "Bought" if payload.get("side") == "buy" else "Sold"
    what = f"{verb} {fmt.crypto(amount, base)}" if amount is not None else verb
    fee = _amount(payload, "fee")
    fees = payload.get("fees") or []
    fee_text = fmt.crypto(fee, str(payload.get("fee_asset") or "")) if fee else None
    if isinstance(fees, list) and len(fees) > 1:
        fee_text = " + ".join(fmt.crypto(Decimal(str(a)), str(c)) for c, a in fees)
    fields = _fields(
        ("Amount", what + (" (partly filled)" if payload.get("partial") else "")),
        ("Cost" if verb == "Bought" else "Proceeds", _money(payload, "cost", quote)),
        ("Price", _money(payload, "price", quote)),
        ("Fee", fee_text),
        ("Where", _where(payload)),
        ("Schedule", _schedule_name(payload)),
        ("Asked by", payload.get("requested_by")),
    )
    if payload.get("strategy") == "s4":
        fields += s4_buy_fields(payload)
    footer = f"Order {payload['client_order_id']}" if payload.get("client_order_id") else ""
    name = "S4 DCA bought" if payload.get("strategy") == "s4" else TITLES.get(kind, "Order filled")
    title = f"{name}: {payload.get('symbol', '')}".rstrip(": ")
    return Reply(
        kind=TRADE,
        title=title,
        fields=fields,
        tone=Tone.SUCCESS,
        footer=footer,
        buttons=STATUS_BUTTONS,
    )


def _dca_reserved(payload: Payload, zone: ZoneInfo) -> Reply:
    quote = "USDT"
    return Reply(
        kind=INFO,
        title="DCA moved to the reserve",
        fields=_fields(
            ("Amount", _money(payload, "amount", quote)),
            ("Reserve now", _money(payload, "reserve", quote)),
            ("Trend", str(payload.get("trend") or "") or None),
            ("Exchange", payload.get("exchange")),
        ),
        lines=("The trend is red, so this run's money waits in the reserve.",),
    )


def _reserve_added(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=INFO,
        title="Reserve topped up",
        fields=_fields(
            ("Amount", _money(payload, "amount", "USDT")),
            ("Reserve now", _money(payload, "balance", "USDT")),
            ("Exchange", payload.get("exchange")),
            ("Asked by", payload.get("requested_by")),
        ),
    )


def _trend_flip(payload: Payload, zone: ZoneInfo) -> Reply:
    trend = str(payload.get("trend") or "")
    colour = {"up": "green (up)", "down": "red (down)"}.get(trend, trend)
    lines = (
        ("A later flip came first; only the latest is acted on.",)
        if payload.get("superseded")
        else ()
    )
    return Reply(
        kind=FLIP,
        title=f"Trend flip: {colour}",
        fields=_fields(
            ("Market", payload.get("symbol")),
            ("Exchange", payload.get("exchange")),
            ("Candle", _local(payload, "candle", zone)),
        ),
        lines=lines,
        buttons=(Button("Signal", "/signal"), Button("Status", "/status")),
    )


def _flip_not_acted(payload: Payload, zone: ZoneInfo) -> Reply:
    until = _local(payload, "retry_until", zone)
    return Reply(
        kind=ERROR,
        title="A trend flip waits" if until else "A trend flip was not acted on",
        tone=Tone.WARNING,
        fields=_fields(
            ("Trend", payload.get("trend")),
            ("Where", _where(payload)),
            ("Why", payload.get("reason")),
            ("Retrying until", until),
        ),
    )


def _order_failed(payload: Payload, zone: ZoneInfo) -> Reply:
    _, quote = _assets(payload)
    side = str(payload.get("side") or "").capitalize()
    return Reply(
        kind=ERROR,
        title=f"Order failed: {side} {payload.get('symbol', '')}".replace("  ", " ").strip(),
        tone=Tone.ERROR,
        fields=_fields(
            ("Why", payload.get("error")),
            ("Amount", _money(payload, "requested_quote", quote)),
            ("Where", _where(payload)),
            ("For", payload.get("cause")),
            ("Status", payload.get("status")),
        ),
        buttons=STATUS_BUTTONS,
    )


def _below_minimum(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=ERROR,
        title="Below the exchange minimum",
        tone=Tone.WARNING,
        fields=_fields(
            ("Amount", _money(payload, "amount", "USDT")),
            ("Minimum", _money(payload, "minimum", "USDT")),
            ("Why", payload.get("error") or payload.get("reason")),
        ),
        lines=("Nothing was ordered. Raise the amount, or let the reserve grow first.",),
    )


def _circuit(payload: Payload, zone: ZoneInfo, opened: bool) -> Reply:
    return Reply(
        kind=ERROR if opened else INFO,
        title="Trading paused" if opened else "Trading resumed",
        tone=Tone.ERROR if opened else Tone.SUCCESS,
        fields=_fields(
            ("Exchange", payload.get("exchange")),
            ("Mode", payload.get("mode")),
            ("Why", payload.get("reason")),
        ),
    )


def _schedule_missed(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=ERROR,
        title=f"Scheduled DCA #{payload.get('schedule_id', '?')} missed",
        tone=Tone.WARNING,
        fields=_fields(
            ("Was due", _local(payload, "due_at", zone)),
            ("Amount", _money(payload, "amount", "USDT")),
            ("Where", _where(payload)),
            ("Why", payload.get("reason")),
        ),
        buttons=(Button("Schedules", "/schedule"),),
    )


def _schedule_changed(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=INFO,
        title=f"Schedule #{payload.get('schedule_id', '?')} {payload.get('change', 'changed')}",
        fields=_fields(("By", payload.get("requested_by"))),
        buttons=(Button("Schedules", "/schedule"),),
    )


def generic_card(kind: str, payload: Payload, zone: ZoneInfo) -> Reply:
    """Any other kind (a daily summary, a kind newer than this code): its payload as rows."""
    return Reply(
        kind=INFO,
        title=kind.replace("_", " ").capitalize(),
        fields=tuple(Field(str(k).replace("_", " "), str(v)) for k, v in payload.items()),
    )


Builder = Callable[[Payload, ZoneInfo], Reply]
BUILDERS: dict[str, Builder] = {
    "dca_reserved": _dca_reserved,
    "reserve_added": _reserve_added,
    "trend_flip": _trend_flip,
    "flip_not_acted": _flip_not_acted,
    "s4_rotation": s4_rotation,
    "order_failed": _order_failed,
    "below_minimum": _below_minimum,
    "circuit_open": lambda p, z: _circuit(p, z, True),
    "circuit_closed": lambda p, z: _circuit(p, z, False),
    "schedule_missed": _schedule_missed,
    "schedule_changed": _schedule_changed,
    **OPS_KINDS,
    **SUMMARY_KINDS,
}


def alert_card(kind: str, payload: Payload, zone: ZoneInfo) -> Reply:
    """The card for one alert, in the owner's time zone."""
    if kind in TITLES:
        return fill_card(kind, payload, zone)
    builder = BUILDERS.get(kind)
    return builder(payload, zone) if builder is not None else generic_card(kind, payload, zone)
