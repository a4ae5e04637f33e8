"""The command registry: every channel's handlers, `/help` and the README table come from here.

A command is a name, a one-line summary, a usage line, the role it needs, and an async handler
that returns a `Reply`. Handlers raise `UserError` for bad input; the registry turns that (and any
unexpected failure) into a short card, never a stack trace.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from sqlalchemy.exc import DataError

from bot.cards.reply import Reply, error_reply
from bot.chat.confirmations import ConfirmationBook
from bot.chat.roles import Role, User
from bot.config_choices import BuddhistEra
from bot.engine import pause
from bot.engine.accounts import Accounts
from bot.engine.context import Engine
from bot.engine.errors import UserError, shown
from bot.exchanges.base import ExchangeError
from bot.i18n import _, known, speaking
from storage import languages

log = logging.getLogger(__name__)
MAX_NAME = 32  # no command name is longer; a longer word is not worth a suggestion


def _nothing() -> None:
    return None


@dataclass
class ChatServices:
    """What handlers may use: the default exchange's engine and every exchange's
    (`accounts`), the confirmation book, and a hook that tells the scheduler (when this process
    runs one) that the schedules changed."""

    engine: Engine
    confirmations: ConfirmationBook
    schedules_changed: Callable[[], None] = _nothing
    accounts: Accounts = field(default=None)  # type: ignore[assignment]  # set after init

    def __post_init__(self) -> None:
        if self.accounts is None:
            self.accounts = Accounts.of(self.engine)


def _buddhist(services: ChatServices) -> bool:
    """Whether Thai dates count years in the Buddhist era (DCABOT_BUDDHIST_ERA)."""
    return services.engine.settings.buddhist_era == BuddhistEra.ON


async def language_of(services: ChatServices, user: User) -> str:
    """The language `user` chose (/lang), else their app's (Telegram's, remembered as last seen
    so their alerts come in it too), else DCABOT_LANGUAGE. A database that cannot be read
    gives the default: a command is still answered."""
    engine = services.engine
    default = engine.settings.language
    try:
        found = await engine.db.run(languages.stored, engine.db, user.key)
        if found is not None and found[1]:
            return found[0]
        hinted = known(user.language_hint)
        if hinted is not None and user.role is not Role.STRANGER:
            if found is None or found[0] != hinted:
                await engine.db.run(languages.choose, engine.db, user.key, hinted,
                                    engine.clock(), explicit=False)
            return hinted
    except Exception:
        log.exception("the language of %s could not be read", user.key)
        return default
    return found[0] if found is not None else default


def require_admin(call: Invocation, what: str) -> None:
    """For subcommands that change things under a command viewers may read."""
    if call.user.role < Role.ADMIN:
        raise UserError(_("{what} needs an admin; you are {role}").format(
            what=what, role=role_name(call.user.role)))


@dataclass(frozen=True, slots=True)
class Invocation:
    user: User
    name: str
    args: tuple[str, ...]
    services: ChatServices


Handler = Callable[[Invocation], Awaitable[Reply]]
# What a taken confirmation does: the asker's invocation (named after the kind), the parameters
# written when it was asked, and the token (the cause of any order it places).
ConfirmedAction = Callable[[Invocation, dict[str, str], str], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    summary: str
    usage: str
    role: Role
    handler: Handler
    group: str = "general"


def with_pause_banner(engine: Engine, reply: Reply) -> Reply:
    """Every card says PAUSED while the bot's trading is paused (`bot.engine.pause`); a card
    whose banner cannot be read goes without it (the card matters more)."""
    try:
        if pause.paused_lately(engine) is None:
            return reply
    except Exception:
        log.exception("could not read the pause switch")
        return reply
    banner = _("PAUSED: the bot starts no trades until /resume")
    footer = f"{banner} · {reply.footer}" if reply.footer else banner
    return replace(reply, footer=footer)


@dataclass
class Registry:
    commands: dict[str, Command] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # other words for a command
    actions: dict[str, tuple[Role, ConfirmedAction]] = field(default_factory=dict)

    def add(
        self, name: str, summary: str, usage: str, role: Role = Role.VIEWER, group: str = "general"
    ) -> Callable[[Handler], Handler]:
        """Decorator registering a handler under `/name`."""

        def register(handler: Handler) -> Handler:
            if name in self.commands:
                raise ValueError(f"/{name} is registered twice")
            self.commands[name] = Command(name, summary, usage, role, handler, group)
            return handler

        return register

    def on_confirm(
        self, kind: str, role: Role = Role.ADMIN
    ) -> Callable[[ConfirmedAction], ConfirmedAction]:
        """Decorator registering what a confirmation of `kind` does once its asker taps yes
        (`role` is checked again then: a person may have lost it meanwhile)."""

        def register(action: ConfirmedAction) -> ConfirmedAction:
            if kind in self.actions:
                raise ValueError(f"confirmation {kind!r} is registered twice")
            self.actions[kind] = (role, action)
            return action

        return register

    def alias(self, word: str, name: str) -> None:
        """`/word` runs `/name` (not listed in /help)."""
        if word in self.commands or name not in self.commands:
            raise ValueError(f"/{word} cannot be an alias of /{name}")
        self.aliases[word] = name

    def visible_to(self, role: Role) -> list[Command]:
        return [c for c in self.commands.values() if c.role <= role]

    def suggest(self, name: str) -> str | None:
        if len(name) > MAX_NAME:
            return None
        close = difflib.get_close_matches(name, list(self.commands), n=1, cutoff=0.5)
        return close[0] if close else None

    async def dispatch(self, user: User, text: str, services: ChatServices) -> Reply:
        """Run the command in `text` for `user`, in their language; always returns a card."""
        language = await language_of(services, user)
        with speaking(language, in_buddhist_era=_buddhist(services)):
            reply = await self._dispatch(user, text, services)
            reply = await services.engine.db.run(with_pause_banner, services.engine, reply)
        return replace(reply, language=language)

    async def _dispatch(self, user: User, text: str, services: ChatServices) -> Reply:
        parsed = parse_command(text)
        if parsed is None:
            return error_reply(_("Send a command, for example /status."),
                               hint=_("/help lists them all."))
        name, args = parsed
        name = self.aliases.get(name, name)
        command = self.commands.get(name)
        if command is None:
            guess = self.suggest(name)
            did_you_mean = _("Did you mean /{guess}?").format(guess=guess) + " " if guess else ""
            return error_reply(
                _("/{name} is not a command.").format(name=shown(name)),
                hint=did_you_mean + _("/help lists them all."),
            )
        if user.role < command.role:
            needed = _("an admin") if command.role is Role.ADMIN else _("a viewer or admin")
            return error_reply(
                _("/{name} needs {needed}; you are {role}.").format(
                    name=name, needed=needed, role=role_name(user.role)),
                hint=_("Ask the bot's owner to add you to DCABOT_ADMINS."),
            )
        return await _answered(
            name, command.usage, command.handler(Invocation(user, name, args, services))
        )

    async def confirm(
        self, services: ChatServices, user: User, token: str, *, accept: bool
    ) -> Reply:
        """The one way a confirmation is answered, on any channel and any worker: take it
        (one tap wins), then run what was asked; always returns a card."""
        language = await language_of(services, user)
        with speaking(language, in_buddhist_era=_buddhist(services)):
            reply = await self._confirm(services, user, token, accept=accept)
        return replace(reply, language=language)

    async def _confirm(
        self, services: ChatServices, user: User, token: str, *, accept: bool
    ) -> Reply:
        taken = await services.confirmations.take(user, token, accept=accept)
        if isinstance(taken, Reply):
            return await services.engine.db.run(with_pause_banner, services.engine, taken)
        role, action = self.actions.get(taken.kind, (Role.ADMIN, None))
        if action is None:  # asked by a version that did something this one does not
            reply = error_reply(_("This bot no longer does {what!r}; nothing was done.").format(
                what=taken.summary))
        elif user.role < role:
            reply = error_reply(_("{what} needs an admin; you are {role} now. Nothing was "
                                  "done.").format(what=taken.summary, role=role_name(user.role)))
        else:
            call = Invocation(user, taken.kind, (), services)
            reply = await _answered(
                taken.kind, taken.retry_hint, action(call, taken.params, taken.token)
            )
        return await services.engine.db.run(with_pause_banner, services.engine, reply)


async def _answered(name: str, usage: str, running: Awaitable[Reply]) -> Reply:
    """The card of a command or a confirmed action: its own, or a short one for a failure,
    never a stack trace."""
    try:
        return await running
    except UserError as exc:
        return error_reply(str(exc), hint=_("Usage: {usage}").format(usage=usage))
    except ExchangeError as exc:  # the exchange refused or cannot be reached: say which
        log.warning("command /%s: %s", name, exc)
        return error_reply(str(exc), hint=_("Nothing was done; try again later."))
    except DataError:  # a value the database cannot store, e.g. a number too large
        log.warning("command /%s: a value the database cannot store", name)
        return error_reply(
            _("/{name}: a value is too large to store; nothing was done.").format(name=name),
            hint=_("Usage: {usage}").format(usage=usage),
        )
    except Exception:
        log.exception("command /%s failed", name)
        return error_reply(
            _("/{name} failed unexpectedly; nothing more was done.").format(name=name),
            hint=_("The details are in the bot's log."),
        )


def role_name(role: Role) -> str:
    return {Role.ADMIN: _("admin"), Role.VIEWER: _("viewer")}.get(role, _("stranger"))


def parse_command(text: str) -> tuple[str, tuple[str, ...]] | None:
    """`/buy@mybot 50` -> ('buy', ('50',)). The slash is optional, names are case-insensitive."""
    words = text.strip().split()
    if not words:
        return None
    head = words[0].removeprefix("/").split("@", 1)[0].lower()
    if not head:
        return None
    return head, tuple(words[1:])
