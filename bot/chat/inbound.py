"""What any chat channel does with what a person sent, whichever platform it came from.

The channels (Telegram, LINE) only translate: they find who sent what, call one of these, and
render the `Reply` they get back, or say nothing when they get None. Here live the rules that
must be the same everywhere: strangers hear one refusal (paced) and nothing else, an over-long
text is not parsed, an edit is not run again, a sticker gets a hint, a button tap answers its
confirmation, and a tap on someone else's card or confirmation is a notice to the tapper alone
that changes nothing.
"""

from __future__ import annotations

from bot.cards.reply import (
    Field,
    Reply,
    Tone,
    error_reply,
    main_buttons,
    notice,
    text_reply,
)
from bot.cards.taps import TapKind, owner_tag, parse_tap
from bot.chat.confirmations import not_yours
from bot.chat.registry import ChatServices, Registry, language_of, role_name
from bot.chat.roles import Role, User, identify
from bot.chat.strangers import StrangerGate
from bot.i18n import _, speaking

MAX_COMMAND_TEXT = 4096  # Telegram's own limit; no command is anywhere near it


class Inbound:
    def __init__(
        self,
        registry: Registry,
        services: ChatServices,
        strangers: StrangerGate,
        card_secret: bytes,
    ) -> None:
        self.registry = registry
        self.services = services
        self.strangers = strangers
        self.card_secret = card_secret

    def user(self, channel: str, user_id: str, name: str = "", language: str = "") -> User:
        return identify(self.services.engine.settings, channel, user_id, name, language)

    @property
    def default_language(self) -> str:
        """DCABOT_LANGUAGE: what a stranger's refusal is said in."""
        return self.services.engine.settings.language

    async def language(self, user: User) -> str:
        """The language replies to `user` are in (a stranger's: the default, read from
        nowhere, so a flood of strangers costs no database work)."""
        if user.role is Role.STRANGER:
            return self.default_language
        return await language_of(self.services, user)

    async def refusal(self, user: User) -> Reply | None:
        """The stranger's refusal, when they may hear it now (`StrangerGate.refusal`)."""
        with speaking(self.default_language):
            return await self.strangers.refusal(user)

    async def shared_refusal(self, user: User) -> Reply | None:
        """The refusal for an update `StrangerGate.admit` let through, when the workers'
        shared gate lets it be said (`StrangerGate.shared_refusal`)."""
        with speaking(self.default_language):
            return await self.strangers.shared_refusal(user)

    def tag_for(self, user: User) -> str:
        """The tag that marks a card sent to `user` as theirs."""
        return owner_tag(self.card_secret, user.key)

    async def tap_notice(self, user: User, data: str) -> Reply | None:
        """Decided at once, running nothing: a notice for a tap its tapper may not make (a
        stranger, someone else's card or confirmation, an unknown button); None to go on."""
        if user.role is Role.STRANGER:
            refusal = await self.refusal(user)
            return notice(refusal) if refusal is not None else None
        tap = parse_tap(data)
        if tap is None:
            with speaking(await self.language(user)):
                return notice(text_reply(_("Old button"),
                                         _("This button no longer does anything.")))
        if tap.kind is TapKind.CONFIRM:
            if not await self.services.confirmations.someone_elses(user, tap.value):
                return None
            with speaking(await self.language(user)):
                return notice(not_yours())
        if tap.owner_tag and tap.owner_tag != self.tag_for(user):
            with speaking(await self.language(user)):
                return notice(
                    text_reply(
                        _("Not your card"),
                        _("This card is someone else's; send {command} to see yours.").format(
                            command=tap.value),
                        tone=Tone.WARNING,
                    )
                )
        return None

    def owns_card(self, user: User, data: str) -> bool:
        """Whether the button tapped is on a card marked as `user`'s."""
        tap = parse_tap(data)
        return tap is not None and bool(tap.owner_tag) and tap.owner_tag == self.tag_for(user)

    async def text(self, user: User, text: str) -> Reply | None:
        """A typed command (slash optional, any case, `@bot` suffix allowed)."""
        if user.role is Role.STRANGER:
            return await self.refusal(user)
        if not text.strip():
            return await self.not_text(user)
        if len(text) > MAX_COMMAND_TEXT:
            with speaking(await self.language(user)):
                return error_reply(
                    _("That message is {count} characters long; commands are short.").format(
                        count=f"{len(text):,}"),
                    hint=_("/help lists them all."),
                )
        return await self.registry.dispatch(user, text, self.services)

    async def tap(self, user: User, data: str) -> Reply | None:
        """A button: a confirmation's answer, or a command such as Refresh (`/status`).
        Channels ask `tap_notice` first; this checks again and answers with the notice."""
        refused = await self.tap_notice(user, data)
        if refused is not None or user.role is Role.STRANGER:
            return refused
        tap = parse_tap(data)
        if tap is None:
            return None
        if tap.kind is TapKind.CONFIRM:
            return await self.registry.confirm(self.services, user, tap.value, accept=tap.accept)
        return await self.registry.dispatch(user, tap.value, self.services)

    async def not_text(self, user: User) -> Reply | None:
        """A sticker, a photo, an empty message: nothing to run, so say what would work."""
        if user.role is Role.STRANGER:
            return await self.refusal(user)
        with speaking(await self.language(user)):
            return text_reply(
                _("Commands are text"),
                _("I only understand text commands, for example /status."),
                _("/help lists them all."),
            )

    async def edited(self, user: User) -> Reply | None:
        """An edited message is not run again: editing `/buy 50` must not buy a second time."""
        if user.role is Role.STRANGER:
            return await self.refusal(user)
        with speaking(await self.language(user)):
            return text_reply(
                _("Edits are not run"),
                _("I do not run edited messages again. Send the command as a new message."),
            )

    async def welcome(self, user: User) -> Reply | None:
        """Someone added the bot: show them their id, which the owner needs to allow them."""
        if user.role is Role.STRANGER:
            return await self.refusal(user)
        with speaking(await self.language(user)):
            return Reply(
                kind="text",
                title=_("Welcome to dcabot"),
                fields=(Field(_("Your id"), user.key), Field(_("Role"), role_name(user.role))),
                lines=(_("Try /status to see your holdings, or /help for every command."),),
                buttons=main_buttons(),
            )
