"""/schedule: list, add, pause, resume, remove DCA schedules."""

from __future__ import annotations

import re
from decimal import Decimal

from bot.cards import format as fmt
from bot.cards.reply import Field, Reply, Tone
from bot.chat.arguments import parse_amount, parse_count
from bot.chat.registry import Invocation, Registry, require_admin
from bot.config import Settings
from bot.engine.errors import UserError, shown
from bot.engine.look_ahead import RUNWAY_RUNS, next_runs, runway
from bot.engine.number_text import read_count
from bot.engine.schedules import (
    MODES,
    ScheduleView,
    add_schedule_legs,
    change_schedule,
    label_schedule,
    list_schedules,
    split_evenly,
)
from bot.exchanges.base import ExchangeError
from bot.i18n import _

MAX_SCHEDULE_ID = 10**9
USAGE = (
    "/schedule, /schedule add <days> <HH:MM> <amount> [exchange] [mode], "
    "/schedule pause/resume/remove <id> [exchange], /schedule label <id> <name>, /schedule next"
)
EVERY_EXCHANGE = {"both", "all"}
_LEG = re.compile(r"([A-Za-z0-9]{1,40})=([^=]*?)(?=,[A-Za-z0-9]{1,40}=|$)")


def schedule_lines(views: list[ScheduleView], call: Invocation) -> tuple[Field, ...]:
    """One line per schedule; a schedule split across exchanges shows every leg."""
    settings = call.services.engine.settings
    groups: dict[int, list[ScheduleView]] = {}
    for view in views:
        groups.setdefault(view.group, []).append(view)
    lines = []
    for group, legs in groups.items():
        first = legs[0]
        state = (
            _("paused")
            if first.paused
            else (_("next {time}").format(time=fmt.local_time(first.next_run, settings.zone))
                  if first.next_run else "")
        )
        name = f" {first.label}:" if first.label else ""
        title = f"#{group}{name} {first.days} {first.local_time}"
        if len(legs) == 1:
            amount = fmt.money(first.amount, settings.quote_asset) + _carried(first, settings)
            lines.append(Field(title, f"{amount} · {first.mode} · {first.exchange} · {state}"))
            continue
        amounts = " + ".join(
            f"{leg.exchange} {fmt.money(leg.amount, settings.quote_asset)}"
            f"{_carried(leg, settings)} "
            f"(#{leg.id}{', ' + _('paused') if leg.paused else ''})"
            for leg in legs
        )
        upcoming = [leg.next_run for leg in legs if leg.next_run is not None]
        state = (_("next {time}").format(time=fmt.local_time(min(upcoming), settings.zone))
                 if upcoming else _("paused"))
        lines.append(Field(title, f"{amounts} · {first.mode} · {state}"))
    return tuple(lines)


def _carried(view: ScheduleView, settings: Settings) -> str:
    """`(carried 6.00)` beside a schedule whose earlier runs were below the minimum."""
    if not view.carried:
        return ""
    return " " + _("(carried {amount})").format(
        amount=fmt.money(view.carried, settings.quote_asset))


def _below_minimum(views: list[ScheduleView], quote: str) -> tuple[str, ...]:
    """Say that runs below the market's minimum are carried, not refused."""
    return tuple(
        _("{amount} is below {exchange}'s minimum order of {minimum}: each run sets it aside "
          "(carried, shown in /status and /schedule), and the first run whose carried total "
          "reaches the minimum buys it all.").format(
              amount=fmt.money(view.amount, quote), exchange=view.exchange,
              minimum=fmt.money(view.minimum, quote))
        for view in views if view.minimum is not None
    )


def _legs(call: Invocation, amount_text: str, exchange: str | None) -> dict[str, Decimal]:
    """`100` on the default exchange, `100 okx`, `100 both` (split evenly), or amounts per
    exchange (`binance=60,okx=40`)."""
    accounts = call.services.accounts
    example = "/schedule add mon 07:00 binance=60,okx=40"
    if "=" in amount_text:
        parts = list(_LEG.finditer(amount_text))
        if not parts or ",".join(p.group(0) for p in parts) != amount_text:
            raise UserError(_("{text} is not amounts per exchange; e.g. {example}").format(
                text=repr(shown(amount_text)), example=example))
        legs: dict[str, Decimal] = {}
        for part in parts:
            name = accounts.on(part.group(1)).exchange.name
            if name in legs:
                raise UserError(_("{exchange} is named twice; name each exchange once, e.g. "
                                  "{example}").format(exchange=name, example=example))
            legs[name] = parse_amount(part.group(2), example=example)
        return legs
    amount = parse_amount(amount_text, example="/schedule add mon 07:00 100")
    if exchange is not None and exchange.lower() in EVERY_EXCHANGE:
        if not accounts.several:
            raise UserError(
                _("This bot trades on {exchange} only; list more in DCABOT_EXCHANGES (e.g. "
                  "binance,okx) to split a schedule").format(
                      exchange=accounts.default.exchange.name)
            )
        return split_evenly(amount, accounts.names)
    return {accounts.on(exchange).exchange.name: amount}


