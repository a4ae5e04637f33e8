"""/s4: the BTC ↔ gold rotation's state, and turning its execution on (with a confirmation that
says what the next signal will do)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.cards import format as fmt
from bot.cards.alerts_s4 import asset_name, holdings_text
from bot.cards.reply import Button, Field, Reply, Tone
from bot.chat.asking import asked_account, confirm_card
from bot.chat.registry import Invocation, Registry
from bot.engine import strategy_settings
from bot.engine.context import Engine
from bot.engine.errors import UserError
from bot.engine.s4_view import RotationLine, S4View, s4_view
from bot.i18n import _, current


def _status_word(status: str) -> str:
    """A rotation's state in words (an unknown one as it is stored)."""
    words = {
        "shadow": _("shadow (told, not traded)"),
        "superseded": _("passed over"),
        "started": _("trading"),
        "retrying": _("waiting for the exchange"),
        "done": _("traded"),
        "refused": _("refused"),
        "missed": _("missed"),
    }
    return words.get(status, status)


def _sentence(text: str) -> str:
    """A full stop after a sentence the engine words; Thai ends a sentence without one."""
    return text if current.get() == "th" else text + "."


def _rotation_line(row: RotationLine) -> str:
    move = f"{asset_name(row.from_asset)} → {asset_name(row.to_asset)}"
    return f"  {fmt.day(row.decided)}  {move}  {_status_word(row.status)}"


def _trend_text(view: S4View) -> str:
    if view.trend_since is None:
        return _("not set yet")
    day = fmt.day(view.trend_since.time)
    if view.trend_since.trend.value == "up":
        return _("up (BTC ahead) since {day}").format(day=day)
    return _("down (gold ahead) since {day}").format(day=day)


def s4_card(view: S4View, engine: Engine, zone: ZoneInfo) -> Reply:
    held = asset_name(view.active.value)
    if view.since:
        held = _("{asset} since {day}").format(asset=held, day=fmt.day(view.since))
    if not view.watched:
        held = _("{held} (from the history; the daily watch has not run on this account "
                 "yet)").format(held=held)
    rotations = [_rotation_line(r) for r in view.rotations]
    signal = view.next_signal(engine)
    return Reply(
        kind="signal",
        title=_("S4 · BTC ↔ gold ({market})").format(market=view.gold_market),
        fields=(
            Field(_("S4 holds"), held),
            Field(_("Ratio trend"), _trend_text(view)),
            Field(_("Ratio"), _("{value} on {day}").format(
                value=fmt.rounded(view.ratio, 4), day=fmt.day(view.last_close))),
            Field(_("Rotations"), _("traded") if view.execute else _("shadow: told, not traded")),
            Field(_("Holdings"), holdings_text(view.holdings) or _("could not be read")),
            Field(_("Where"), f"{view.mode} · {view.exchange}"),
        ),
        lines=(
            _sentence(signal) if view.execute
            else _("{signal} (in shadow mode: it says so).").format(signal=signal),
            *([_("Last rotations:"), *rotations] if rotations else [_("No rotations yet.")]),
        ),
        image=view.chart,
        buttons=(Button(_("Refresh"), "/s4"), Button(_("Strategy"), "/strategy")),
    )


async def ask_to_execute(call: Invocation, engine: Engine) -> Reply:
    """`/strategy s4 execute on [exchange]`: say what will happen, and switch only on a
    confirmation."""
    if (await engine.db.run(strategy_settings.current, engine)).s4_execute:
        raise UserError(_("S4 rotations are traded already; /strategy s4 execute off stops that"))
    view = await s4_view(engine)

    buys = asset_name(view.active.value)
    return await confirm_card(
        call,
        kind="s4_execute",
        params={"exchange": engine.exchange.name, "mode": engine.mode,
                "next": view.next_signal(engine)},
        summary=_("Trade S4 rotations"),
        retry_hint=f"/strategy s4 execute on {engine.exchange.name}",
        title=_("Trade S4 rotations for real?"),
        fields=(
            Field(_("S4 holds"), buys),
            Field(_("Holdings"), holdings_text(view.holdings) or _("could not be read")),
            Field(_("Where"), f"{view.mode} · {view.exchange}"),
        ),
        lines=(
            _("From now on S4 schedules buy {asset}. Nothing is sold now.").format(asset=buys),
            _sentence(view.next_signal(engine)),
        ),
    )


def register(registry: Registry) -> None:
    @registry.on_confirm("s4_execute")
    async def s4_executed(call: Invocation, params: dict[str, str], token: str) -> Reply:
        engine = asked_account(call, params)
        updated = await engine.db.run(strategy_settings.update, engine, s4_execute=True)
        return Reply(
            kind="strategy",
            title=_("S4 rotations will be traded"),
            tone=Tone.SUCCESS,
            fields=(Field(_("Exchange"), updated.exchange),),
            lines=(_sentence(params["next"]),),
        )

    @registry.add(
        "s4",
        "S4: BTC or gold held, the ratio trend, last rotations, with a chart",
        "/s4 [exchange]",
        group="strategy",
    )
    async def s4(call: Invocation) -> Reply:
        if len(call.args) > 1:
            raise UserError(_("/s4 takes at most an exchange; /strategy s4 execute on|off "
                              "changes it"))
        engine = call.services.accounts.on(call.args[0] if call.args else None)
        return s4_card(await s4_view(engine), engine, engine.settings.zone)
