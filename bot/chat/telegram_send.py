"""Sending a `Reply` to a Telegram chat: HTML text in pieces under 4096 characters, the chart
as a photo, the buttons under the last message; and editing a card in place for Refresh.

A chat reply is answered while the person waits, so a failure is retried briefly (a 429 within
its `retry_after`, a 5xx or a timeout once) and then logged. `BadRequest` is never retried: in
python-telegram-bot 22 it subclasses `NetworkError`, but sending the same request again cannot
make it valid. `Forbidden` means the person blocked the bot: nothing more to do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.cards.reply import Reply, Tone
from bot.cards.telegram_html import caption, keyboard, render_html
from bot.telegram_retry import retry_after_seconds

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_RETRY_AFTER_S = 30.0
NETWORK_RETRY_DELAY_S = 1.0
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def _patiently(call: Callable[[], Awaitable[T]]) -> T:
    """Run `call`, once more after a 429 that asks for a short wait or after a 5xx/timeout."""
    try:
        return await call()
    except RetryAfter as exc:
        wait = retry_after_seconds(exc)
        if wait > MAX_RETRY_AFTER_S:
            raise
        await asyncio.sleep(wait)
    except BadRequest:
        raise
    except NetworkError:
        await asyncio.sleep(NETWORK_RETRY_DELAY_S)
    return await call()


async def deliver(bot: Bot, chat_id: int, reply: Reply) -> int | None:
    """Send `reply` to `chat_id`: the id of the last message sent, or None (and a log line)
    when Telegram would not take it. A `followup` card then replaces a one-message card."""
    markup = keyboard(reply)
    pieces = render_html(reply)
    sent: int | None = None
    try:
        for number, piece in enumerate(pieces, start=1):
            last = number == len(pieces) and reply.image is None
            sent = await _send_text(bot, chat_id, piece, markup if last else None)
        if reply.image is not None:
            photo = await asyncio.to_thread(reply.image.read_bytes)
            await _patiently(
                lambda: bot.send_photo(
                    chat_id,
                    photo,
                    caption=caption(reply),
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    filename=reply.image.name if reply.image else "chart.png",
                )
            )
        for document in reply.documents:
            content = await asyncio.to_thread(document.read_bytes)
            await _patiently(
                lambda: bot.send_document(chat_id, content, filename=document.name)  # noqa: B023
            )
    except Forbidden:
        log.info("telegram chat %s blocked the bot; reply dropped", chat_id)
        return None
    except (TelegramError, OSError) as exc:
        log.warning("telegram reply to chat %s failed: %s", chat_id, exc)
        return None
    if reply.followup is not None and sent is not None and len(pieces) == 1:
        edit = asyncio.ensure_future(_put_in_place(bot, chat_id, sent, reply))
        _FOLLOWUPS.add(edit)  # kept until done: the conversation does not wait for it
        edit.add_done_callback(_FOLLOWUPS.discard)
    return sent


_FOLLOWUPS: set[asyncio.Future[None]] = set()


async def _put_in_place(bot: Bot, chat_id: int, message_id: int, reply: Reply) -> None:
    """When the fresher card comes, show it in place of the one sent."""
    assert reply.followup is not None
    fresh = await reply.followup
    if fresh is not None:
        await replace_card(bot, chat_id, message_id, replace(fresh, owner_tag=reply.owner_tag))


async def _send_text(
    bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None
) -> int:
    message = await _patiently(
        lambda: bot.send_message(
            chat_id,
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            link_preview_options=NO_PREVIEW,
        )
    )
    return int(message.message_id)


async def replace_card(bot: Bot, chat_id: int, message_id: int, reply: Reply) -> bool:
    """Show `reply` in place of an earlier card (Refresh); False when that cannot be done, e.g.
    the message is gone, is a photo, or the reply needs more than one message."""
    pieces = render_html(reply)
    if len(pieces) > 1 or reply.image is not None or reply.confirm_token:
        return False
    try:
        await bot.edit_message_text(
            pieces[0],
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(reply),
            link_preview_options=NO_PREVIEW,
        )
    except BadRequest as exc:
        return "not modified" in str(exc).lower()  # the card already says exactly this
    except TelegramError as exc:
        log.info("telegram edit in chat %s failed: %s", chat_id, exc)
        return False
    return True


async def drop_buttons(bot: Bot, chat_id: int, message_id: int) -> None:
    """Take the buttons off an answered confirmation; a message deleted meanwhile is fine."""
    try:
        await bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)
    except TelegramError as exc:
        log.debug("could not remove buttons in chat %s: %s", chat_id, exc)


def is_settled(reply: Reply) -> bool:
    """Whether a confirmation's answer ended it. A warning note ("not yours", "nothing to
    confirm", "expired") did not change anything, so the buttons stay for their owner."""
    return not (reply.kind == "text" and reply.tone is Tone.WARNING)
