"""Alerts to LINE as Flex bubbles, each push carrying the outbox row's `X-Line-Retry-Key`.

LINE accepts a retry key once: a repeated key answers 409, which means the first push was
delivered (its answer was lost), so 409 counts as delivered. That makes retrying safe, so a 5xx
or a timeout is retried here a couple of times with the same key before falling back.

A 429 is one of two things, told apart by its body: the monthly quota of the free plan is used
up (`exhausted`: no push can succeed until it resets), or too many requests a second (back off,
doubling up to a minute).
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    FlexContainer,
    FlexMessage,
    PushMessageRequest,
)
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from bot.cards.line_flex import alt_text, flex_bubble
from bot.notify.outcomes import DELIVERED, AlertMessage, Outcome, SendResult
from bot.notify.rate_limits import ChannelPacer
from bot.notify.routes import LINE, Route

MONTHLY_LIMIT = "monthly limit"
MAX_BACKOFF = 60.0


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        return status == 0 or status >= 500
    return isinstance(exc, TimeoutError | aiohttp.ClientError)


def _message_of(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        return str(exc.reason or "")
    return str(body.get("message", "")) if isinstance(body, dict) else ""


class LineSender:
    channel = LINE

    def __init__(
        self,
        access_token: str,
        *,
        host: str | None = None,
        per_second: float = 100.0,
        timeout: float = 10.0,
        attempts: int = 3,
        connections: int = 16,
    ) -> None:
        config = Configuration(access_token=access_token, **({"host": host} if host else {}))
        self._client = AsyncApiClient(config)
        self._api = AsyncMessagingApi(self._client)
        self.pacer = ChannelPacer(per_second)
        self._timeout = timeout
        self._attempts = attempts
        self._in_flight = asyncio.Semaphore(connections)
        self._backoff = 1.0

    def paused_for(self, route: Route) -> float:
        return self.pacer.paused_for()

    def push_request(self, route: Route, message: AlertMessage) -> PushMessageRequest:
        flex = FlexMessage(
            alt_text=alt_text(message.reply),
            contents=FlexContainer.from_dict(flex_bubble(message.reply)),
        )
        return PushMessageRequest(
            to=route.address, messages=[flex], notification_disabled=message.silent
        )

    async def send(self, route: Route, message: AlertMessage) -> SendResult:
        waiting = self.pacer.paused_for()
        if waiting > 0:
            detail = f"backing off {waiting:.0f}s after a 429"
            return SendResult(Outcome.RATE_LIMITED, detail, waiting, channel_wide=True)
        request = self.push_request(route, message)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(multiplier=0.2, max=2.0, jitter=0.2),
            retry=retry_if_exception(_transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    async with self._in_flight:  # a slot first: paced sends leave at once
                        await self.pacer.acquire()
                        await asyncio.wait_for(
                            self._api.push_message(request, x_line_retry_key=message.retry_key),
                            self._timeout,
                        )
        except ApiException as exc:
            return self._refusal(exc)
        except TimeoutError:
            return SendResult(Outcome.UNAVAILABLE, "timed out", channel_wide=True)
        except aiohttp.ClientError as exc:
            return SendResult(Outcome.UNAVAILABLE, type(exc).__name__, channel_wide=True)
        self._backoff = 1.0
        return DELIVERED

    def _refusal(self, exc: ApiException) -> SendResult:
        status, message = int(exc.status or 0), _message_of(exc)
        detail = f"{status} {message}".strip()
        if status == 409:  # this retry key was accepted before: delivered already
            return SendResult(Outcome.DELIVERED, "already delivered (409)")
        if status == 429 and MONTHLY_LIMIT in message.lower():
            return SendResult(Outcome.EXHAUSTED, detail, channel_wide=True)
        if status == 429:
            pause, self._backoff = self._backoff, min(MAX_BACKOFF, self._backoff * 2)
            self.pacer.pause(pause)
            return SendResult(Outcome.RATE_LIMITED, detail, pause, channel_wide=True)
        if status in (401, 403):  # a wrong or revoked channel access token
            return SendResult(Outcome.UNAVAILABLE, detail, channel_wide=True)
        if status == 400:
            return SendResult(Outcome.REFUSED, detail)
        return SendResult(Outcome.UNAVAILABLE, detail, channel_wide=status >= 500)

    async def close(self) -> None:
        await self._client.close()
