"""Cards for looking after the bot: the daily summary, and the bot starting and stopping."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from bot.cards import format as fmt
from bot.cards.reply import Button, Field, Reply, Tone

Payload = Mapping[str, Any]
INFO = "alert"  # the plain alert card (its Flex template is `alert`)


def _usdt(value: Any, *, signed: bool = False) -> str:
    try:
        return fmt.cents(Decimal(str(value)), "USDT", signed=signed)
    except (InvalidOperation, ValueError):
        return "n/a"


def daily_summary(payload: Payload, zone: ZoneInfo) -> Reply:
    actions = payload.get("actions") or {}
    runs = actions.get("runs") or {}
    did = (f"{actions.get('buys', 0)} buys for {_usdt(actions.get('bought', 0))}, "
           f"{actions.get('sells', 0)} sales for {_usdt(actions.get('sold', 0))}")
    fields = [Field("Yesterday", did)]
    if runs:
        counted = ", ".join(f"{n} {word}" for word, n in sorted(runs.items()))
        fields.append(Field("Scheduled runs", counted))
    for part in payload.get("accounts") or []:
        where = f"{part.get('exchange')} {part.get('mode')}"
        if "error" in part:
            fields.append(Field(where, f"cannot be read now: {part['error']}"))
            continue
        fields.append(Field(where, f"value {_usdt(part.get('value'))} · unrealized "
                                   f"{_usdt(part.get('unrealized'), signed=True)} · realized "
                                   f"since yesterday {_usdt(part.get('realized'), signed=True)}"))
        fields.append(Field(f"{part.get('exchange')} reserve", _usdt(part.get("reserve"))))
    upcoming = payload.get("next_run")
    if isinstance(upcoming, str):
        fields.append(Field("Next run", fmt.local_time(datetime.fromisoformat(upcoming), zone)))
    return Reply(
        kind=INFO,
        title=f"Daily summary for {payload.get('day', 'yesterday')}",
        fields=tuple(fields),
        tone=Tone.INFO,
        buttons=(Button("Status", "/status"), Button("Profit", "/profit")),
    )


def bot_started(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=INFO,
        title="dcabot started",
        fields=(Field("Version", str(payload.get("version", ""))),
                Field("Trading on", str(payload.get("trading_on", "")))),
        tone=Tone.INFO,
    )


def bot_stopped(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=INFO,
        title="dcabot stopped",
        lines=("It was shut down on purpose; scheduled runs wait until it starts again, and "
               "runs missed meanwhile are run or reported then.",),
        tone=Tone.WARNING,
    )


def trades_synced(payload: Payload, zone: ZoneInfo) -> Reply:
    corrected = [str(line) for line in payload.get("corrected") or []]
    return Reply(
        kind=INFO,
        title="Trades synced from the exchange",
        fields=(Field("Where", f"{payload.get('mode')} · {payload.get('exchange')}"),
                Field("Made by the bot", str(payload.get("linked", 0))),
                Field("Made on the exchange", str(payload.get("added", 0)))),
        lines=(*(["Corrected to the exchange's figures (the reserve was not re-booked):",
                  *corrected] if corrected else []),
               "Trades made on the exchange count in /status and /profit from now on."),
        tone=Tone.WARNING if corrected else Tone.INFO,
        buttons=(Button("History", "/history"), Button("Profit", "/profit")),
    )


def _runway_fields(payload: Payload, zone: ZoneInfo) -> tuple[Field, ...]:
    at = payload.get("at")
    when = fmt.local_time(datetime.fromisoformat(at), zone) if isinstance(at, str) else "soon"
    label = payload.get("label")
    schedule = f"#{payload.get('schedule_id')}" + (f" {label}" if label else "")
    return (
        Field("Where", f"{payload.get('mode')} · {payload.get('exchange')}"),
        Field("Free now", _usdt(payload.get("free"))),
        Field("Runs it pays for", str(payload.get("covered", 0))),
        Field("Money runs out",
              f"{when}: schedule {schedule} needs {_usdt(payload.get('amount'))}"),
    )


def runway_low(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=INFO,
        title="Your USDT runs low",
        fields=_runway_fields(payload, zone),
        lines=("Top up the exchange account, or lower or pause a schedule (/schedule), so the "
               "coming runs can buy.",),
        tone=Tone.WARNING,
        buttons=(Button("Schedules", "/schedule next"), Button("Status", "/status")),
    )


def run_unfunded(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=INFO,
        title="A run within a day cannot be paid",
        fields=_runway_fields(payload, zone),
        lines=("As things stand it will be skipped for lack of money; add USDT before then.",),
        tone=Tone.ERROR,
        buttons=(Button("Schedules", "/schedule next"), Button("Status", "/status")),
    )


SUMMARY_KINDS = {
    "runway_low": runway_low,
    "run_unfunded": run_unfunded,
    "trades_synced": trades_synced,"daily_summary": daily_summary, "bot_started": bot_started,
                 "bot_stopped": bot_stopped}
