"""The Bot API methods the fake Telegram serves, over its in-memory state.

Each handler takes the decoded parameters and returns the `result`, or raises TelegramError with
the status and description Telegram would give.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .telegram_wire import (
    TelegramError,
    UploadedFile,
    bad_request,
    formatted_text,
    inline_markup,
)

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass
class SentMessage:
    """A message the bot sent, as the fake keeps it (edits applied in place)."""

    chat_id: str
    message_id: int
    method: str
    message: dict[str, Any]
    raw_text: str | None = None
    parse_mode: str | None = None
    photo: bytes | str | None = None
    edits: int = 0
    deleted: bool = False
    sent_at: float = field(default_factory=time.time)

    @property
    def text(self) -> str | None:
        """Plain text as Telegram stores it (HTML tags stripped, entities unescaped)."""
        return self.message.get("text")

    @property
    def caption(self) -> str | None:
        return self.message.get("caption")

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        return self.message.get("reply_markup")


def chat_for(chat_id: Any) -> dict[str, Any]:
    try:
        number = int(chat_id)
    except (TypeError, ValueError):
        raise bad_request("chat not found") from None
    if number > 0:
        return {"id": number, "type": "private", "first_name": f"User{number}"}
    if str(number).startswith("-100"):
        return {"id": number, "type": "supergroup", "title": f"Supergroup {number}"}
    return {"id": number, "type": "group", "title": f"Group {number}"}


class TelegramState:
    """Messages per chat, the webhook, commands and queued updates (thread-safe)."""

    def __init__(self, bot_id: int, username: str) -> None:
        self.bot_id = bot_id
        self.username = username
        self._lock = threading.Lock()
        self.reset()
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": self.get_me,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "sendChatAction": lambda params: bool(self._chat(params)),
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
        }

    def reset(self) -> None:
        with self._lock:
            self._chats: dict[str, dict[int, SentMessage]] = {}
            self._all: list[SentMessage] = []
            self._next_id: dict[str, itertools.count[int]] = {}
            self._file_ids = itertools.count(1)
            self.webhook: dict[str, Any] = {}
            # (unix time, message) of the last failed delivery to the webhook, as getWebhookInfo
            # reports it (last_error_date, last_error_message); set by a test
            self.webhook_error: tuple[int, str] | None = None
            self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
            self._updates: list[dict[str, Any]] = []

    def handler(self, method: str) -> Callable[[dict[str, Any]], Any] | None:
        return self._handlers.get(method)

    # -- accessors --------------------------------------------------------------------------

    def messages(self, chat_id: str) -> list[SentMessage]:
        with self._lock:
            return list(self._chats.get(chat_id, {}).values())

    def all_messages(self) -> list[SentMessage]:
        with self._lock:
            return list(self._all)

    def get_commands(
        self, scope: dict[str, Any] | None, language_code: str
    ) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._commands.get((_scope_key(scope), language_code), []))

    def queue_update(self, update: dict[str, Any]) -> None:
        if "update_id" not in update:
            raise ValueError("an update needs an update_id")
        with self._lock:
            self._updates.append(update)

    def take_updates(self, offset: int, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            if offset < 0:
                self._updates = self._updates[offset:]
            elif offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            return self._updates[: max(1, min(limit, 100))]

    # -- handlers ---------------------------------------------------------------------------

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "DCA Bot",
            "username": self.username,
        }

    def get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._bot_user() | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("chat_id") in (None, ""):
            raise bad_request("chat_id is empty")
        return chat_for(params["chat_id"])

    def _store(
        self, chat: dict[str, Any], method: str, content: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        chat_key = str(chat["id"])
        with self._lock:
            message_id = next(self._next_id.setdefault(chat_key, itertools.count(1)))
            message = {
                "message_id": message_id,
                "from": self._bot_user(),
                "chat": chat,
                "date": int(time.time()),
            } | content
            sent = SentMessage(chat_key, message_id, method, message, **fields)
            self._chats.setdefault(chat_key, {})[message_id] = sent
            self._all.append(sent)
        return message

    def send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        if not params.get("text"):
            raise bad_request("message text is empty")
        raw, plain = formatted_text(params, "text", 4096, "message is too long")
        if not plain.strip():
            raise bad_request("message text is empty")
        content: dict[str, Any] = {"text": plain}
        markup = inline_markup(params)
        if markup is not None:
            content["reply_markup"] = markup
        return self._store(
            chat, "sendMessage", content, raw_text=raw, parse_mode=params.get("parse_mode")
        )

    def send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        photo = params.get("photo")
        if isinstance(photo, UploadedFile):
            if not photo.data:
                raise bad_request("file must be non-empty")
            data: bytes | str = photo.data
            size = len(photo.data)
        elif isinstance(photo, str) and photo:
            data, size = photo, 0
        else:
            raise bad_request("there is no photo in the request")
        content: dict[str, Any] = {}
        if params.get("caption"):
            _, plain = formatted_text(params, "caption", 1024, "message caption is too long")
            content["caption"] = plain
        number = next(self._file_ids)
        content["photo"] = [
            {
                "file_id": f"AgACAgfake{number}{suffix}",
                "file_unique_id": f"AQADfake{number}{suffix}",
                "width": width,
                "height": height,
                "file_size": size,
            }
            for suffix, width, height in (("s", 90, 60), ("m", 320, 213), ("x", 800, 533))
        ]
        markup = inline_markup(params)
        if markup is not None:
            content["reply_markup"] = markup
        return self._store(
            chat,
            "sendPhoto",
            content,
            photo=data,
            raw_text=params.get("caption"),
            parse_mode=params.get("parse_mode"),
        )

    def send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        """sendDocument as the Bot API answers it: bots upload at most 50 MB; the Message
        carries a `document` (file_id, file_unique_id, file_name, mime_type, file_size)."""
        chat = self._chat(params)
        document = params.get("document")
        if not isinstance(document, UploadedFile):
            raise bad_request("there is no document in the request")
        if not document.data:
            raise bad_request("file must be non-empty")
        if len(document.data) > 50 * 1024 * 1024:
            raise TelegramError(413, "Request Entity Too Large")
        number = next(self._file_ids)
        content: dict[str, Any] = {"document": {
            "file_id": f"BQACAgfake{number}",
            "file_unique_id": f"AgADfake{number}",
            "file_name": document.filename or "document",
            "mime_type": document.content_type or "application/octet-stream",
            "file_size": len(document.data),
        }}
        if params.get("caption"):
            _, plain = formatted_text(params, "caption", 1024, "message caption is too long")
            content["caption"] = plain
        return self._store(chat, "sendDocument", content, photo=document.data,
                           raw_text=params.get("caption"))

    def _find(self, params: dict[str, Any], missing: str) -> SentMessage:
        chat = self._chat(params)
        with self._lock:
            try:
                sent = self._chats[str(chat["id"])][int(params.get("message_id") or 0)]
            except (KeyError, ValueError):
                raise bad_request(missing) from None
        if sent.deleted:
            raise bad_request(missing)
        return sent

    def edit_message_text(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        sent = self._find(params, "message to edit not found")
        if "text" not in sent.message:
            raise bad_request("there is no text in the message to edit")
        if not params.get("text"):
            raise bad_request("message text is empty")
        raw, plain = formatted_text(params, "text", 4096, "message is too long")
        markup = inline_markup(params)
        if plain == sent.message["text"] and markup == sent.message.get("reply_markup"):
            raise bad_request(NOT_MODIFIED)
        with self._lock:
            sent.message["text"] = plain
            sent.raw_text, sent.parse_mode = raw, params.get("parse_mode")
            self._set_markup(sent, markup)
            return dict(sent.message)

    def edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        sent = self._find(params, "message to edit not found")
        markup = inline_markup(params)
        if markup == sent.message.get("reply_markup"):
            raise bad_request(NOT_MODIFIED)
        with self._lock:
            self._set_markup(sent, markup)
            return dict(sent.message)

    @staticmethod
    def _set_markup(sent: SentMessage, markup: dict[str, Any] | None) -> None:
        if markup is None:
            sent.message.pop("reply_markup", None)
        else:
            sent.message["reply_markup"] = markup
        sent.message["edit_date"] = int(time.time())
        sent.edits += 1

    def delete_message(self, params: dict[str, Any]) -> bool:
        sent = self._find(params, "message to delete not found")
        sent.deleted = True
        return True

    def answer_callback_query(self, params: dict[str, Any]) -> bool:
        if not params.get("callback_query_id"):
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if len(str(params.get("text") or "")) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        return True

    def set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be a JSON array of at most 100 BotCommand")
        for command in commands:
            if not _COMMAND_NAME.match(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("command description is empty")
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        with self._lock:
            self._commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        return True

    def get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.get_commands(params.get("scope"), str(params.get("language_code") or ""))

    def delete_my_commands(self, params: dict[str, Any]) -> bool:
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        with self._lock:
            self._commands.pop(key, None)
        return True

    def set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return self.delete_webhook(params)
        if not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.match(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        with self._lock:
            self.webhook = {
                key: params[key]
                for key in (
                    "url",
                    "secret_token",
                    "allowed_updates",
                    "max_connections",
                    "ip_address",
                    "drop_pending_updates",
                )
                if key in params
            }
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def delete_webhook(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self.webhook = {}
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            info: dict[str, Any] = {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if info["url"]:
                info["max_connections"] = self.webhook.get("max_connections", 40)
                if "allowed_updates" in self.webhook:
                    info["allowed_updates"] = self.webhook["allowed_updates"]
                if self.webhook_error is not None:
                    info["last_error_date"], info["last_error_message"] = self.webhook_error
            return info


def _scope_key(scope: Any) -> str:
    if isinstance(scope, str):
        scope = json.loads(scope)
    return json.dumps(scope or {"type": "default"}, sort_keys=True)
