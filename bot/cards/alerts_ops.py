"""Cards for what happens to the bot rather than to an order: a run delayed because the exchange
cannot be reached, a background task that failed, an exchange that asked the bot to wait."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.cards import alert_parts as part
from bot.cards.alert_parts import Payload
from bot.cards.reply import Button, Reply, Tone

ERROR = "alert_error"


def run_delayed(payload: Payload, zone: ZoneInfo) -> Reply:
    until = part.local(payload, "retry_until", zone)
    return Reply(
        kind=ERROR,
        title=f"Scheduled DCA #{payload.get('schedule_id', '?')} delayed",
        tone=Tone.WARNING,
        fields=part.fields(
            ("Was due", part.local(payload, "due_at", zone)),
            ("Where", " · ".join(str(payload[k]) for k in ("mode", "exchange") if payload.get(k))),
            ("Why", payload.get("reason")),
            ("Retrying until", until),
        ),
        lines=(
            f"The bot tries again with backoff until {until}; you will hear once more when it "
            "buys or when it gives up.",
        ),
        buttons=(Button("Schedules", "/schedule"),),
    )


def task_failed(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=ERROR,
        title=f"Background work failed: {payload.get('task', '?')}",
        tone=Tone.ERROR,
        fields=part.fields(("Why", payload.get("reason"))),
        lines=("It restarts by itself with backoff; the bot's log has the details.",),
    )


def exchange_paused(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=ERROR,
        title=f"{str(payload.get('exchange', '?')).capitalize()} asked the bot to wait",
        tone=Tone.ERROR,
        fields=part.fields(
            ("Mode", payload.get("mode")),
            ("Why", payload.get("reason")),
            ("Trading resumes", part.local(payload, "until", zone)),
        ),
        lines=("Nothing is sent to it until then; runs due meanwhile are retried after.",),
    )


def run_paused(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=ERROR,
        title=f"Scheduled DCA #{payload.get('schedule_id', '?')} skipped: paused",
        tone=Tone.WARNING,
        fields=part.fields(
            ("Was due", part.local(payload, "due_at", zone)),
            ("Amount", f"{payload['amount']} USDT" if payload.get("amount") else None),
            ("Where", " · ".join(str(payload[k]) for k in ("mode", "exchange") if payload.get(k))),
        ),
        lines=("The bot's trading is paused: nothing was bought or set aside for this run.",),
        buttons=(Button("Resume", "/resume"), Button("Status", "/status")),
    )


def trading_paused(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=ERROR,
        title="Trading paused",
        tone=Tone.WARNING,
        fields=part.fields(("By", payload.get("by")), ("Since", part.local(payload, "at", zone))),
        lines=(
            "Scheduled buys, trend flips and S4 rotations start no order until /resume; "
            "each run due meanwhile is skipped and told. /buy and /sell still work.",
        ),
        buttons=(Button("Resume", "/resume"),),
    )


def trading_resumed(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=ERROR,
        title="Trading resumed",
        tone=Tone.SUCCESS,
        fields=part.fields(
            ("By", payload.get("by")), ("Paused since", part.local(payload, "paused_at", zone))
        ),
        lines=("The next due run buys as scheduled.",),
        buttons=(Button("Schedules", "/schedule"),),
    )


OPS_KINDS = {
    "run_paused": run_paused,
    "trading_paused": trading_paused,
    "trading_resumed": trading_resumed,
    "run_delayed": run_delayed,
    "task_failed": task_failed,
    "exchange_paused": exchange_paused,
}
