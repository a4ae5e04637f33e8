"""Telegram end to end: webhook -> ASGI app -> registry -> python-telegram-bot -> fake Bot API."""

from __future__ import annotations

from typing import Any

from tests.app_harness import (
    SECRET,
    TG_ADMIN,
    TG_STRANGER,
    TG_VIEWER,
    World,
    line,
    next_update_id,
    tg,
    world,
)
from tests.fakes.telegram_api import (
    SentMessage,
    make_callback_update,
    make_edited_message_update,
    make_message_update,
    make_sticker_update,
    make_unknown_update,
)

__all__ = ["line", "tg", "world"]  # fixtures
GROUP = -100777


def buttons(message: SentMessage) -> list[str]:
    markup: dict[str, Any] = message.reply_markup or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def untagged(data: list[str]) -> list[str]:
    """Button data without the owner tag (`~<tag>`) a card sent to one person carries."""
    return [item.split("~", 1)[0] for item in data]


def toasts(world: World) -> list[str]:
    """The texts of the answers to button taps (what the tapper alone saw)."""
    return [str(c.params.get("text") or "") for c in world.tg.calls_to("answerCallbackQuery")]


def texts(messages: list[SentMessage]) -> str:
    return "\n".join(m.text or m.caption or "" for m in messages)


def test_each_command_answers_with_an_html_card(world: World) -> None:
    expected = {
        "/start": "Hello! I buy BTC",
        "/help": "/buy <amount USDT> [exchange]: Buy BTC now",
        "/whoami": "Id: telegram:111\nRole: admin",
        "/status": "Portfolio",
        "/history": "No orders yet",
        "/schedule": "No schedules yet",
        "/reserve": "Reserve: 0.00 USDT",
        "/strategy": "CDC gate",
    }
    for command, fragment in expected.items():
        sent = world.telegram_says(command)
        assert len(sent) == 1 and fragment in texts(sent), command
        assert sent[0].parse_mode == "HTML"
    status = world.telegram_says("/status")[0]
    assert untagged(buttons(status)) == ["cmd:/status", "cmd:/history"]
    assert "<b>Portfolio</b>" in (status.raw_text or "")


def test_signal_sends_the_chart_as_a_photo(world: World) -> None:
    sent = world.telegram_says("/signal")
    assert [m.method for m in sent] == ["sendMessage", "sendPhoto"]
    assert "CDC Action Zone" in (sent[0].text or "")
    photo = sent[1].photo
    assert isinstance(photo, bytes) and photo.startswith(b"\x89PNG")
    assert sent[1].caption == "ℹ️ CDC Action Zone · BTC/USDT"
    # the keyboard is under the chart
    assert untagged(buttons(sent[1])) == ["cmd:/signal", "cmd:/backtest"]


def test_buy_confirm_then_a_second_tap_does_nothing(world: World) -> None:
    [ask] = world.telegram_says("/buy 50")
    assert "Buy BTC for 50.00 USDT?" in (ask.text or "")
    confirm, cancel = buttons(ask)
    assert confirm.endswith(":y") and cancel.endswith(":n")
    [done] = world.telegram_taps(confirm, ask)
    assert (done.text or "").startswith("✅ Bought")
    assert world.tg.calls_to("answerCallbackQuery")  # the spinner stopped
    assert world.tg.messages(TG_ADMIN)[0].reply_markup is None  # buttons taken off
    assert world.counts()["Order"] == 1
    [again] = world.telegram_taps(confirm, ask)
    assert "Nothing to confirm" in (again.text or "")
    assert world.counts()["Order"] == 1


def test_cancel_and_someone_elses_tap_in_a_group(world: World) -> None:
    [ask] = world.telegram_says("/buy 20", user=TG_ADMIN, chat=GROUP)
    confirm, cancel = buttons(ask)
    assert world.telegram_taps(confirm, ask, user=TG_VIEWER) == []  # no message in the group
    assert "Not yours: Only the person who asked can confirm this" in toasts(world)[-1]
    assert buttons(world.tg.messages(GROUP)[0]) == [confirm, cancel]  # still there for the owner
    assert world.telegram_taps(confirm, ask, user=TG_STRANGER) == []
    assert "Your id is telegram:999" in toasts(world)[-1]
    [cancelled] = world.telegram_taps(cancel, ask)
    assert "cancelled, nothing was done" in (cancelled.text or "")
    assert world.telegram_taps(confirm, ask)[0].text == (
        "❓ Nothing to confirm\nThis confirmation was already answered or has expired; "
        "nothing was done."
    )
    assert world.counts()["Order"] == 0


