"""What any chat channel does with what a person sent, whichever platform it came from.

The channels (Telegram, LINE) only translate: they find who sent what, call one of these, and
render the `Reply` they get back, or say nothing when they get None. Here live the rules that
must be the same everywhere: strangers hear one refusal (paced) and nothing else, an over-long
text is not parsed, an edit is not run again, a sticker gets a hint, a button tap answers its
confirmation, and a tap on someone else's card or confirmation is a notice to the tapper alone
that changes nothing.
"""

from __future__ import annotations

from bot.cards.reply import Field, Reply, Tone, error_reply, notice, text_reply
from bot.cards.taps import TapKind, owner_tag, parse_tap
from bot.chat.commands.general import MAIN_BUTTONS
from bot.chat.registry import ChatServices, Registry
from bot.chat.roles import Role, User, identify
from bot.chat.strangers import StrangerGate

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

    def tag_for(self, user: User) -> str:
        """The tag that marks a card sent to `user` as theirs."""
        return owner_tag(self.card_secret, user.key)

    async def tap_notice(self, user: User, data: str) -> Reply | None:
        """Decided at once, running nothing: a notice for a tap its tapper may not make (a
        stranger, someone else's card or confirmation, an unknown button); None to go on."""
        if user.role is Role.STRANGER:
            refusal = await self.strangers.refusal(user)
            return notice(refusal) if refusal is not None else None
        tap = parse_tap(data)
        if tap is None:
            return notice(text_reply("Old button", "This button no longer does anything."))
        if tap.kind is TapKind.CONFIRM:
            refused = await self.services.confirmations.refusal_for(user, tap.value)
            return notice(refused) if refused is not None else None
        if tap.owner_tag and tap.owner_tag != self.tag_for(user):
            return notice(
                text_reply(
                    "Not your card",
                    f"This card is someone else's; send {tap.value} to see yours.",
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
            return await self.strangers.refusal(user)
        if not text.strip():
            return await self.not_text(user)
        if len(text) > MAX_COMMAND_TEXT:
            return error_reply(
                f"That message is {len(text):,} characters long; commands are short.",
                hint="/help lists them all.",
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
            return await self.strangers.refusal(user)
        return text_reply(
            "Commands are text",
            "I only understand text commands, for example /status.",
            "/help lists them all.",
        )

    async def edited(self, user: User) -> Reply | None:
        """An edited message is not run again: editing `/buy 50` must not buy a second time."""
        if user.role is Role.STRANGER:
            return await self.strangers.refusal(user)
        return text_reply(
            "Edits are not run",
            "I do not run edited messages again. Send the command as a new message.",
        )

    async def welcome(self, user: User) -> Reply | None:
        """Someone added the bot: show them their id, which the owner needs to allow them."""
        if user.role is Role.STRANGER:
            return await self.strangers.refusal(user)
        return Reply(
            kind="text",
            title="Welcome to dcabot",
            fields=(Field("Your id", user.key), Field("Role", user.role.name.lower())),
            lines=("Try /status to see your holdings, or /help for every command.",),
            buttons=MAIN_BUTTONS,
        )
