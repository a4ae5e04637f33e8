"""/s4: the BTC ↔ gold rotation's state, and turning its execution on (with a confirmation that
says what the next signal will do)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.cards import format as fmt
from bot.cards.alerts_s4 import NAMES, holdings_text
from bot.cards.reply import Button, Field, Reply, Tone
from bot.chat.asking import asked_account, confirm_card
from bot.chat.registry import Invocation, Registry
from bot.engine import strategy_settings
from bot.engine.context import Engine
from bot.engine.errors import UserError
from bot.engine.s4_view import RotationLine, S4View, s4_view

STATUS_WORDS = {
    "shadow": "shadow (told, not traded)",
    "superseded": "passed over",
    "started": "trading",
    "retrying": "waiting for the exchange",
    "done": "traded",
    "refused": "refused",
    "missed": "missed",
}


def _rotation_line(row: RotationLine) -> str:
    move = f"{NAMES.get(row.from_asset, row.from_asset)} → {NAMES.get(row.to_asset, row.to_asset)}"
    return f"  {row.decided:%Y-%m-%d}  {move}  {STATUS_WORDS.get(row.status, row.status)}"


def s4_card(view: S4View, engine: Engine, zone: ZoneInfo) -> Reply:
    since = f" since {view.since:%Y-%m-%d}" if view.since else ""
    held = f"{NAMES[view.active.value]}{since}"
    if not view.watched:
        held += " (from the history; the daily watch has not run on this account yet)"
    trend = "not set yet"
    if view.trend_since is not None:
        ahead = "BTC ahead" if view.trend_since.trend.value == "up" else "gold ahead"
        trend = f"{view.trend_since.trend.value} ({ahead}) since {view.trend_since.time:%Y-%m-%d}"
    rotations = [_rotation_line(r) for r in view.rotations]
    return Reply(
        kind="signal",
        title=f"S4 · BTC ↔ gold ({view.gold_market})",
        fields=(
            Field("S4 holds", held),
            Field("Ratio trend", trend),
            Field("Ratio", f"{fmt.rounded(view.ratio, 4)} on {view.last_close:%Y-%m-%d}"),
            Field("Rotations", "traded" if view.execute else "shadow: told, not traded"),
            Field("Holdings", holdings_text(view.holdings) or "could not be read"),
            Field("Where", f"{view.mode} · {view.exchange}"),
        ),
        lines=(
            view.next_signal(engine) + ("." if view.execute else " (in shadow mode: it says so)."),
            *(["Last rotations:", *rotations] if rotations else ["No rotations yet."]),
        ),
        image=view.chart,
        buttons=(Button("Refresh", "/s4"), Button("Strategy", "/strategy")),
    )


async def ask_to_execute(call: Invocation, engine: Engine) -> Reply:
    """`/strategy s4 execute on [exchange]`: say what will happen, and switch only on a
    confirmation."""
    if (await engine.db.run(strategy_settings.current, engine)).s4_execute:
        raise UserError("S4 rotations are traded already; /strategy s4 execute off stops that")
    view = await s4_view(engine)

    buys = NAMES[view.active.value]
    return await confirm_card(
        call,
        kind="s4_execute",
        params={"exchange": engine.exchange.name, "mode": engine.mode,
                "next": view.next_signal(engine)},
        summary="Trade S4 rotations",
        retry_hint=f"/strategy s4 execute on {engine.exchange.name}",
        title="Trade S4 rotations for real?",
        fields=(
            Field("S4 holds", NAMES[view.active.value]),
            Field("Holdings", holdings_text(view.holdings) or "could not be read"),
            Field("Where", f"{view.mode} · {view.exchange}"),
        ),
        lines=(
            f"From now on S4 schedules buy {buys}. Nothing is sold now.",
            view.next_signal(engine) + ".",
        ),
    )


def register(registry: Registry) -> None:
    @registry.on_confirm("s4_execute")
    async def s4_executed(call: Invocation, params: dict[str, str], token: str) -> Reply:
        engine = asked_account(call, params)
        updated = await engine.db.run(strategy_settings.update, engine, s4_execute=True)
        return Reply(
            kind="strategy",
            title="S4 rotations will be traded",
            tone=Tone.SUCCESS,
            fields=(Field("Exchange", updated.exchange),),
            lines=(params["next"] + ".",),
        )

    @registry.add(
        "s4",
        "S4: BTC or gold held, the ratio trend, last rotations, with a chart",
        "/s4 [exchange]",
        group="strategy",
    )
    async def s4(call: Invocation) -> Reply:
        if len(call.args) > 1:
            raise UserError("/s4 takes at most an exchange; /strategy s4 execute on|off "
                            "changes it")
        engine = call.services.accounts.on(call.args[0] if call.args else None)
        return s4_card(await s4_view(engine), engine, engine.settings.zone)
