"""/alerts: where your alerts go, and which kinds you muted."""

from __future__ import annotations

from bot.cards.reply import Field, Reply, Tone
from bot.chat.registry import Invocation, Registry
from bot.engine.errors import UserError, shown
from bot.i18n import _
from bot.notify.alert_kinds import KINDS
from bot.notify.health import alert_health, configured_channels, status_summary
from bot.notify.routes import Person, configured_people, person_for
from storage import alert_prefs

USAGE = "/alerts, /alerts mute <kind>, /alerts unmute <kind>"


def _person(call: Invocation) -> Person:
    settings = call.services.engine.settings
    person = person_for(configured_people(settings.alert_routes, settings.admins), call.user.key)
    if person is None:
        raise UserError(
            _("{user} gets no alerts; DCABOT_ALERT_ROUTES (or DCABOT_ADMINS) lists who "
              "does").format(user=call.user.key)
        )
    return person


def _kind(text: str) -> str:
    kind = text.lower()
    if kind not in KINDS:
        raise UserError(_("{word} is not an alert kind; /alerts lists them").format(
            word=repr(shown(text))))
    return kind


def _level(level: str) -> str:
    """How far a kind is muted, in words (`muted` or `silent` as stored)."""
    return {alert_prefs.MUTED: _("muted"), alert_prefs.SILENT: _("silent")}.get(level, level)


def _overview(call: Invocation, person: Person, note: str = "") -> Reply:
    engine = call.services.engine
    with engine.db.transaction() as session:
        mutes = alert_prefs.mutes_of(session, person.name)
    health = alert_health(engine.db, configured_channels(engine.settings), engine.clock())
    muted = [f"{kind} ({_level(level)})" for kind, level in sorted(mutes.items())]
    return Reply(
        kind="text",
        title=_("Alerts for {person}").format(person=person.name),
        fields=(
            Field(_("Channels"), " → ".join(str(r) for r in person.routes)),
            Field(_("Muted"), ", ".join(muted) or _("nothing")),
            Field(_("Delivery"), status_summary(health, engine.settings.zone)),
        ),
        lines=(note,) if note else (),
        tone=Tone.SUCCESS if note else Tone.INFO,
        footer=_("Kinds: {kinds}").format(kinds=", ".join(KINDS)),
    )


def register(registry: Registry) -> None:
    @registry.add("alerts", "Where your alerts go; mute or unmute a kind", USAGE)
    async def alerts(call: Invocation) -> Reply:
        person, db = _person(call), call.services.engine.db
        if not call.args:
            return await db.run(_overview, call, person)
        action = call.args[0].lower()
        if action not in ("mute", "unmute") or len(call.args) != 2:
            raise UserError(_("Say /alerts, /alerts mute <kind> or /alerts unmute <kind>"))
        kind = KINDS[_kind(call.args[1])]
        level = None
        if action == "mute":
            level = alert_prefs.SILENT if kind.floor_silent else alert_prefs.MUTED
        now = call.services.engine.clock()
        await db.transact(alert_prefs.set_mute, person.name, kind.name, level, now)
        if level == alert_prefs.SILENT:
            note = _("{kind} alerts still come, without sound: fills and errors always "
                     "arrive.").format(kind=kind.name)
        elif level == alert_prefs.MUTED:
            note = _("{kind} alerts are muted.").format(kind=kind.name)
        else:
            note = _("{kind} alerts come as usual again.").format(kind=kind.name)
        return await db.run(_overview, call, person, note)
