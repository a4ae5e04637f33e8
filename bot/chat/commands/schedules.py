"""/schedule: list, add, pause, resume, remove DCA schedules."""

from __future__ import annotations

from bot.chat import format as fmt
from bot.chat.arguments import parse_amount
from bot.chat.registry import Invocation, Registry, require_admin
from bot.chat.replies import Field, Reply, Tone
from bot.engine.errors import UserError, shown
from bot.engine.number_text import read_count
from bot.engine.schedules import (
    MODES,
    PAST,
    ScheduleView,
    add_schedule,
    change_schedule,
    list_schedules,
)

MAX_SCHEDULE_ID = 10**9
USAGE = (
    "/schedule, /schedule add <days> <HH:MM> <amount> [exchange] [mode], "
    "/schedule pause/resume/remove <id>"
)


def schedule_line(view: ScheduleView, call: Invocation) -> Field:
    settings = call.services.engine.settings
    state = (
        "paused"
        if view.paused
        else (f"next {fmt.local_time(view.next_run, settings.zone)}" if view.next_run else "")
    )
    return Field(
        f"#{view.id} {view.days} {view.local_time}",
        f"{fmt.money(view.amount, settings.quote_asset)} · {view.mode} · {view.exchange} · {state}",
    )


def _schedule_id(text: str) -> int:
    number = read_count(text.removeprefix("#"), maximum=MAX_SCHEDULE_ID)
    if number is None:
        raise UserError(
            f"{shown(text)!r} is not a schedule id; /schedule lists them, e.g. /schedule pause 1"
        )
    return number


def register(registry: Registry) -> None:
    @registry.add(
        "schedule",
        "List DCA schedules; admins add, pause, resume, remove",
        USAGE,
        group="schedules",
    )
    async def schedule(call: Invocation) -> Reply:
        engine = call.services.engine
        if not call.args:
            views = list_schedules(engine)
            return Reply(
                kind="schedules",
                title="Schedules",
                fields=tuple(schedule_line(v, call) for v in views),
                lines=() if views else ("No schedules yet. e.g. /schedule add mon 07:00 100",),
                footer=f"Times in {engine.settings.timezone}.",
            )
        action, rest = call.args[0].lower(), call.args[1:]
        if action == "add":
            require_admin(call, "/schedule add")
            if not 3 <= len(rest) <= 5:
                raise UserError(
                    "Give days, a time and an amount, e.g. /schedule add mon,thu 07:00 100"
                )
            amount = parse_amount(rest[2], example="/schedule add mon 07:00 100")
            extra = list(rest[3:])
            if len(extra) == 1 and extra[0].lower() in MODES:  # a mode without an exchange
                extra = [engine.exchange.name, extra[0]]
            view = await add_schedule(
                engine,
                rest[0],
                rest[1],
                amount,
                extra[0] if extra else None,
                extra[1] if len(extra) > 1 else None,
                requested_by=call.user.key,
            )
            call.services.schedules_changed()
            return Reply(
                kind="schedules",
                title="Schedule added",
                tone=Tone.SUCCESS,
                fields=(schedule_line(view, call),),
            )
        if action in {"pause", "resume", "remove"}:
            require_admin(call, f"/schedule {action}")
            if len(rest) != 1:
                raise UserError(f"Give one schedule id, e.g. /schedule {action} 1")
            view = change_schedule(
                engine, _schedule_id(rest[0]), action, requested_by=call.user.key
            )
            call.services.schedules_changed()
            return Reply(
                kind="schedules",
                title=f"Schedule #{view.id} {PAST[action]}",
                tone=Tone.SUCCESS,
                fields=(schedule_line(view, call),),
            )
        raise UserError(
            f"{shown(action)!r} is not a /schedule action; use add, pause, resume or remove"
        )
