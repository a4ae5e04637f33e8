"""The Telegram channel: updates in (by webhook or polling), cards out.

One python-telegram-bot `Application` is built per process, in the web app's lifespan, without an
updater when Telegram pushes updates to `/webhook/telegram`, with one for `dcabot run --polling`.
Every update runs in the background, in order per chat, once claimed in `processed_updates` (a
redelivered `update_id` is dropped). Private chats take any text; a group only commands
meant for this bot (`/status` or `/status@thisbot`), so people can talk among themselves there.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from telegram import CallbackQuery, Message, Update
from telegram import User as TelegramUser
from telegram.constants import ChatType
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.cards.reply import Reply, notice, notice_text
from bot.cards.taps import TELEGRAM_LIMIT, TapKind, parse_tap
from bot.chat.background import BackgroundWork, claimed_first
from bot.chat.inbound import Inbound
from bot.chat.roles import Role, User
from bot.chat.telegram_send import deliver, drop_buttons, is_settled, replace_card
from bot.chat.webhooks import Refused
from bot.config import Settings
from bot.engine.errors import UserError
from storage.db import Database

log = logging.getLogger(__name__)

CHANNEL = "telegram"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
Clock = Callable[[], datetime]


def webhook_secret(settings: Settings) -> str:
    """`TELEGRAM_WEBHOOK_SECRET`, or one derived from the bot token when it is not set: whoever
    holds the token controls the bot anyway, and `set-webhook` derives the same value."""
    if settings.telegram_webhook_secret:
        return settings.telegram_webhook_secret
    digest = hashlib.sha256(f"dcabot-webhook:{settings.telegram_bot_token}".encode()).hexdigest()
    return digest[:48]


PtbApplication = Application[Any, Any, Any, Any, Any, Any]


def build_application(settings: Settings, *, polling: bool) -> PtbApplication:
    """The PTB application for `settings`; build it inside the running event loop."""
    api = settings.telegram_api_url
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .connection_pool_size(16)  # httpcore walks the whole pool on every request
        .pool_timeout(10.0)
    )
    if not polling:
        builder = builder.updater(None)
    return builder.build()


class TelegramChannel:
    def __init__(
        self,
        application: PtbApplication,
        inbound: Inbound,
        work: BackgroundWork,
        db: Database,
        clock: Clock,
    ) -> None:
        self.application = application
        self.inbound = inbound
        self.work = work
        self.db = db
        self.clock = clock
        self.polling = application.updater is not None
        self._initialized = False

    @property
    def mode(self) -> str:
        return "polling" if self.polling else "webhook"

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self.application.initialize()
            self._initialized = True
        except InvalidToken:
            await self.application.bot.shutdown()
            raise UserError("TELEGRAM_BOT_TOKEN was refused by Telegram; check it") from None
        except TelegramError as exc:  # unreachable now; sending is tried anyway, per reply
            log.warning("Telegram did not answer getMe at start (%s); carrying on", exc)
        updater = self.application.updater
        if updater is not None:
            self.application.add_handler(TypeHandler(Update, self._polled))
            await updater.start_polling(allowed_updates=list(ALLOWED_UPDATES))
            await self.application.start()

    async def stop_polling(self) -> None:
        """Fetch no more updates (polling mode); what was fetched still gets its answer."""
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()

    async def stop(self) -> None:
        await self.stop_polling()
        if self._initialized:
            await self.application.shutdown()
        else:
            await self.application.bot.shutdown()

    # -- updates in ----------------------------------------------------------------------------

    def parse(self, payload: object) -> Update:
        """The `Update` in a webhook body; ValueError when it is not one, `Refused` (naming the
        problem) for one Telegram never sends: an `update_id` outside 0..2**63-1 (Telegram's
        are positive 32-bit numbers; a bigger one would not fit the claim's key), callback
        data over Telegram's 64 bytes (this bot's buttons never carry more), message text that
        is not a string (PTB does not check types; `accept` reads the text)."""
        if not isinstance(payload, dict):
            raise Refused("not a JSON object")
        update_id = payload.get("update_id")
        if type(update_id) is not int or not 0 <= update_id < 2**63:  # bool is no id either
            raise Refused("update_id must be an integer from 0 to 2**63-1")
        try:
            update = Update.de_json(payload, self.application.bot)
        except Exception as exc:  # PTB raises whatever the malformed field provokes
            raise ValueError(f"malformed Telegram update ({type(exc).__name__})") from None
        data = update.callback_query.data if update.callback_query is not None else None
        if data is not None and (
            not isinstance(data, str)
            or len(data.encode("utf-8", "surrogatepass")) > TELEGRAM_LIMIT
        ):
            raise Refused(f"callback data must be text of at most {TELEGRAM_LIMIT} bytes")
        message = update.message or update.edited_message
        if message is not None and not isinstance(message.text, str | None):
            raise Refused("message text must be a string")
        return update

    def accept(self, update: Update) -> bool:
        """Queue `update`, to be answered once claimed (`claimed_first`: a redelivery is then
        dropped); False when it is a stranger's that gets no answer. A stranger's update is
        decided before any of that (`_stranger`): no claim, and a task only for the few
        refusals the pace allows, so a flood of new ids costs next to nothing."""
        sender = update.effective_user
        if sender is not None:
            user = self._user(sender)
            if user.role is Role.STRANGER:
                return self._stranger(update, user)
        chat, key = update.effective_chat, str(update.update_id)
        answer = claimed_first(self.db, CHANNEL, key, self.clock(), lambda: self.process(update))
        self.work.spawn(f"{CHANNEL}:{chat.id if chat else key}", answer)
        return True

    def _user(self, sender: TelegramUser) -> User:
        return self.inbound.user(CHANNEL, str(sender.id), sender.first_name,
                                 sender.language_code or "")

    def _stranger(self, update: Update, user: User) -> bool:
        """Queue the refusal a stranger may hear now (a toast for a tap), or drop the update:
        this process's gate decides at once, the workers' shared gate in the queued task."""
        query, message = update.callback_query, update.message or update.edited_message
        speaks = query is not None or (
            message is not None
            and (message.chat.type == ChatType.PRIVATE or self._meant_for_me(message.text or ""))
        )
        if not speaks or not self.inbound.strangers.admit(user):
            return False
        chat = update.effective_chat
        conversation = f"{CHANNEL}:{chat.id if chat else user.user_id}"

        async def refuse() -> None:
            reply = await self.inbound.shared_refusal(user)
            if reply is None:
                return
            if query is not None:
                await self._toast(query, notice(reply))
            elif message is not None:
                await deliver(self.application.bot, message.chat_id, reply)

        self.work.spawn(conversation, refuse)
        return True

    async def _toast(self, query: CallbackQuery, reply: Reply | None) -> bool:
        """Answer a button tap, with a notice for the tapper alone when there is one."""
        try:
            await query.answer(text=notice_text(reply) if reply is not None else None)
        except TelegramError as exc:
            log.info("could not answer telegram callback: %s", exc)
            return False
        return True

    async def _polled(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update):
            self.accept(update)

    async def process(self, update: Update) -> None:
        """Answer one update; never raises (a failure is logged, the update is done)."""
        try:
            if update.callback_query is not None:
                await self._tap(update.callback_query)
            elif update.message is not None:
                await self._message(update.message)
            elif update.edited_message is not None:
                await self._edited(update.edited_message)
            else:
                log.debug("telegram update %s is of a kind this bot ignores", update.update_id)
        except Exception:
            log.exception("telegram update %s failed", update.update_id)

    # -- what people send ----------------------------------------------------------------------

    def _username(self) -> str:
        try:
            return str(self.application.bot.username).lower()
        except RuntimeError:  # getMe failed at start: accept any @suffix
            return ""

    def _meant_for_me(self, text: str) -> bool:
        """In a group: a command, and if it names a bot (`/status@name`), this one."""
        head = text.split(maxsplit=1)[0] if text.strip() else ""
        if not head.startswith("/"):
            return False
        _, at, name = head.partition("@")
        mine = self._username()
        return not at or not mine or name.lower() == mine

    async def _message(self, message: Message) -> None:
        sender = message.from_user
        if sender is None or sender.is_bot:
            return
        private = message.chat.type == ChatType.PRIVATE
        text = message.text
        if text is not None and text.strip() and not private and not self._meant_for_me(text):
            return
        user = self._user(sender)
        if text is None or not text.strip():
            if not private:
                return  # a sticker in a group is people talking to each other
            reply = await self.inbound.not_text(user)
        else:
            reply = await self.inbound.text(user, text)
        if reply is not None:
            reply = replace(reply, owner_tag=self.inbound.tag_for(user))
            await deliver(self.application.bot, message.chat_id, reply)

    async def _edited(self, message: Message) -> None:
        sender = message.from_user
        if sender is None or message.chat.type != ChatType.PRIVATE:
            return
        reply = await self.inbound.edited(
            self._user(sender)
        )
        if reply is not None:
            await deliver(self.application.bot, message.chat_id, reply)

    async def _tap(self, query: CallbackQuery) -> None:
        """A button. A tap its tapper may not make gets a toast and changes nothing; a command
        tap edits the card in place only when the card is the tapper's (a private chat, or a
        card tagged with their id), else its answer comes as a new message."""
        bot = self.application.bot
        sender = query.from_user
        user = self._user(sender)
        data = query.data or ""
        refused = await self.inbound.tap_notice(user, data)
        await self._toast(query, refused)  # at once: the spinner stops, a refusal is said
        if refused is not None:
            return
        reply = await self.inbound.tap(user, data)
        if reply is None:
            return
        card = query.message  # None, or inaccessible, when the message is too old or deleted
        chat_id = card.chat.id if card is not None else sender.id
        reply = replace(reply, owner_tag=self.inbound.tag_for(user))
        tap = parse_tap(data)
        if card is not None and tap is not None:
            private = card.chat.type == ChatType.PRIVATE
            if tap.kind is TapKind.COMMAND:
                if (private or self.inbound.owns_card(user, data)) and await replace_card(
                    bot, chat_id, card.message_id, reply
                ):
                    return
            elif is_settled(reply):
                await drop_buttons(bot, chat_id, card.message_id)
        await deliver(bot, chat_id, reply)
