"""Builders of LINE webhook requests: events as the LINE Platform sends them, and the signature.

`linebot.v3.webhook.WebhookParser` accepts what these build. Reply tokens are plain strings here;
`FakeLineAPI.text_event(...)` and friends also register them so a reply can be validated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import time
from typing import Any

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_message_ids = itertools.count(500_000_000_000_000_000)


def sign_line_body(channel_secret: str, body: bytes) -> str:
    """The `X-Line-Signature` for `body`: base64 of HMAC-SHA256 keyed by the channel secret."""
    digest = hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def line_user_id(n: int) -> str:
    """A well-formed LINE user id (`U` + 32 hex digits) numbered `n`."""
    return f"U{n:032x}"


def line_group_id(n: int) -> str:
    return f"C{n:032x}"


def new_webhook_event_id() -> str:
    """A fresh ULID-shaped id (26 Crockford base32 characters), like `webhookEventId`."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def new_reply_token() -> str:
    return secrets.token_hex(16)


def _source(user_id: str, group_id: str | None) -> dict[str, Any]:
    if group_id is None:
        return {"type": "user", "userId": user_id}
    if group_id.startswith("R"):
        return {"type": "room", "roomId": group_id, "userId": user_id}
    return {"type": "group", "groupId": group_id, "userId": user_id}


def _event(
    kind: str,
    user_id: str,
    *,
    group_id: str | None,
    webhook_event_id: str | None,
    is_redelivery: bool,
    timestamp: int | None,
) -> dict[str, Any]:
    return {
        "type": kind,
        "mode": "active",
        "timestamp": timestamp if timestamp is not None else int(time.time() * 1000),
        "source": _source(user_id, group_id),
        "webhookEventId": webhook_event_id or new_webhook_event_id(),
        "deliveryContext": {"isRedelivery": is_redelivery},
    }


def make_text_event(
    text: str,
    user_id: str,
    *,
    reply_token: str | None = None,
    group_id: str | None = None,
    webhook_event_id: str | None = None,
    is_redelivery: bool = False,
    timestamp: int | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    """A text message event from `user_id` (in `group_id` when given)."""
    event = _event(
        "message",
        user_id,
        group_id=group_id,
        webhook_event_id=webhook_event_id,
        is_redelivery=is_redelivery,
        timestamp=timestamp,
    )
    event["replyToken"] = reply_token or new_reply_token()
    event["message"] = {
        "type": "text",
        "id": message_id or str(next(_message_ids)),
        "quoteToken": secrets.token_urlsafe(24),
        "text": text,
    }
    return event


def make_postback_event(
    data: str,
    user_id: str,
    *,
    reply_token: str | None = None,
    params: dict[str, str] | None = None,
    group_id: str | None = None,
    webhook_event_id: str | None = None,
    is_redelivery: bool = False,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """A tap on a postback action (a confirmation button) carrying `data`."""
    event = _event(
        "postback",
        user_id,
        group_id=group_id,
        webhook_event_id=webhook_event_id,
        is_redelivery=is_redelivery,
        timestamp=timestamp,
    )
    event["replyToken"] = reply_token or new_reply_token()
    event["postback"] = {"data": data}
    if params is not None:
        event["postback"]["params"] = params
    return event


def make_follow_event(
    user_id: str,
    *,
    reply_token: str | None = None,
    is_unblocked: bool = False,
    webhook_event_id: str | None = None,
    is_redelivery: bool = False,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """The user added the bot as a friend (or unblocked it)."""
    event = _event(
        "follow",
        user_id,
        group_id=None,
        webhook_event_id=webhook_event_id,
        is_redelivery=is_redelivery,
        timestamp=timestamp,
    )
    event["replyToken"] = reply_token or new_reply_token()
    event["follow"] = {"isUnblocked": is_unblocked}
    return event


def make_unfollow_event(
    user_id: str, *, webhook_event_id: str | None = None, is_redelivery: bool = False
) -> dict[str, Any]:
    """The user blocked the bot; there is no reply token."""
    return _event(
        "unfollow",
        user_id,
        group_id=None,
        webhook_event_id=webhook_event_id,
        is_redelivery=is_redelivery,
        timestamp=None,
    )


def make_webhook_body(events: list[dict[str, Any]], destination: str) -> bytes:
    """The raw request body LINE posts (UTF-8 JSON, non-ASCII kept as is)."""
    return json.dumps(
        {"destination": destination, "events": events}, ensure_ascii=False, separators=(",", ":")
    ).encode()


def signed_webhook(
    channel_secret: str, events: list[dict[str, Any]], destination: str
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a webhook request as LINE would send it."""
    body = make_webhook_body(events, destination)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Line-Signature": sign_line_body(channel_secret, body),
        "User-Agent": "LineBotWebhook/2.0",
    }
    return body, headers
