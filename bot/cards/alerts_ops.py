"""Cards for what happens to the bot rather than to an order: a run delayed because the exchange
cannot be reached, a background task that failed, an exchange that asked the bot to wait."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.cards import alert_parts as part
from bot.cards.alert_parts import Payload
from bot.cards.reply import Button, Reply, Tone
from bot.i18n import _

ERROR = "alert_error"


def run_delayed(payload: Payload, zone: ZoneInfo) -> Reply:
    until = part.local(payload, "retry_until", zone)
    return Reply(
        kind=ERROR,
        title=_("Scheduled DCA #{id} delayed").format(id=payload.get("schedule_id", "?")),
        tone=Tone.WARNING,
        fields=part.fields(
            (_("Was due"), part.local(payload, "due_at", zone)),
            (_("Where"),
             " · ".join(str(payload[k]) for k in ("mode", "exchange") if payload.get(k))),
            (_("Why"), payload.get("reason")),
            (_("Retrying until"), until),
        ),
        lines=(
            _("The bot tries again with backoff until {until}; you will hear once more when it "
              "buys or when it gives up.").format(until=until),
        ),
        buttons=(Button(_("Schedules"), "/schedule"),),
    )


def task_failed(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=ERROR,
        title=_("Background work failed: {task}").format(task=payload.get("task", "?")),
        tone=Tone.ERROR,
        fields=part.fields((_("Why"), payload.get("reason"))),
        lines=(_("It restarts by itself with backoff; the bot's log has the details."),),
    )


def exchange_paused(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=ERROR,
        title=_("{exchange} asked the bot to wait").format(
            exchange=str(payload.get("exchange", "?")).capitalize()),
        tone=Tone.ERROR,
        fields=part.fields(
            (_("Mode"), payload.get("mode")),
            (_("Why"), payload.get("reason")),
            (_("Trading resumes"), part.local(payload, "until", zone)),
        ),
        lines=(_("Nothing is sent to it until then; runs due meanwhile are retried after."),),
    )


def run_paused(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=ERROR,
        title=_("Scheduled DCA #{id} skipped: paused").format(id=payload.get("schedule_id", "?")),
        tone=Tone.WARNING,
        fields=part.fields(
            (_("Was due"), part.local(payload, "due_at", zone)),
            (_("Amount"), f"{payload['amount']} USDT" if payload.get("amount") else None),
            (_("Where"),
             " · ".join(str(payload[k]) for k in ("mode", "exchange") if payload.get(k))),
        ),
        lines=(_("The bot's trading is paused: nothing was bought or set aside for this run."),),
        buttons=(Button(_("Resume"), "/resume"), Button(_("Status"), "/status")),
    )


def trading_paused(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=ERROR,
        title=_("Trading paused"),
        tone=Tone.WARNING,
        fields=part.fields((_("By"), payload.get("by")),
                           (_("Since"), part.local(payload, "at", zone))),
        lines=(
            _("Scheduled buys, trend flips and S4 rotations start no order until /resume; "
              "each run due meanwhile is skipped and told. /buy and /sell still work."),
        ),
        buttons=(Button(_("Resume"), "/resume"),),
    )


def trading_resumed(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=ERROR,
        title=_("Trading resumed"),
        tone=Tone.SUCCESS,
        fields=part.fields(
            (_("By"), payload.get("by")),
            (_("Paused since"), part.local(payload, "paused_at", zone)),
        ),
        lines=(_("The next due run buys as scheduled."),),
        buttons=(Button(_("Schedules"), "/schedule"),),
    )


OPS_KINDS = {
    "run_paused": run_paused,
    "trading_paused": trading_paused,
    "trading_resumed": trading_resumed,
    "run_delayed": run_delayed,
    "task_failed": task_failed,
    "exchange_paused": exchange_paused,
}
