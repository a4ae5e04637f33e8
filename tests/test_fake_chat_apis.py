"""The fake Telegram Bot API driven through the real python-telegram-bot 22 (the fake LINE API is
tested in test_fake_line_api.py): if the SDK is satisfied here, tests of the bot against the fake
are honest.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from tests.fakes.telegram_api import (
    FakeTelegramAPI,
    make_bot_blocked_update,
    make_callback_update,
    make_edited_message_update,
    make_group_message_update,
    make_message_update,
    make_sticker_update,
    make_unknown_update,
)
from tests.fakes.telegram_process import FakeTelegramProcess

CHAT = 4242


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB 22's future `RetryAfter.retry_after` (a timedelta), without the warning."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake:
        yield fake


@pytest.fixture
async def bot(tg: FakeTelegramAPI) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as client:
        yield client


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def test_sync_context_manager_serves_and_stops_its_thread() -> None:
    before = threading.active_count()
    with FakeTelegramAPI() as fake:
        answer = httpx.post(f"{fake.base_url}{fake.token}/getMe").json()
        as_json = httpx.post(
            f"{fake.base_url}{fake.token}/sendMessage", json={"chat_id": 9, "text": "123"}
        ).json()
        wrong = httpx.post(f"{fake.base_url}999:WRONG/getMe")
    assert answer["ok"] and answer["result"]["username"] == "dcabot_test_bot"
    assert as_json["result"]["text"] == "123" and as_json["result"]["chat"]["id"] == 9
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert threading.active_count() == before


async def test_wrong_token_is_invalid_token_in_ptb(tg: FakeTelegramAPI) -> None:
    request = HTTPXRequest()
    stranger = Bot("999:WRONG", base_url=tg.base_url, request=request, get_updates_request=request)
    try:
        with pytest.raises(InvalidToken):
            await stranger.get_me()
    finally:
        await request.shutdown()
    assert [(c.method, c.status) for c in tg.calls] == [("getMe", 401)]


async def test_html_message_with_keyboard_is_kept_per_chat(tg: FakeTelegramAPI, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Confirm", callback_data="ok:1")]])
    sent = await bot.send_message(
        CHAT, "<b>BTC</b> &lt;0.1&gt;", parse_mode="HTML", reply_markup=keyboard
    )
    second = await bot.send_message(CHAT, "again")
    assert (sent.message_id, second.message_id) == (1, 2)
    assert sent.text == "BTC <0.1>" and sent.reply_markup == keyboard
    kept = tg.messages(CHAT)
    assert [m.text for m in kept] == ["BTC <0.1>", "again"]
    assert kept[0].raw_text == "<b>BTC</b> &lt;0.1&gt;" and kept[0].parse_mode == "HTML"
    call = tg.calls_to("sendMessage")[0]
    assert call.params["chat_id"] == CHAT and call.status == 200 and call.target == str(CHAT)


async def test_unescaped_html_and_too_long_text_are_bad_requests(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(CHAT, "price < 5", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "x" * 4097)
    await bot.send_message(CHAT, "x" * 4096)  # the limit itself is fine
    await bot.send_message(CHAT, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")


async def test_photo_upload_is_multipart(tg: FakeTelegramAPI, bot: Bot) -> None:
    png = b"\x89PNG\r\n\x1a\nfake-chart-bytes"
    message = await bot.send_photo(
        CHAT, png, caption="<i>chart</i>", parse_mode="HTML", filename="chart.png"
    )
    assert message.caption == "chart" and message.photo[-1].file_size == len(png)
    assert tg.messages(CHAT)[0].photo == png
    upload = tg.calls_to("sendPhoto")[0].params["photo"]
    assert upload.filename == "chart.png" and upload.data == png


async def test_commands_and_webhook_with_secret(tg: FakeTelegramAPI, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("status", "Show status"), BotCommand("buy", "Buy")])
    assert [c.command for c in await bot.get_my_commands()] == ["status", "buy"]
    url = "https://bot.example/webhook/telegram"
    await bot.set_webhook(
        url, secret_token="s3cr3t-Token_1", allowed_updates=["message", "callback_query"]
    )
    assert tg.webhook == {
        "url": url,
        "secret_token": "s3cr3t-Token_1",
        "allowed_updates": ["message", "callback_query"],
    }
    info = await bot.get_webhook_info()
    assert info.url == url and info.allowed_updates == ("message", "callback_query")
    with pytest.raises(BadRequest, match=r"(?i)https url must be provided"):
        await bot.set_webhook("http://bot.example/hook")
    await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""


async def test_429_is_retry_after_with_its_seconds(tg: FakeTelegramAPI, bot: Bot) -> None:
    tg.rate_limit_next("sendMessage", retry_after=7, chat_id=CHAT)
    await bot.send_message(CHAT + 1, "another chat is not affected")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "hello")
    assert _seconds(caught.value.retry_after) == 7
    await bot.send_message(CHAT, "hello")  # the fault was for one call only
    assert tg.rate_limited_count == 1 and len(tg.messages(CHAT)) == 1


async def test_forbidden_server_errors_and_delays(tg: FakeTelegramAPI, bot: Bot) -> None:
    tg.block_chat(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hi")
    tg.unblock_chat(CHAT)
    tg.forbid_next("sendPhoto", chat_id=CHAT)
    with pytest.raises(Forbidden):
        await bot.send_photo(CHAT, b"png")
    tg.server_error_next("sendMessage", times=2, status=502)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(CHAT, "hi")
    tg.delay_next("sendMessage", 0.3)
    started = time.monotonic()
    await bot.send_message(CHAT, "slow but delivered")
    assert time.monotonic() - started >= 0.3
    assert [m.text for m in tg.messages(CHAT)] == ["slow but delivered"]


async def test_edits_deletes_and_callback_answers(tg: FakeTelegramAPI, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("new", chat_id=CHAT, message_id=99)
    sent = await bot.send_message(CHAT, "Buy 10 USDT?")
    edited = await bot.edit_message_text("Bought", chat_id=CHAT, message_id=sent.message_id)
    assert isinstance(edited, type(sent)) and edited.text == "Bought" and edited.edit_date
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Bought", chat_id=CHAT, message_id=sent.message_id)
    await bot.edit_message_reply_markup(
        CHAT,
        sent.message_id,
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("Refresh", callback_data="refresh")]]
        ),
    )
    assert tg.messages(CHAT)[0].reply_markup is not None and tg.messages(CHAT)[0].edits == 2
    assert await bot.answer_callback_query("cbq-1", text="Done")
    assert await bot.send_chat_action(CHAT, "typing")
    assert await bot.delete_message(CHAT, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(CHAT, sent.message_id)


async def test_rate_limits_per_chat_and_global() -> None:
    async with (
        FakeTelegramAPI(global_per_second=3, per_chat_per_second=1) as tg,
        Bot(tg.token, base_url=tg.base_url) as bot,
    ):
        await bot.send_message(1, "a")
        with pytest.raises(RetryAfter):
            await bot.send_message(1, "b")  # 1/s per chat
        await bot.send_message(2, "c")
        await bot.send_message(3, "d")
        with pytest.raises(RetryAfter):
            await bot.send_message(4, "e")  # 3/s overall
        assert tg.rate_limited_count == 2
        assert [len(tg.messages(chat)) for chat in (1, 2, 3, 4)] == [1, 1, 1, 0]


async def test_application_without_updater_handles_built_updates(tg: FakeTelegramAPI) -> None:
    async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Refresh", callback_data="r")]])
        await update.effective_message.reply_text(
            "<b>OK</b>", parse_mode="HTML", reply_markup=keyboard
        )

    async def refresh(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Refreshed")
        await query.edit_message_text("OK, refreshed")

    app = (
        ApplicationBuilder()
        .token(tg.token)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .updater(None)
        .build()
    )
    app.add_handler(CommandHandler("status", status))
    app.add_handler(CallbackQueryHandler(refresh))
    async with app:
        await app.process_update(
            Update.de_json(
                make_message_update(1, -100123, 77, "/status@dcabot_test_bot", "supergroup"),
                app.bot,
            )
        )
        first = tg.messages(-100123)[0]
        assert first.text == "OK"
        callback = make_callback_update(2, -100123, 77, "r", message=first.message)
        await app.process_update(Update.de_json(callback, app.bot))
    assert tg.messages(-100123)[0].text == "OK, refreshed"
    answer = tg.calls_to("answerCallbackQuery")[0].params
    assert answer["callback_query_id"] == callback["callback_query"]["id"]


async def test_polling_serves_queued_updates(tg: FakeTelegramAPI, bot: Bot) -> None:
    tg.push_update(make_message_update(10, CHAT, CHAT, "/start"))
    updates = await bot.get_updates(timeout=5)
    assert [u.update_id for u in updates] == [10]
    assert updates[0].message is not None and updates[0].message.text == "/start"
    started = time.monotonic()
    assert await bot.get_updates(offset=11, timeout=30) == ()  # long poll capped short
    assert time.monotonic() - started < 2
    waiting = asyncio.create_task(bot.get_updates(offset=11, timeout=30))
    await asyncio.sleep(0.05)
    tg.push_update(make_message_update(11, CHAT, CHAT, "/status"))  # wakes the long poll
    assert [u.update_id for u in await waiting] == [11]
    await bot.set_webhook("https://bot.example/hook")
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()


def test_update_builders_parse_as_ptb_updates() -> None:
    group = Update.de_json(make_group_message_update(1, -5, 7, "/buy 10"), None)
    assert group.effective_chat is not None and group.effective_chat.type == "group"
    assert group.message is not None and group.message.entities[0].type == "bot_command"
    edited = Update.de_json(make_edited_message_update(2, 7, 7, "/status"), None)
    assert edited.edited_message is not None and edited.edited_message.edit_date is not None
    sticker = Update.de_json(make_sticker_update(3, 7, 7), None)
    assert sticker.message is not None and sticker.message.sticker is not None
    assert sticker.message.text is None
    unknown = Update.de_json(make_unknown_update(4), None)
    assert unknown.effective_message is None and unknown.effective_chat is None
    blocked = Update.de_json(make_bot_blocked_update(5, 7, 7), None)
    assert blocked.my_chat_member is not None
    assert blocked.my_chat_member.new_chat_member.status == "kicked"


async def test_application_polls_through_the_updater(tg: FakeTelegramAPI) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        await update.effective_message.reply_text(update.effective_message.text.upper())

    app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=5)
        await app.start()
        tg.push_update(make_message_update(1, CHAT, CHAT, "hello"))
        await tg.wait_for_messages_async(CHAT)
        await app.updater.stop()
        await app.stop()
    assert [m.text for m in tg.messages(CHAT)] == ["HELLO"]
    assert tg.calls_to("deleteWebhook")  # PTB clears any webhook before polling


def test_fake_in_its_own_process_for_benchmarks() -> None:
    with FakeTelegramProcess(per_chat_per_second=1) as tg:
        sent = httpx.post(f"{tg.base_url}{tg.token}/sendMessage", data={"chat_id": 5, "text": "a"})
        again = httpx.post(f"{tg.base_url}{tg.token}/sendMessage", data={"chat_id": 5, "text": "b"})
        stats = tg.stats()
    assert sent.json()["result"]["text"] == "a" and again.status_code == 429
    assert stats["sent_messages"] == 1 and stats["rate_limited_count"] == 1
    assert stats["messages_per_chat"] == {"5": 1}


async def test_ptb_throughput_against_the_fake(tg: FakeTelegramAPI) -> None:
    request = HTTPXRequest(connection_pool_size=8)
    async with Bot(tg.token, base_url=tg.base_url, request=request) as fast:
        gate = asyncio.Semaphore(8)

        async def send(i: int) -> None:
            async with gate:
                await fast.send_message(1000 + i % 100, f"alert {i}")

        started = time.perf_counter()
        await asyncio.gather(*(send(i) for i in range(600)))
        rate = 600 / (time.perf_counter() - started)
    print(f"PTB -> fake Telegram: {rate:.0f} sendMessage/s")
    assert len(tg.sent_messages) == 600
    assert rate > 150  # measured ~650-900/s on a 2-core box; a floor, not a benchmark
