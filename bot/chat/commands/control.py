"""/pause, /resume (the bot's own trading, confirmed by an admin) and /version."""

from __future__ import annotations

import platform

from bot import __version__
from bot.cards import format as fmt
from bot.cards.reply import Button, Field, Reply, Tone, text_reply
from bot.chat.asking import confirm_card
from bot.chat.registry import Invocation, Registry
from bot.chat.roles import Role
from bot.engine import pause
from bot.i18n import _
from storage.migrate import current_revision

# words people try first (freqtrade says /stopbuy, /stopentry; some say /stop)
ALIASES = {"stopbuy": "pause", "stopentry": "pause", "stop": "pause", "startbuy": "resume"}


def register(registry: Registry) -> None:
    @registry.add(
        "pause",
        "Stop scheduled buys, trend sells and S4 rotations, without stopping the bot (confirm)",
        "/pause",
        role=Role.ADMIN,
        group="control",
    )
    async def pause_(call: Invocation) -> Reply:
        engine = call.services.engine
        current = await engine.db.run(pause.paused, engine)
        if current is not None:
            return text_reply(
                _("Already paused"),
                _("Paused by {who} since {time}. /resume starts again.").format(
                    who=current.paused_by,
                    time=fmt.local_time(current.paused_at, engine.settings.zone)),
                tone=Tone.WARNING,
            )
        return await confirm_card(
            call,
            kind="pause",
            params={},
            summary=_("Pause trading"),
            retry_hint="/pause",
            title=_("Pause the bot's trading?"),
            lines=(
                _("Scheduled buys, the sells and buys of trend flips and S4 rotations stop; "
                  "the bot keeps answering and alerting. Orders already sent are settled."),
            ),
        )

    @registry.add(
        "resume", "Start the bot's trading again after /pause (confirm)", "/resume",
        role=Role.ADMIN, group="control",
    )
    async def resume_(call: Invocation) -> Reply:
        engine = call.services.engine
        current = await engine.db.run(pause.paused, engine)
        if current is None:
            return text_reply(_("Not paused"),
                              _("The bot's trading is running; nothing to resume."))
        return await confirm_card(
            call,
            kind="resume",
            params={},
            summary=_("Resume trading"),
            retry_hint="/resume",
            title=_("Resume the bot's trading?"),
            fields=(
                Field(_("Paused by"), current.paused_by),
                Field(_("Since"), fmt.local_time(current.paused_at, engine.settings.zone)),
            ),
            lines=(_("Runs skipped while paused are not bought now; the next due run is."),),
        )

    @registry.on_confirm("pause")
    async def paused(call: Invocation, params: dict[str, str], token: str) -> Reply:
        if not await call.services.engine.db.run(pause.pause, call.services.engine, call.user.key):
            return text_reply(_("Already paused"), _("Someone paused it meanwhile."))
        return text_reply(
            _("Trading paused"),
            _("No scheduled buy, trend sell or S4 rotation starts until /resume. Runs due "
              "meanwhile are skipped and you hear of each. /buy and /sell still work."),
            tone=Tone.SUCCESS,
        )

    @registry.on_confirm("resume")
    async def resumed(call: Invocation, params: dict[str, str], token: str) -> Reply:
        if not await call.services.engine.db.run(pause.resume, call.services.engine,
                                                 call.user.key):
            return text_reply(_("Not paused"), _("Someone resumed it meanwhile."))
        return text_reply(
            _("Trading resumed"), _("The next due run buys as scheduled."), tone=Tone.SUCCESS
        )

    @registry.add("version", "Show the bot's version, mode and database", "/version")
    async def version(call: Invocation) -> Reply:
        engine = call.services.engine
        settings = engine.settings
        revision = await engine.db.run(current_revision, engine.db)
        return Reply(
            kind="text",
            title=f"dcabot {__version__}",
            fields=(
                Field(_("Trading on"), f"{settings.exchanges_text} · {settings.symbol}"),
                Field(_("Database"), _("{database}, migration {revision}").format(
                    database=engine.db.engine.dialect.name, revision=revision or _("none"))),
                Field("Python", platform.python_version()),
            ),
            buttons=(Button(_("Status"), "/status"),),
        )

    for alias, name in ALIASES.items():
        registry.alias(alias, name)