def test_an_expired_confirmation_does_nothing(world: World) -> None:
    [ask] = world.telegram_says("/buy 10")
    world.clock.advance(seconds=61)
    [late] = world.telegram_taps(buttons(ask)[0], ask)
    assert "Expired" in (late.text or "") and "Send /buy 10 again" in (late.text or "")
    assert world.counts()["Order"] == 0


def test_forged_or_missing_secret_is_401_and_nothing_happens(world: World) -> None:
    [ask] = world.telegram_says("/buy 50")
    confirm = buttons(ask)[0]
    sent_before, claims_before = len(world.tg.sent_messages), world.counts()["ProcessedUpdate"]
    tap = make_callback_update(next_update_id(), TG_ADMIN, TG_ADMIN, confirm, message=ask.message)
    for secret in (None, "", "wrong", SECRET + "x", SECRET.upper(), "é" * 5):
        answer = world.post_telegram(tap, secret=secret)
        assert answer.status_code == 401, secret
    world.settle()
    assert len(world.tg.sent_messages) == sent_before
    assert not world.tg.calls_to("answerCallbackQuery")
    counts = world.counts()
    assert counts["Order"] == 0 and counts["ProcessedUpdate"] == claims_before
    assert world.post_telegram(tap).status_code == 200  # the real one still works, once
    world.settle()
    assert world.counts()["Order"] == 1


def test_a_stranger_hears_one_refusal_an_hour(world: World) -> None:
    [refusal] = world.telegram_says("/status", user=TG_STRANGER)
    assert refusal.text == (
        "❓ Private bot\nThis bot answers only the people its owner allows. Your id is "
        "telegram:999\nTo be allowed, send that id to the owner."
    )
    assert refusal.reply_markup is None
    for text in ("/buy 50", "/help", "hello"):
        assert world.telegram_says(text, user=TG_STRANGER) == []
    world.clock.advance(minutes=61)
    assert "Private bot" in texts(world.telegram_says("/whoami", user=TG_STRANGER))
    assert world.counts()["Order"] == 0


def test_a_viewer_reads_but_cannot_buy(world: World) -> None:
    [refused] = world.telegram_says("/buy 50", user=TG_VIEWER)
    assert "/buy needs an admin; you are viewer" in (refused.text or "")
    assert buttons(refused) == []
    assert "Portfolio" in texts(world.telegram_says("/status", user=TG_VIEWER))
    assert world.counts()["Order"] == 0


def test_a_replayed_update_is_processed_once(world: World) -> None:
    [ask] = world.telegram_says("/buy 50")
    tap = make_callback_update(
        next_update_id(), TG_ADMIN, TG_ADMIN, buttons(ask)[0], message=ask.message
    )
    status = make_message_update(next_update_id(), TG_ADMIN, TG_ADMIN, "/status")
    for _ in range(3):
        assert world.post_telegram(tap).status_code == 200
        assert world.post_telegram(status).status_code == 200
    world.settle()
    after = world.tg.messages(TG_ADMIN)[1:]
    assert [m.text.split("\n")[0] for m in after if m.text] == ["✅ Bought", "ℹ️ Portfolio"]
    assert world.counts()["Order"] == 1


def test_group_commands_are_answered_and_chatter_is_not(world: World) -> None:
    assert "Portfolio" in texts(world.telegram_says("/status", chat=GROUP))
    assert "Portfolio" in texts(world.telegram_says("/status@dcabot_test_bot", chat=GROUP))
    assert world.telegram_says("/status@some_other_bot", chat=GROUP) == []
    assert world.telegram_says("good morning everyone", chat=GROUP) == []
    sticker = make_sticker_update(next_update_id(), GROUP, TG_ADMIN, chat_type="group")
    assert world.post_telegram(sticker).status_code == 200
    world.settle()
    assert len(world.tg.messages(GROUP)) == 2


