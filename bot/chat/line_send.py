"""Sending messages on LINE: the free reply while its token is fresh, a push otherwise.

A reply token is good for one reply within about a minute of the event, and replies do not count
against the monthly message quota, so they come first. An event older than `REPLY_FRESH_S`
(a slow command, a redelivery) or a refused token falls back to a push. A push carries an
`X-Line-Retry-Key`, so retrying it after a 5xx, a 429 or a timeout can never deliver it twice:
a 409 for the same key means LINE already accepted it.

Requests go through the SDK's `AsyncApiClient.call_api` (its auth, transport and `ApiException`)
with the messages as plain JSON, not through `AsyncMessagingApi` and its pydantic models, which
cost more CPU than all the rest of a reply (see bot/chat/line_render.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import aiohttp
from linebot.v3.messaging import ApiException, AsyncApiClient

log = logging.getLogger(__name__)

REPLY_PATH = "/v2/bot/message/reply"
PUSH_PATH = "/v2/bot/message/push"
REPLY_FRESH_S = 50.0
PUSH_ATTEMPTS = 3
RETRY_DELAY_S = 1.0
REQUEST_TIMEOUT_S = 10.0  # the SDK's own default is five minutes
MONTHLY_LIMIT = "monthly limit"
Messages = list[dict[str, Any]]


def _reason(exc: ApiException) -> str:
    """LINE's own message from an error body, short, for the log (never a header: no token)."""
    try:
        message = json.loads(exc.body or "{}").get("message", "")
    except (ValueError, AttributeError):
        message = ""
    return f"{exc.status} {str(message)[:120]}".strip()


async def _post(
    client: AsyncApiClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> None:
    await client.call_api(
        path,
        "POST",
        header_params={"Content-Type": "application/json", **headers},
        body=body,
        response_types_map={},
        auth_settings=["Bearer"],
        _request_timeout=REQUEST_TIMEOUT_S,
    )


async def reply_or_push(
    client: AsyncApiClient,
    messages: Messages,
    *,
    to: str,
    reply_token: str | None,
    age_s: float,
) -> bool:
    """Deliver `messages` to `to`; False (and a log line) when LINE would not take them."""
    if reply_token and age_s < REPLY_FRESH_S:
        try:
            await _post(client, REPLY_PATH, {"replyToken": reply_token, "messages": messages}, {})
            return True
        except ApiException as exc:
            log.info("LINE reply refused (%s); pushing instead", _reason(exc))
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("LINE reply failed (%s); pushing instead", type(exc).__name__)
    return await push(client, messages, to=to)


async def push(client: AsyncApiClient, messages: Messages, *, to: str) -> bool:
    body = {"to": to, "messages": messages}
    headers = {"X-Line-Retry-Key": str(uuid.uuid4())}
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        try:
            await _post(client, PUSH_PATH, body, headers)
            return True
        except ApiException as exc:
            if exc.status == 409:
                return True  # an earlier attempt with this key was delivered
            reason = _reason(exc)
            retryable = exc.status >= 500 or (exc.status == 429 and MONTHLY_LIMIT not in reason)
            if not retryable or attempt == PUSH_ATTEMPTS:
                log.warning("LINE push refused (%s); message dropped", reason)
                return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            if attempt == PUSH_ATTEMPTS:
                log.warning("LINE push failed (%s); message dropped", type(exc).__name__)
                return False
        await asyncio.sleep(RETRY_DELAY_S * attempt)
    return False
