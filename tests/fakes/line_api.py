"""A local fake of the LINE Messaging API that line-bot-sdk v3 talks to through `host`.

    with FakeLineAPI() as line:
        config = Configuration(host=line.base_url, access_token=line.channel_access_token)
        data = Configuration(host=line.data_url, access_token=line.channel_access_token)

`base_url` serves api.line.me and `data_url`, a second server on its own port, api-data.line.me
(rich menu images; see line_rich_menus). `Configuration.host`, when set, replaces both hosts in
the SDK, so MessagingApiBlob needs an ApiClient of its own on `data_url`. Answers use LINE's
bodies and headers (`x-line-request-id`, `x-line-accepted-request-id` on a 409 for a repeated
`X-Line-Retry-Key`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
import uuid
from typing import Any

from ._server import (
    Call,
    Fault,
    FaultBook,
    Receive,
    Scope,
    Send,
    ThreadedASGIServer,
    header_map,
    read_body,
    send_bytes,
    send_json,
    wait_until,
    wait_until_async,
)
from .line_api_methods import (
    MONTHLY_LIMIT_BODY,
    RATE_LIMIT_BODY,
    Delivery,
    LineState,
)
from .line_events import (
    line_user_id,
    make_follow_event,
    make_postback_event,
    make_text_event,
    sign_line_body,
    signed_webhook,
)
from .line_rich_menus import DATA_ENDPOINTS, RichMenuHelpers, RichMenuState, call_params, route

__all__ = ["MONTHLY_LIMIT_BODY", "RATE_LIMIT_BODY", "Delivery", "FakeLineAPI", "sign_line_body"]

AUTH_FAILED_BODY = {
    "message": "Authentication failed. Confirm that the access token in the "
    "authorization header is valid."
}
ROUTES = {
    ("POST", "/v2/bot/message/push"): "push",
    ("POST", "/v2/bot/message/reply"): "reply",
    ("GET", "/v2/bot/info"): "bot_info",
    ("GET", "/v2/bot/channel/webhook/endpoint"): "webhook_endpoint",
    ("GET", "/v2/bot/message/quota"): "quota",
    ("GET", "/v2/bot/message/quota/consumption"): "quota_consumption",
}
PROFILE_PREFIX = "/v2/bot/profile/"
DEFAULT_BOT_USER_ID = line_user_id(0xB07)
_Answer = tuple[int, Any, dict[str, str], str, str | None, dict[str, Any]]


class FakeLineAPI(RichMenuHelpers):
    """Fake Messaging API. `monthly_limit` (pushes per month) is off unless given."""

    def __init__(
        self,
        channel_access_token: str = "test-line-channel-access-token",
        channel_secret: str = "test-line-channel-secret",
        *,
        bot_user_id: str = DEFAULT_BOT_USER_ID,
        reply_token_ttl: float = 60.0,
        monthly_limit: int | None = None,
        auto_profiles: bool = True,
    ) -> None:
        self.channel_access_token = channel_access_token
        self.channel_secret = channel_secret
        self.state = LineState(bot_user_id, reply_token_ttl, monthly_limit, auto_profiles)
        self.rich_menu_state = RichMenuState()
        self.conflict_count = 0
        self.rate_limited_count = 0
        self._faults = FaultBook()
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._server = ThreadedASGIServer(self._api_app, name="fake-line")
        self._data_server = ThreadedASGIServer(self._data_app, name="fake-line-data")

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """For `Configuration(host=...)`: the api.line.me host (`data_url` is api-data)."""
        return self._server.url

    @property
    def bot_user_id(self) -> str:
        return self.state.bot_user_id

    @property
    def monthly_usage(self) -> int:
        return self.state.monthly_usage

    # -- setup ------------------------------------------------------------------------------

    def register_reply_token(self, token: str, to: str, ttl: float | None = None) -> str:
        """Accept `token` for one reply to `to` within `ttl` seconds (default reply_token_ttl)."""
        return self.state.register_reply_token(token, to, ttl)

    def issue_reply_token(self, to: str, ttl: float | None = None) -> str:
        return self.state.register_reply_token(secrets.token_hex(16), to, ttl)

    def add_profile(self, user_id: str, display_name: str, **extra: str) -> None:
        self.state.profiles[user_id] = {"userId": user_id, "displayName": display_name, **extra}

    def set_webhook_endpoint(self, endpoint: str, *, active: bool = True) -> None:
        """What the console says: the Webhook URL and whether "Use webhook" is on."""
        self.state.webhook_endpoint, self.state.webhook_active = endpoint, active

    def set_monthly_limit(self, limit: int | None) -> None:
        self.state.monthly_limit = limit

    def reset_monthly_usage(self) -> None:
        """The month turned: the quota is available again."""
        self.state.monthly_usage = 0

    # -- webhook builders that register their reply tokens --------------------------------

    def text_event(self, text: str, user_id: str, **kwargs: Any) -> dict[str, Any]:
        event = make_text_event(text, user_id, **kwargs)
        self.register_reply_token(event["replyToken"], kwargs.get("group_id") or user_id)
        return event

    def postback_event(self, data: str, user_id: str, **kwargs: Any) -> dict[str, Any]:
        event = make_postback_event(data, user_id, **kwargs)
        self.register_reply_token(event["replyToken"], kwargs.get("group_id") or user_id)
        return event

    def follow_event(self, user_id: str, **kwargs: Any) -> dict[str, Any]:
        event = make_follow_event(user_id, **kwargs)
        self.register_reply_token(event["replyToken"], user_id)
        return event

    def signed_webhook(self, events: list[dict[str, Any]]) -> tuple[bytes, dict[str, str]]:
        """(body, headers) of a webhook request for these events, signed with the secret."""
        return signed_webhook(self.channel_secret, events, self.bot_user_id)

    # -- faults -----------------------------------------------------------------------------

    def fail_next(
        self,
        endpoint: str,
        status: int,
        body: dict[str, Any],
        times: int = 1,
        *,
        to: str | None = None,
        delay: float = 0.0,
        accepted: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next `times` calls of `endpoint` ("push", "reply", "profile", "bot_info",
        "quota", "quota_consumption", "richmenu_*"), for recipient `to` (a rich menu ID for the
        richmenu_* endpoints that take one) if given, answer `status`/`body`.
        With `accepted=True` the call is carried out first and only its answer is lost.
        """
        self._faults.add(
            Fault(endpoint, times, status, body, dict(headers or {}), delay, to, accepted)
        )

    def rate_limit_next(
        self, endpoint: str = "push", times: int = 1, *, to: str | None = None
    ) -> None:
        self.fail_next(endpoint, 429, RATE_LIMIT_BODY, times, to=to)

    def monthly_limit_next(
        self, endpoint: str = "push", times: int = 1, *, to: str | None = None
    ) -> None:
        self.fail_next(endpoint, 429, MONTHLY_LIMIT_BODY, times, to=to)

    def server_error_next(
        self,
        endpoint: str = "push",
        times: int = 1,
        *,
        status: int = 500,
        to: str | None = None,
        accepted: bool = False,
    ) -> None:
        self.fail_next(
            endpoint, status, {"message": "Internal server error"}, times, to=to, accepted=accepted
        )

    def delay_next(
        self, endpoint: str, seconds: float, times: int = 1, *, to: str | None = None
    ) -> None:
        """Answer normally after `seconds` (a slow LINE, or a client timeout)."""
        self._faults.add(Fault(endpoint, times, None, delay=seconds, target=to))

    def clear_faults(self) -> None:
        self._faults.clear()

    # -- what happened ----------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, endpoint: str) -> list[Call]:
        return [c for c in self.calls if c.method == endpoint]

    @property
    def deliveries(self) -> list[Delivery]:
        return self.state.deliveries()

    @property
    def pushes(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.kind == "push"]

    @property
    def replies(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.kind == "reply"]

    def messages_to(self, to: str) -> list[dict[str, Any]]:
        """Every message object delivered to a user or group, by push or reply, in order."""
        return [m for d in self.deliveries if d.to == to for m in d.messages]

    def wait_for_deliveries(self, count: int = 1, timeout: float = 5.0) -> None:
        wait_until(lambda: len(self.deliveries) >= count, timeout)

    async def wait_for_deliveries_async(self, count: int = 1, timeout: float = 5.0) -> None:
        await wait_until_async(lambda: len(self.deliveries) >= count, timeout)

    def reset(self) -> None:
        """Forget calls, deliveries, retry keys, reply tokens, rich menus, faults, counters."""
        with self._lock:
            self._calls.clear()
        self.state.reset()
        self.rich_menu_state.reset()
        self._faults.clear()
        self.conflict_count = self.rate_limited_count = 0

    # -- the server -------------------------------------------------------------------------

    async def _api_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send, data_host=False)

    async def _data_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send, data_host=True)

    async def _app(self, scope: Scope, receive: Receive, send: Send, *, data_host: bool) -> None:
        if scope["type"] != "http":
            return
        raw = await read_body(receive)
        headers = header_map(scope)
        request_id = str(uuid.uuid4())
        status, body, extra, endpoint, target, params = await self._answer(
            scope["method"], scope["path"], headers, raw, request_id, data_host
        )
        if status == 429:
            self.rate_limited_count += 1
        elif status == 409:
            self.conflict_count += 1
        kept = {k: v for k, v in headers.items() if k in ("x-line-retry-key", "authorization")}
        with self._lock:
            self._calls.append(Call(endpoint, params, time.time(), status, target, kept))
        answer = [("x-line-request-id", request_id), *extra.items()]
        if isinstance(body, bytes):  # a rich menu image; `extra` has its content-type
            await send_bytes(send, status, body, answer)
        else:
            await send_json(send, status, body, answer)

    @staticmethod
    def _route(method: str, path: str, data_host: bool) -> tuple[str, str | None] | None:
        """(endpoint, target) of a path on this host; None where the host has no such path."""
        rich_menu = route(method, path)
        if rich_menu is not None:
            return rich_menu if (rich_menu[0] in DATA_ENDPOINTS) == data_host else None
        if data_host:
            return None
        if method == "GET" and path.startswith(PROFILE_PREFIX):
            return "profile", path.removeprefix(PROFILE_PREFIX)
        endpoint = ROUTES.get((method, path))
        return None if endpoint is None else (endpoint, None)

    async def _answer(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        raw: bytes,
        request_id: str,
        data_host: bool = False,
    ) -> _Answer:
        routed = self._route(method, path, data_host)
        if routed is None:
            return 404, {"message": "Not found"}, {}, f"{method} {path}", None, {}
        endpoint, target = routed
        if headers.get("authorization") != f"Bearer {self.channel_access_token}":
            return 401, AUTH_FAILED_BODY, {}, endpoint, target, {}
        params: dict[str, Any] = {}
        if endpoint.startswith("richmenu_"):
            params = call_params(endpoint, headers, raw)
        elif method == "POST":
            try:
                params = json.loads(raw)
            except ValueError as exc:
                body = {"message": f"The request body could not be parsed as JSON ({exc})"}
                return 400, body, {}, endpoint, target, {}
            if not isinstance(params, dict):
                body = {"message": "The request body must be a JSON object"}
                return 400, body, {}, endpoint, target, {}
            target = (
                str(params.get("to"))
                if endpoint == "push"
                else self.state.reply_target(str(params.get("replyToken")))
            )
        fault = self._faults.take(endpoint, target)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None and not fault.after_accept:
                return fault.status, fault.payload, fault.headers, endpoint, target, params
        if endpoint.startswith("richmenu_"):
            status, body, extra = self.rich_menu_state.handle(endpoint, target, headers, raw)
        else:
            status, body, extra = self.state.handle(endpoint, target, params, headers, request_id)
        if fault is not None and fault.status is not None and fault.after_accept:
            return fault.status, fault.payload, fault.headers, endpoint, target, params
        return status, body, extra, endpoint, target, params