def test_refresh_edits_the_card_in_place(world: World) -> None:
    [card] = world.telegram_says("/status")
    [ask] = world.telegram_says("/buy 30")
    world.telegram_taps(buttons(ask)[0], ask)
    count = len(world.tg.messages(TG_ADMIN))
    assert world.telegram_taps("cmd:/status", card) == []  # nothing new: the card changed
    refreshed = world.tg.messages(TG_ADMIN)[0]
    assert refreshed.edits == 1 and "BTC held: 0.00034965 BTC" in (refreshed.text or "")
    assert len(world.tg.messages(TG_ADMIN)) == count


def test_a_tap_on_a_deleted_message_is_answered_with_a_fresh_one(world: World) -> None:
    [ask] = world.telegram_says("/buy 25")
    for data in ("cmd:/status", buttons(ask)[0]):
        tap = make_callback_update(next_update_id(), TG_ADMIN, TG_ADMIN, data, message_id=987654)
        before = len(world.tg.messages(TG_ADMIN))
        assert world.post_telegram(tap).status_code == 200
        world.settle()
        assert len(world.tg.messages(TG_ADMIN)) == before + 1
    fresh = world.tg.messages(TG_ADMIN)[-2:]
    assert "Portfolio" in (fresh[0].text or "") and "Bought" in (fresh[1].text or "")
    assert len(world.tg.calls_to("answerCallbackQuery")) == 2


def test_bad_bodies_are_refused_before_anything_runs(world: World) -> None:
    for body in (
        b"{not json",
        b"[]",
        b'{"update_id": "7"}',
        b"\xff\xfe",
        b'{"update_id": 5, "message": 3}',
    ):
        assert world.post_telegram(body).status_code == 400, body
    huge = make_message_update(next_update_id(), TG_ADMIN, TG_ADMIN, "/status " + "x" * 1_100_000)
    assert world.post_telegram(huge).status_code == 413
    assert world.post_telegram(huge, secret="wrong").status_code == 401  # the secret comes first
    world.settle()
    assert world.tg.sent_messages == [] and world.counts()["ProcessedUpdate"] == 0


def test_updates_without_a_command_get_a_hint_where_someone_waits(world: World) -> None:
    unknown = make_unknown_update(next_update_id())
    assert world.post_telegram(unknown).status_code == 200
    edited = make_edited_message_update(next_update_id(), TG_ADMIN, TG_ADMIN, "/buy 50")
    assert world.post_telegram(edited).status_code == 200
    sticker = make_sticker_update(next_update_id(), TG_ADMIN, TG_ADMIN)
    assert world.post_telegram(sticker).status_code == 200
    assert (
        world.post_telegram(
            make_message_update(next_update_id(), TG_ADMIN, TG_ADMIN, "")
        ).status_code
        == 200
    )
    world.settle()
    said = [m.text for m in world.tg.messages(TG_ADMIN)]
    assert said[0] == (
        "ℹ️ Edits are not run\nI do not run edited messages again. Send the command as a new "
        "message."
    )
    assert said[1] == said[2] and said[1] is not None and "only understand text" in said[1]
    assert world.counts()["Order"] == 0


def test_long_unicode_rtl_and_html_text_is_answered_safely(world: World) -> None:
    [long] = world.telegram_says("/" + "x" * 100_000)
    assert "100,001 characters long" in (long.text or "")
    [thai] = world.telegram_says("/สวัสดี")  # "hello": Thai, but no command's word
    assert (thai.text or "").startswith("⚠️ Not done\n/สวัสดี is not a command.")
    [rtl] = world.telegram_says("مرحبا \u202ebuy 50")
    assert "is not a command" in (rtl.text or "") and world.counts()["Order"] == 0
    [html] = world.telegram_says("/<b>&amp;")
    assert "/<b>&amp; is not a command" in (html.text or "")
    assert "/&lt;b&gt;&amp;amp; is not a command" in (html.raw_text or "")
    [many] = world.telegram_says("/" + "<&>" * 1300)  # only the first characters are echoed
    assert (many.text or "").startswith("⚠️ Not done\n/" + "<&>" * 7 + "<&… is not a command.")
    assert "&lt;&amp;&gt;" * 7 in (many.raw_text or "") and many.parse_mode == "HTML"
