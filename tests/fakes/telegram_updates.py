"""Builders of Telegram `Update` JSON as Telegram sends it, for webhook and polling tests.

Every builder returns a plain dict (JSON-ready, `telegram.Update.de_json` accepts it). Commands
get the `bot_command` entity Telegram adds, without which python-telegram-bot's CommandHandler
would not match.
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

BOT_ID = 123456
BOT_USERNAME = "dcabot_test_bot"

_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,64})?")
_message_ids = itertools.count(1_000_000)
_callback_ids = itertools.count(4_000_000_000_000_000_000)


def make_user(
    user_id: int,
    *,
    first_name: str | None = None,
    username: str | None = None,
    is_bot: bool = False,
    language_code: str | None = "en",
) -> dict[str, Any]:
    user: dict[str, Any] = {
        "id": user_id,
        "is_bot": is_bot,
        "first_name": first_name or f"User{user_id}",
    }
    if username:
        user["username"] = username
    if language_code:
        user["language_code"] = language_code
    return user


def make_chat(
    chat_id: int,
    chat_type: str = "private",
    *,
    title: str | None = None,
    first_name: str | None = None,
) -> dict[str, Any]:
    """A chat; groups and supergroups (negative ids) get a title, private chats a first name."""
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = first_name or f"User{chat_id}"
    else:
        chat["title"] = title or f"Group {chat_id}"
    return chat


def command_entities(text: str) -> list[dict[str, Any]]:
    """The `bot_command` entity Telegram attaches when a message starts with a command."""
    match = _COMMAND.match(text)
    if match is None:
        return []
    length = len(match.group().encode("utf-16-le")) // 2
    return [{"type": "bot_command", "offset": 0, "length": length}]


def make_message(
    chat_id: int,
    user_id: int,
    text: str | None = None,
    *,
    chat_type: str = "private",
    message_id: int | None = None,
    date: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A `Message` from a user; `extra` adds fields (e.g. sticker=..., reply_to_message=...)."""
    message: dict[str, Any] = {
        "message_id": message_id if message_id is not None else next(_message_ids),
        "date": date if date is not None else int(time.time()),
        "chat": make_chat(chat_id, chat_type),
        "from": make_user(user_id),
    }
    if text is not None:
        message["text"] = text
        entities = command_entities(text)
        if entities:
            message["entities"] = entities
    message.update(extra)
    return message


def make_message_update(
    update_id: int, chat_id: int, user_id: int, text: str, chat_type: str = "private", **extra: Any
) -> dict[str, Any]:
    """A text message (a command when `text` starts with `/`), private or in a group."""
    return {
        "update_id": update_id,
        "message": make_message(chat_id, user_id, text, chat_type=chat_type, **extra),
    }


def make_group_message_update(
    update_id: int, chat_id: int, user_id: int, text: str, chat_type: str = "group"
) -> dict[str, Any]:
    if chat_id >= 0:
        raise ValueError("group chat ids are negative")
    return make_message_update(update_id, chat_id, user_id, text, chat_type=chat_type)


def make_edited_message_update(
    update_id: int,
    chat_id: int,
    user_id: int,
    text: str,
    chat_type: str = "private",
    *,
    message_id: int | None = None,
) -> dict[str, Any]:
    message = make_message(
        chat_id,
        user_id,
        text,
        chat_type=chat_type,
        message_id=message_id,
        date=int(time.time()) - 60,
    )
    message["edit_date"] = int(time.time())
    return {"update_id": update_id, "edited_message": message}


def make_sticker_update(
    update_id: int, chat_id: int, user_id: int, *, emoji: str = "👍", chat_type: str = "private"
) -> dict[str, Any]:
    sticker = {
        "file_id": "CAACAgIAAxkBAAEB-fake-sticker",
        "file_unique_id": "AgADfakesticker",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": emoji,
    }
    message = make_message(chat_id, user_id, None, chat_type=chat_type, sticker=sticker)
    return {"update_id": update_id, "message": message}


def make_callback_update(
    update_id: int,
    chat_id: int,
    user_id: int,
    data: str,
    *,
    message_id: int = 1,
    message_text: str = "Confirm?",
    chat_type: str = "private",
    reply_markup: dict[str, Any] | None = None,
    callback_id: str | None = None,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A tap on an inline button under the bot's message `message_id` (or under `message`)."""
    if message is None:
        message = {
            "message_id": message_id,
            "date": int(time.time()) - 5,
            "chat": make_chat(chat_id, chat_type),
            "from": make_user(
                BOT_ID, first_name="DCA Bot", username=BOT_USERNAME, is_bot=True, language_code=None
            ),
            "text": message_text,
        }
        if reply_markup is not None:
            message["reply_markup"] = reply_markup
    return {
        "update_id": update_id,
        "callback_query": {
            "id": callback_id or str(next(_callback_ids)),
            "from": make_user(user_id),
            "chat_instance": f"-{abs(chat_id)}77",
            "data": data,
            "message": message,
        },
    }


def make_bot_blocked_update(update_id: int, chat_id: int, user_id: int) -> dict[str, Any]:
    """`my_chat_member`: the user blocked the bot (its status went from member to kicked)."""
    bot = make_user(
        BOT_ID, first_name="DCA Bot", username=BOT_USERNAME, is_bot=True, language_code=None
    )
    return {
        "update_id": update_id,
        "my_chat_member": {
            "chat": make_chat(chat_id),
            "from": make_user(user_id),
            "date": int(time.time()),
            "old_chat_member": {"status": "member", "user": bot},
            "new_chat_member": {"status": "kicked", "user": bot, "until_date": 0},
        },
    }


def make_unknown_update(update_id: int) -> dict[str, Any]:
    """An update of a type newer than the SDK (it lands in `api_kwargs`, nothing is effective)."""
    return {"update_id": update_id, "future_update_kind": {"id": "x", "payload": {"a": 1}}}
