"""LINE end to end: signed webhook -> ASGI app -> registry -> line-bot-sdk -> fake LINE API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.app_harness import (
    LINE_ADMIN,
    LINE_STRANGER,
    LINE_VIEWER,
    PUBLIC_URL,
    World,
    chat_settings,
    flex_postbacks,
    flex_texts,
    line,
    running_world,
    tg,
    world,
)
from tests.conftest import Clock
from tests.fakes.line_api import FakeLineAPI
from tests.fakes.line_events import line_group_id, make_unfollow_event
from tests.fakes.telegram_api import FakeTelegramAPI

__all__ = ["line", "tg", "world"]  # fixtures
GROUP = line_group_id(7)


def card_text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(t for m in messages if m["type"] == "flex" for t in flex_texts(m))


def sticker_event(fake: FakeLineAPI, user: str) -> dict[str, Any]:
    event = fake.text_event("ignored", user)
    event["message"] = {
        "type": "sticker",
        "id": "5001",
        "quoteToken": "q-token",
        "packageId": "446",
        "stickerId": "1988",
        "stickerResourceType": "STATIC",
    }
    return event


def test_each_command_answers_with_a_flex_card_and_quick_replies(world: World) -> None:
    expected = {
        "start": "Hello! I buy BTC",
        "/help": "/buy <amount USDT>",
        "WHOAMI": f"line:{LINE_ADMIN}",
        "/Status": "Portfolio",
        "history": "No orders yet",
        "/schedule": "No schedules yet",
        "reserve": "Reserve",
        "/strategy": "CDC gate",
    }
    for command, fragment in expected.items():
        messages = world.line_says(command)
        assert [m["type"] for m in messages] == ["flex"], command
        assert fragment in card_text(messages), command
        assert fragment in messages[0]["altText"] or len(messages[0]["altText"]) == 400
        quick = [item["action"]["text"] for item in messages[-1]["quickReply"]["items"]]
        assert quick == ["/status", "/signal", "/reserve", "/schedule", "/history", "/help"]
    assert all(d.kind == "reply" for d in world.line.deliveries)  # fresh tokens: free replies


def test_signal_sends_the_chart_as_an_image_under_public_url(world: World) -> None:
    flex, image = world.line_says("signal")
    assert "CDC Action Zone" in card_text([flex])
    assert image["type"] == "image" and "quickReply" in image
    url = image["originalContentUrl"]
    assert url.startswith(f"{PUBLIC_URL}/charts/") and url.endswith(".png")
    assert image["previewImageUrl"] == url
    served = world.client.get(url.removeprefix(PUBLIC_URL))
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    charts = world.settings.data_dir / "charts"
    assert served.content == (charts / url.rsplit("/", 1)[1]).read_bytes()


def test_without_public_url_the_chart_is_explained_instead(
    tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, clock: Clock
) -> None:
    settings = chat_settings(tmp_path, tg, line, public_url="")
    with running_world(settings, tg, line, clock) as world:
        flex, note = world.line_says("/signal")
    assert flex["type"] == "flex" and note["type"] == "text"
    assert "PUBLIC_URL is not set" in note["text"]


def test_buy_confirm_then_second_tap_and_someone_elses_tap(world: World) -> None:
    [ask] = world.line_says("buy 50")
    confirm, cancel = flex_postbacks(ask)
    assert confirm.startswith("c:") and confirm.endswith(":y") and cancel.endswith(":n")
    [not_yours] = world.line_taps(confirm, user=LINE_VIEWER)
    assert "Not yours" in card_text([not_yours])
    [done] = world.line_taps(confirm)
    assert "Bought" in card_text([done])
    [again] = world.line_taps(confirm)
    assert "Nothing to confirm" in card_text([again])
    assert world.counts()["Order"] == 1
    [ask] = world.line_says("/buy 20")
    [cancelled] = world.line_taps(flex_postbacks(ask)[1])
    assert "cancelled, nothing was done" in card_text([cancelled])
    assert world.counts()["Order"] == 1


def test_command_buttons_are_postbacks_that_run_the_command(world: World) -> None:
    [status] = world.line_says("/status")
    refresh, history_button = flex_postbacks(status)
    assert [refresh.split("~")[0], history_button.split("~")[0]] == ["cmd:/status", "cmd:/history"]
    [history] = world.line_taps(history_button)
    assert "No orders yet" in card_text([history])


def test_forged_or_missing_signature_is_401_and_nothing_happens(world: World) -> None:
    [ask] = world.line_says("/buy 50")
    tap = world.line.postback_event(flex_postbacks(ask)[0], LINE_ADMIN)
    claims = world.counts()["ProcessedUpdate"]
    for signature in (
        "",
        "bm90IGEgc2lnbmF0dXJl",
        world.line.signed_webhook([])[1]["X-Line-Signature"],
    ):
        assert world.post_line([tap], signature=signature).status_code == 401
    body, headers = world.line.signed_webhook([tap])
    del headers["X-Line-Signature"]
    assert world.client.post("/webhook/line", content=body, headers=headers).status_code == 401
    world.settle()
    assert len(world.line.deliveries) == 1  # only the question
    assert world.counts()["Order"] == 0 and world.counts()["ProcessedUpdate"] == claims
    assert world.post_line([tap]).status_code == 200
    world.settle()
    assert world.counts()["Order"] == 1


def test_a_stranger_hears_one_refusal_an_hour_with_their_id(world: World) -> None:
    [refusal] = world.line_exchange(world.line.follow_event(LINE_STRANGER), LINE_STRANGER)
    text = card_text([refusal])
    assert f"Your id is line:{LINE_STRANGER}" in text and "Private bot" in text
    assert "quickReply" not in refusal  # nothing offered
    assert world.line_says("/status", user=LINE_STRANGER) == []
    assert world.line_taps("cmd:/status", user=LINE_STRANGER) == []
    world.clock.advance(hours=1, seconds=1)
    assert "Private bot" in card_text(world.line_says("/buy 50", user=LINE_STRANGER))
    assert world.counts()["Order"] == 0


def test_follow_greets_a_known_user_with_their_id(world: World) -> None:
    [welcome] = world.line_exchange(world.line.follow_event(LINE_VIEWER), LINE_VIEWER)
    text = card_text([welcome])
    assert "Welcome to dcabot" in text and f"line:{LINE_VIEWER}" in text and "viewer" in text


def test_a_viewer_cannot_buy(world: World) -> None:
    [refused] = world.line_says("/buy 50", user=LINE_VIEWER)
    assert "/buy needs an admin; you are viewer" in card_text([refused])
    assert flex_postbacks(refused) == []
    assert world.counts()["Order"] == 0


def test_a_redelivered_event_is_answered_once(world: World) -> None:
    [ask] = world.line_says("/buy 50")
    tap = world.line.postback_event(flex_postbacks(ask)[0], LINE_ADMIN)
    redelivered = dict(tap, deliveryContext={"isRedelivery": True})
    for event in (tap, redelivered, tap):
        assert world.post_line([event]).status_code == 200
    world.settle()
    assert len(world.line.messages_to(LINE_ADMIN)) == 2
    assert world.counts()["Order"] == 1


def test_reply_token_when_fresh_push_when_stale_or_refused(world: World) -> None:
    stale = world.line.text_event("/status", LINE_ADMIN, timestamp=int((time.time() - 55) * 1000))
    world.line_exchange(stale, LINE_ADMIN)
    refused = world.line.text_event("/status", LINE_ADMIN)
    refused["replyToken"] = "f" * 32  # a token LINE does not know
    world.line_exchange(refused, LINE_ADMIN)
    assert [d.kind for d in world.line.deliveries] == ["push", "push"]
    assert all(d.retry_key for d in world.line.pushes)
    world.line.server_error_next("push")
    world.line_exchange(world.line.text_event("/status", LINE_ADMIN, timestamp=1), LINE_ADMIN)
    assert [c.status for c in world.line.calls_to("push")][-2:] == [500, 200]
    assert len(world.line.pushes) == 3  # the retry reused its key: delivered once


def test_groups_take_slash_commands_only(world: World) -> None:
    assert "Portfolio" in card_text(world.line_says("/status", group_id=GROUP))
    assert world.line_says("status", group_id=GROUP) == []
    assert world.line_says("hello everyone", group_id=GROUP) == []


def test_bad_input_gets_an_answer_or_a_plain_refusal(world: World) -> None:
    secret = world.line.channel_secret
    from tests.fakes.line_events import sign_line_body

    for body in (b"{not json", b"[]", b'{"events": 3}', b"\xff\xfe"):
        headers = {"X-Line-Signature": sign_line_body(secret, body)}
        assert world.client.post("/webhook/line", content=body, headers=headers).status_code == 400
    big = b'{"destination": "x", "events": [], "pad": "' + b"x" * 1_100_000 + b'"}'
    headers = {"X-Line-Signature": sign_line_body(secret, big)}
    assert world.client.post("/webhook/line", content=big, headers=headers).status_code == 413
    odd = {"type": "futureThing", "mode": "active", "timestamp": 1, "webhookEventId": "01XYZ"}
    future = world.line.follow_event(LINE_ADMIN)
    future["type"] = "somethingNew"  # newer than the SDK: skipped, the rest still run
    events = [odd, future, make_unfollow_event(LINE_ADMIN), "garbage"]
    assert world.post_line(events).status_code == 200
    assert world.post_line([]).status_code == 200  # LINE's "Verify" button sends no events
    world.settle()
    assert world.line.deliveries == []
    [hint] = world.line_exchange(sticker_event(world.line, LINE_ADMIN), LINE_ADMIN)
    assert "only understand text commands" in card_text([hint])
    [empty] = world.line_says("   ")
    assert "only understand text commands" in card_text([empty])
    [long] = world.line_says("x" * 100_000)
    assert "100,000 characters long" in card_text([long])
    [thai] = world.line_says("สวัสดี")  # "hello": Thai, but no command's word
    assert "/สวัสดี is not a command." in card_text([thai])
    [rtl] = world.line_says("مرحبا \u202ebuy")
    assert "is not a command" in card_text([rtl])
    assert world.counts()["Order"] == 0
