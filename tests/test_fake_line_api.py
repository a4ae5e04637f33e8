"""The fake LINE Messaging API driven through the real line-bot-sdk v3 (async client and
WebhookParser): if the SDK is satisfied here, tests of the bot against the fake are honest.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    FlexContainer,
    FlexMessage,
    ImageMessage,
    PushMessageRequest,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.webhook import WebhookParser
from linebot.v3.webhooks import FollowEvent, MessageEvent, PostbackEvent, TextMessageContent

from tests.fakes.line_api import FakeLineAPI
from tests.fakes.line_events import line_user_id, sign_line_body

USER = line_user_id(1)


@pytest.fixture
async def line() -> AsyncIterator[FakeLineAPI]:
    async with FakeLineAPI() as fake:
        yield fake


@pytest.fixture
async def messaging(line: FakeLineAPI) -> AsyncIterator[AsyncMessagingApi]:
    config = Configuration(host=line.base_url, access_token=line.channel_access_token)
    async with AsyncApiClient(config) as client:
        yield AsyncMessagingApi(client)


def _flex() -> FlexMessage:
    bubble = {
        "type": "bubble",
        "body": {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "text", "text": "BTC 0.01"}],
        },
    }
    return FlexMessage(alt_text="Status: BTC 0.01", contents=FlexContainer.from_dict(bubble))


async def test_push_text_and_flex_with_retry_key(
    line: FakeLineAPI, messaging: AsyncMessagingApi
) -> None:
    key = str(uuid.uuid4())
    request = PushMessageRequest(to=USER, messages=[TextMessage(text="Bought"), _flex()])
    answer = await messaging.push_message_with_http_info(request, x_line_retry_key=key)
    assert answer.status_code == 200 and len(answer.data.sent_messages) == 2
    [push] = line.pushes
    assert push.retry_key == key and push.to == USER
    assert push.request_id == answer.headers["x-line-request-id"]
    assert [m["type"] for m in line.messages_to(USER)] == ["text", "flex"]
    assert line.messages_to(USER)[1]["altText"] == "Status: BTC 0.01"

    with pytest.raises(ApiException) as repeated:
        await messaging.push_message(request, x_line_retry_key=key)
    assert type(repeated.value) is ApiException and repeated.value.status == 409
    body = json.loads(repeated.value.body)
    assert body["message"] == "The retry key is already accepted"
    assert [s["id"] for s in body["sentMessages"]] == push.sent_ids
    assert repeated.value.headers["x-line-accepted-request-id"] == push.request_id
    assert len(line.pushes) == 1 and line.conflict_count == 1


async def test_429_bodies_and_monthly_quota() -> None:
    async with FakeLineAPI(monthly_limit=1) as line:
        config = Configuration(host=line.base_url, access_token=line.channel_access_token)
        async with AsyncApiClient(config) as client:
            api = AsyncMessagingApi(client)
            line.rate_limit_next()
            with pytest.raises(ApiException) as limited:
                await api.push_message(
                    PushMessageRequest(to=USER, messages=[TextMessage(text="flip")])
                )
            assert limited.value.status == 429
            assert json.loads(limited.value.body)["message"].startswith("The API rate limit")
            await api.push_message(PushMessageRequest(to=USER, messages=[TextMessage(text="1")]))
            with pytest.raises(ApiException) as exhausted:
                await api.push_message(
                    PushMessageRequest(to=USER, messages=[TextMessage(text="2")])
                )
            assert exhausted.value.status == 429
            assert json.loads(exhausted.value.body) == {
                "message": "You have reached your monthly limit."
            }
            quota = await api.get_message_quota()
            usage = await api.get_message_quota_consumption()
            assert (quota.type.value, quota.value, usage.total_usage) == ("limited", 1, 1)
            line.reset_monthly_usage()
            await api.push_message(PushMessageRequest(to=USER, messages=[TextMessage(text="2")]))
            assert [m["text"] for m in line.messages_to(USER)] == ["1", "2"]
            assert line.rate_limited_count == 2


async def test_5xx_then_ok_and_lost_answer_deliver_once(
    line: FakeLineAPI, messaging: AsyncMessagingApi
) -> None:
    request = PushMessageRequest(to=USER, messages=[TextMessage(text="fill")])
    key = str(uuid.uuid4())
    line.server_error_next("push", times=2)
    for _ in range(2):
        with pytest.raises(ApiException) as failed:
            await messaging.push_message(request, x_line_retry_key=key)
        assert failed.value.status == 500
    await messaging.push_message(request, x_line_retry_key=key)
    other = str(uuid.uuid4())
    line.server_error_next("push", accepted=True)  # delivered, but the answer is lost
    with pytest.raises(ApiException):
        await messaging.push_message(request, x_line_retry_key=other)
    with pytest.raises(ApiException) as conflict:
        await messaging.push_message(request, x_line_retry_key=other)
    assert conflict.value.status == 409
    assert [p.retry_key for p in line.pushes] == [key, other]
    assert [c.status for c in line.calls_to("push")] == [500, 500, 200, 500, 409]


async def test_reply_token_is_single_use_and_expires(
    line: FakeLineAPI, messaging: AsyncMessagingApi
) -> None:
    event = line.text_event("/status", USER)
    reply = ReplyMessageRequest(reply_token=event["replyToken"], messages=[TextMessage(text="ok")])
    assert (await messaging.reply_message(reply)).sent_messages
    with pytest.raises(ApiException) as reused:
        await messaging.reply_message(reply)
    assert reused.value.status == 400
    assert json.loads(reused.value.body) == {"message": "Invalid reply token"}
    stale = line.register_reply_token("f" * 32, USER, ttl=0.01)
    await asyncio.sleep(0.05)
    with pytest.raises(ApiException):
        await messaging.reply_message(
            ReplyMessageRequest(reply_token=stale, messages=[TextMessage(text="late")])
        )
    assert [(d.kind, d.to) for d in line.deliveries] == [("reply", USER)]


async def test_invalid_messages_and_auth_are_refused(
    line: FakeLineAPI, messaging: AsyncMessagingApi
) -> None:
    with pytest.raises(ApiException) as too_long:
        await messaging.push_message(
            PushMessageRequest(to=USER, messages=[TextMessage(text="x" * 5001)])
        )
    assert json.loads(too_long.value.body) == {
        "message": "The request body has 1 error(s)",
        "details": [
            {"message": "Length must be between 0 and 5000", "property": "messages[0].text"}
        ],
    }
    with pytest.raises(ApiException) as plain_http:
        await messaging.push_message(
            PushMessageRequest(
                to=USER,
                messages=[
                    ImageMessage(
                        original_content_url="http://bot.example/c.png",
                        preview_image_url="https://bot.example/c.png",
                    )
                ],
            )
        )
    assert json.loads(plain_http.value.body)["details"][0]["property"] == (
        "messages[0].originalContentUrl"
    )
    url = f"{line.base_url}/v2/bot/message/push"
    auth = {"Authorization": f"Bearer {line.channel_access_token}"}
    async with httpx.AsyncClient() as raw:
        six = await raw.post(
            url, headers=auth, json={"to": USER, "messages": [{"type": "text", "text": "hi"}] * 6}
        )
        no_alt: dict[str, Any] = {"type": "flex", "contents": {"type": "bubble"}}
        flex = await raw.post(url, headers=auth, json={"to": USER, "messages": [no_alt]})
        stranger = await raw.post(
            url,
            headers={"Authorization": "Bearer nope"},
            json={"to": USER, "messages": [{"type": "text", "text": "x"}]},
        )
    assert six.status_code == 400 and six.json()["details"][0]["message"] == (
        "Size must be between 1 and 5"
    )
    assert flex.status_code == 400 and flex.json()["details"][0]["property"] == (
        "messages[0].altText"
    )
    assert stranger.status_code == 401
    assert line.deliveries == []


async def test_profile_bot_info_and_a_slow_answer(
    line: FakeLineAPI, messaging: AsyncMessagingApi
) -> None:
    line.add_profile(USER, "Somchai")
    line.delay_next("profile", 0.2)
    started = time.monotonic()
    assert (await messaging.get_profile(USER)).display_name == "Somchai"
    assert time.monotonic() - started >= 0.2
    assert (await messaging.get_bot_info()).user_id == line.bot_user_id
    group = "C" + "1" * 32
    event = line.text_event("/status", USER, group_id=group)
    await messaging.reply_message(
        ReplyMessageRequest(
            reply_token=event["replyToken"], messages=[TextMessage(text="to the group")]
        )
    )
    assert line.messages_to(group) == [{"type": "text", "text": "to the group"}]


def test_webhook_parser_accepts_signed_bodies_and_rejects_tampered_ones() -> None:
    line = FakeLineAPI()  # builders need no server
    events = [
        line.text_event("/status สวัสดี", USER, is_redelivery=True),
        line.postback_event("confirm=abc", USER),
        line.follow_event(USER),
    ]
    body, headers = line.signed_webhook(events)
    assert headers["X-Line-Signature"] == sign_line_body(line.channel_secret, body)
    parser = WebhookParser(line.channel_secret)
    parsed = parser.parse(body.decode(), headers["X-Line-Signature"])
    assert [type(e) for e in parsed] == [MessageEvent, PostbackEvent, FollowEvent]
    text = parsed[0]
    assert isinstance(text, MessageEvent) and isinstance(text.message, TextMessageContent)
    assert text.message.text == "/status สวัสดี" and text.delivery_context.is_redelivery
    assert len({e.webhook_event_id for e in parsed}) == 3
    tampered = body.replace(b"confirm=abc", b"confirm=abd")
    with pytest.raises(InvalidSignatureError):
        parser.parse(tampered.decode(), headers["X-Line-Signature"])