async def _next(call: Invocation, rest: tuple[str, ...]) -> Reply:
    """The coming runs, what each would do now, and how many the free USDT pays for."""
    count = parse_count(rest[0] if rest else None, default=5, maximum=20,
                        example="/schedule next 5")
    accounts = call.services.accounts
    settings = accounts.settings
    runs = await next_runs(accounts, count)
    lines = [
        _("{run}: would {action}").format(
            run=f"{fmt.local_time(r.at, settings.zone)}  #{r.schedule_id}"
            + (f" {r.label}" if r.label else "")
            + f"  {r.exchange}  {fmt.money(r.amount, settings.quote_asset)}"
            + (" + " + _("carried {amount}").format(amount=fmt.money(r.carried,
                                                                      settings.quote_asset))
               if r.carried else ""),
            action=r.would)
        for r in runs
    ]
    for engine in accounts:
        try:
            way = await runway(engine, await next_runs(accounts, 4 * RUNWAY_RUNS))
        except ExchangeError as exc:
            lines.append(_("{exchange}: the balance cannot be read now ({reason})").format(
                exchange=engine.exchange.name, reason=exc))
            continue
        free = fmt.money(way.free, settings.quote_asset)
        if way.runs_out is None:
            lines.append(_("{exchange}: free {free} pays for at least the next {count} runs")
                         .format(exchange=engine.exchange.name, free=free, count=len(way.runs)))
        else:
            lines.append(_("{exchange}: free {free} pays for {covered}; the money runs out at "
                           "the run of {time}").format(
                exchange=engine.exchange.name, free=free, covered=way.covered,
                time=fmt.local_time(way.runs_out.at, settings.zone)))
    return Reply(kind="schedules", title=_("Next {count} runs").format(count=len(runs)),
                 lines=tuple(lines) or (_("No schedules yet. e.g. /schedule add mon 07:00 100"),),
                 footer=_("Times in {zone}; 'would' is what the rule says now.").format(
                     zone=settings.timezone))


def _schedule_id(text: str) -> int:
    number = read_count(text.removeprefix("#"), maximum=MAX_SCHEDULE_ID)
    if number is None:
        raise UserError(
            _("{text} is not a schedule id; /schedule lists them, e.g. /schedule pause 1").format(
                text=repr(shown(text)))
        )
    return number


def _changed_title(action: str, leg: str | None) -> str:
    """`Schedule #{id} paused`, or `... paused on {exchange}` for one leg."""
    if action == "pause":
        return _("Schedule #{id} paused on {exchange}") if leg else _("Schedule #{id} paused")
    if action == "resume":
        return _("Schedule #{id} resumed on {exchange}") if leg else _("Schedule #{id} resumed")
    return _("Schedule #{id} removed on {exchange}") if leg else _("Schedule #{id} removed")


def register(registry: Registry) -> None:
    @registry.add(
        "schedule",
        "List DCA schedules; admins add (on an exchange, both, or binance=60,okx=40), pause, "
        "resume, remove, label",
        USAGE,
        group="schedules",
    )
    async def schedule(call: Invocation) -> Reply:
        engine = call.services.engine
        if not call.args:
            views = await engine.db.run(list_schedules, engine)
            return Reply(
                kind="schedules",
                title=_("Schedules"),
                fields=schedule_lines(views, call),
                lines=() if views else (_("No schedules yet. e.g. /schedule add mon 07:00 100"),),
                footer=_("Times in {zone}.").format(zone=engine.settings.timezone),
            )
        action, rest = call.args[0].lower(), call.args[1:]
        if action == "add":
            require_admin(call, "/schedule add")
            if not 3 <= len(rest) <= 5:
                raise UserError(
                    _("Give days, a time and an amount, e.g. /schedule add mon,thu 07:00 100")
                )
            extra: list[str | None] = list(rest[3:])
            # amounts per exchange then a mode, or a mode without an exchange
            if len(extra) == 1 and ("=" in rest[2] or str(extra[0]).lower() in MODES):
                extra = [None, extra[0]]
            exchange = extra[0] if extra else None
            if "=" in rest[2] and exchange is not None:
                raise UserError(_("Amounts per exchange name their exchanges; give a mode "
                                  "after them only, e.g. /schedule add mon 07:00 "
                                  "binance=60,okx=40 cdc"))
            views = await add_schedule_legs(
                call.services.accounts,
                rest[0],
                rest[1],
                _legs(call, rest[2], exchange),
                extra[1] if len(extra) > 1 else None,
                requested_by=call.user.key,
            )
            call.services.schedules_changed()
            return Reply(
                kind="schedules",
                title=_("Schedule added"),
                tone=Tone.SUCCESS,
                fields=schedule_lines(views, call),
                lines=(
                    (_("Each exchange's leg runs on its own: one failing never stops another."),)
                    if len(views) > 1 else ()
                ) + _below_minimum(views, call.services.engine.settings.quote_asset),
            )
        if action in {"pause", "resume", "remove"}:
            require_admin(call, f"/schedule {action}")
            if not 1 <= len(rest) <= 2:
                raise UserError(_("Give one schedule id, e.g. /schedule {action} 1 (and an "
                                  "exchange for one leg of a split schedule)").format(
                                      action=action))
            leg = rest[1].lower() if len(rest) > 1 else None  # also a leg on a dropped exchange
            views = await engine.db.run(
                change_schedule, engine, _schedule_id(rest[0]), action,
                requested_by=call.user.key, exchange=leg,
            )
            call.services.schedules_changed()
            return Reply(
                kind="schedules",
                title=_changed_title(action, leg).format(id=views[0].group, exchange=leg),
                tone=Tone.SUCCESS,
                fields=schedule_lines(views, call),
            )
        if action == "next":
            return await _next(call, rest)
        if action == "label":
            require_admin(call, "/schedule label")
            if not rest:
                raise UserError(_("Give a schedule id and a name, e.g. /schedule label 1 "
                                  "Payday"))
            views = await engine.db.run(
                label_schedule, engine, _schedule_id(rest[0]), " ".join(rest[1:])
            )
            return Reply(kind="schedules",
                         title=_("Schedule #{id} named").format(id=views[0].group),
                         tone=Tone.SUCCESS, fields=schedule_lines(views, call))
        raise UserError(
            _("{word} is not a /schedule action; use add, pause, resume, remove or label").format(
                word=repr(shown(action)))
        )
