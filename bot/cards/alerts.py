"""One card per alert kind, from the payload the engine stored with it.

The card is a channel-neutral `Reply`; Telegram renders it as HTML, LINE as a Flex bubble from
`flex_templates/alert_<group>.json` (`Reply.kind`), the terminal as text. Payload amounts are
exact decimal strings; a field the payload lacks is left out rather than shown empty.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from bot.cards import alert_parts as part
from bot.cards.alert_parts import Payload, status_buttons
from bot.cards.alerts_fills import TITLES, dca_carried, dca_reserved, fill_card, reserve_added
from bot.cards.alerts_ops import OPS_KINDS
from bot.cards.alerts_s4 import s4_rotation
from bot.cards.alerts_summary import SUMMARY_KINDS
from bot.cards.reply import Button, Field, Reply, Tone
from bot.i18n import _

FLIP, ERROR, INFO = "alert_flip", "alert_error", "alert"


def _trend_flip(payload: Payload, zone: ZoneInfo) -> Reply:
    trend = str(payload.get("trend") or "")
    colour = {"up": _("green (up)"), "down": _("red (down)")}.get(trend, trend)
    lines = (
        (_("A later flip came first; only the latest is acted on."),)
        if payload.get("superseded")
        else ()
    )
    return Reply(
        kind=FLIP,
        title=_("Trend flip: {colour}").format(colour=colour),
        fields=part.fields(
            (_("Market"), payload.get("symbol")),
            (_("Exchange"), payload.get("exchange")),
            (_("Candle"), part.local(payload, "candle", zone)),
            (_("Why"), part.trend_why(payload)),
        ),
        lines=lines or (
            _("The bot now sells the set percent into the reserve (or what the flip policy "
              "says).")
            if trend == "down" else _("The bot now buys BTC with the reserve (or what the flip "
                                      "policy says)."),),
        tone=Tone.SELL if trend == "down" else Tone.SUCCESS,
        buttons=(Button(_("Signal"), "/signal"), Button(_("Status"), "/status")),
    )


def _flip_not_acted(payload: Payload, zone: ZoneInfo) -> Reply:
    until = part.local(payload, "retry_until", zone)
    return Reply(
        kind=ERROR,
        title=_("A trend flip waits") if until else _("A trend flip was not acted on"),
        tone=Tone.WARNING,
        fields=part.fields(
            (_("Trend"), part.trend_word(str(payload["trend"])) if payload.get("trend")
             else None),
            (_("Where"), part.where(payload)),
            (_("Why"), part.reason_text(payload.get("reason"))),
            (_("Retrying until"), until),
        ),
    )


def _order_failed(payload: Payload, zone: ZoneInfo) -> Reply:
    quote = part.assets(payload)[1]
    side = str(payload.get("side") or "")
    side = {"buy": _("Buy"), "sell": _("Sell")}.get(side, side.capitalize())
    return Reply(
        kind=ERROR,
        title=_("Order failed: {what}").format(
            what=f"{side} {payload.get('symbol', '')}".replace("  ", " ").strip()).strip(),
        tone=Tone.ERROR,
        fields=part.fields(
            (_("Why"), payload.get("error")),
            (_("Amount"), part.money(payload, "requested_quote", quote)),
            (_("Where"), part.where(payload)),
            (_("For"), part.cause_word(str(payload["cause"])) if payload.get("cause") else None),
            (_("Status"), part.status_word(str(payload["status"])) if payload.get("status")
             else None),
        ),
        buttons=status_buttons(),
    )


def _below_minimum(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=ERROR,
        title=_("Below the exchange minimum"),
        tone=Tone.WARNING,
        fields=part.fields(
            (_("Amount"), part.money(payload, "amount", "USDT")),
            (_("Minimum"), part.money(payload, "minimum", "USDT")),
            (_("Why"), part.reason_text(payload.get("error") or payload.get("reason"))),
        ),
        lines=(_("Nothing was ordered. Raise the amount, or let the reserve grow first."),),
    )


def _circuit(payload: Payload, zone: ZoneInfo, opened: bool) -> Reply:
    return Reply(
        kind=ERROR if opened else INFO,
        title=_("Trading paused") if opened else _("Trading resumed"),
        tone=Tone.ERROR if opened else Tone.SUCCESS,
        fields=part.fields(
            (_("Exchange"), payload.get("exchange")),
            (_("Mode"), payload.get("mode")),
            (_("Why"), part.reason_text(payload.get("reason"))),
        ),
    )


def _schedule_missed(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=ERROR,
        title=_("Scheduled DCA #{id} missed").format(id=payload.get("schedule_id", "?")),
        tone=Tone.WARNING,
        fields=part.fields(
            (_("Was due"), part.local(payload, "due_at", zone)),
            (_("Amount"), part.money(payload, "amount", "USDT")),
            (_("Where"), part.where(payload)),
            (_("Why"), part.reason_text(payload.get("reason"))),
        ),
        buttons=(Button(_("Schedules"), "/schedule"),),
    )


def _schedule_changed(payload: Payload, zone: ZoneInfo) -> Reply:
    number, change = payload.get("schedule_id", "?"), payload.get("change", "changed")
    title = {
        "added": _("Schedule #{id} added"), "paused": _("Schedule #{id} paused"),
        "resumed": _("Schedule #{id} resumed"), "removed": _("Schedule #{id} removed"),
        "changed": _("Schedule #{id} changed"),
    }.get(str(change))
    return Reply(
        kind=INFO,
        title=(title or _("Schedule #{id} {change}")).format(id=number, change=change),
        fields=part.fields(
            (_("By"), payload.get("requested_by")),
            (_("Carry freed"), part.money(payload, "carry_released", "USDT")),
        ),
        buttons=(Button(_("Schedules"), "/schedule"),),
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
    "dca_reserved": dca_reserved,
    "dca_carried": dca_carried,
    "reserve_added": reserve_added,
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
