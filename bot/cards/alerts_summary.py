"""Cards for looking after the bot: the daily summary, and the bot starting and stopping."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from bot.cards import format as fmt
from bot.cards.alert_parts import trading_on
from bot.cards.reply import Button, Field, Reply, Tone
from bot.i18n import _

Payload = Mapping[str, Any]
INFO = "alert"  # the plain alert card (its Flex template is `alert`)


def _usdt(value: Any, *, signed: bool = False) -> str:
    try:
        return fmt.cents(Decimal(str(value)), "USDT", signed=signed)
    except (InvalidOperation, ValueError):
        return _("n/a")


def _runs(word: str, count: int) -> str:
    """`2 bought`: how many of yesterday's scheduled runs ended one way."""
    said = {
        "buy": _("{count} buy"), "bought": _("{count} bought"), "carried": _("{count} carried"),
        "skipped": _("{count} skipped"), "missed": _("{count} missed"),
        "failed": _("{count} failed"), "retrying": _("{count} retrying"),
        "rest": _("{count} rest"),
    }.get(word)
    return said.format(count=count) if said else f"{count} {word}"


def daily_summary(payload: Payload, zone: ZoneInfo) -> Reply:
    actions = payload.get("actions") or {}
    runs = actions.get("runs") or {}
    did = _("{buys} buys for {bought}, {sells} sales for {sold}").format(
        buys=actions.get("buys", 0), bought=_usdt(actions.get("bought", 0)),
        sells=actions.get("sells", 0), sold=_usdt(actions.get("sold", 0)))
    fields = [Field(_("Yesterday"), did)]
    if runs:
        counted = ", ".join(_runs(word, n) for word, n in sorted(runs.items()))
        fields.append(Field(_("Scheduled runs"), counted))
    for part in payload.get("accounts") or []:
        where = f"{part.get('exchange')} {part.get('mode')}"
        if "error" in part:
            fields.append(Field(where, _("cannot be read now: {error}").format(
                error=part["error"])))
            continue
        fields.append(Field(where, _(
            "value {value} · unrealized {unrealized} · realized since yesterday {realized}"
        ).format(value=_usdt(part.get("value")),
                 unrealized=_usdt(part.get("unrealized"), signed=True),
                 realized=_usdt(part.get("realized"), signed=True))))
        fields.append(Field(_("{exchange} reserve").format(exchange=part.get("exchange")),
                            _usdt(part.get("reserve"))))
    upcoming = payload.get("next_run")
    if isinstance(upcoming, str):
        fields.append(Field(_("Next run"),
                            fmt.local_time(datetime.fromisoformat(upcoming), zone)))
    day = fmt.iso_day(payload.get("day")) or _("yesterday")
    return Reply(
        kind=INFO,
        title=_("Daily summary for {day}").format(day=day),
        fields=tuple(fields),
        tone=Tone.INFO,
        buttons=(Button(_("Status"), "/status"), Button(_("Profit"), "/profit")),
    )


def bot_started(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=INFO,
        title=_("dcabot started"),
        fields=(Field(_("Version"), str(payload.get("version", ""))),
                Field(_("Trading on"), trading_on(payload))),
        tone=Tone.INFO,
    )


def bot_stopped(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=INFO,
        title=_("dcabot stopped"),
        lines=(_("It was shut down on purpose; scheduled runs wait until it starts again, and "
                 "runs missed meanwhile are run or reported then."),),
        tone=Tone.WARNING,
    )


def trades_synced(payload: Payload, zone: ZoneInfo) -> Reply:
    corrected = [str(line) for line in payload.get("corrected") or []]
    return Reply(
        kind=INFO,
        title=_("Trades synced from the exchange"),
        fields=(Field(_("Where"), f"{payload.get('mode')} · {payload.get('exchange')}"),
                Field(_("Made by the bot"), str(payload.get("linked", 0))),
                Field(_("Made on the exchange"), str(payload.get("added", 0)))),
        lines=(*([_("Corrected to the exchange's figures (the reserve was not re-booked):"),
                  *corrected] if corrected else []),
               _("Trades made on the exchange count in /status and /profit from now on.")),
        tone=Tone.WARNING if corrected else Tone.INFO,
        buttons=(Button(_("History"), "/history"), Button(_("Profit"), "/profit")),
    )


def _runway_fields(payload: Payload, zone: ZoneInfo) -> tuple[Field, ...]:
    at = payload.get("at")
    when = fmt.local_time(datetime.fromisoformat(at), zone) if isinstance(at, str) else _("soon")
    label = payload.get("label")
    schedule = f"#{payload.get('schedule_id')}" + (f" {label}" if label else "")
    return (
        Field(_("Where"), f"{payload.get('mode')} · {payload.get('exchange')}"),
        Field(_("Free now"), _usdt(payload.get("free"))),
        Field(_("Runs it pays for"), str(payload.get("covered", 0))),
        Field(_("Money runs out"), _("{when}: schedule {schedule} needs {amount}").format(
            when=when, schedule=schedule, amount=_usdt(payload.get("amount")))),
    )


def _schedule_buttons() -> tuple[Button, ...]:
    return (Button(_("Schedules"), "/schedule next"), Button(_("Status"), "/status"))


def runway_low(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=INFO,
        title=_("Your USDT runs low"),
        fields=_runway_fields(payload, zone),
        lines=(_("Top up the exchange account, or lower or pause a schedule (/schedule), so "
                 "the coming runs can buy."),),
        tone=Tone.WARNING,
        buttons=_schedule_buttons(),
    )


def run_unfunded(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=INFO,
        title=_("A run within a day cannot be paid"),
        fields=_runway_fields(payload, zone),
        lines=(_("As things stand it will be skipped for lack of money; add USDT before "
                 "then."),),
        tone=Tone.ERROR,
        buttons=_schedule_buttons(),
    )


SUMMARY_KINDS = {
    "runway_low": runway_low,
    "run_unfunded": run_unfunded,
    "trades_synced": trades_synced,
    "daily_summary": daily_summary,
    "bot_started": bot_started,
    "bot_stopped": bot_stopped,
}
