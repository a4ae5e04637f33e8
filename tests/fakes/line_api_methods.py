"""The Messaging API endpoints the fake LINE serves, over its in-memory state.

Each handler returns (status, body, extra headers) the way LINE answers; the server around it
adds authentication, faults and `x-line-request-id`.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .line_validation import USER_OR_GROUP_ID, error_body, invalid_property, validate_messages

Answer = tuple[int, Any, dict[str, str]]

RATE_LIMIT_BODY = {"message": "The API rate limit has been exceeded. Try again later."}
MONTHLY_LIMIT_BODY = {"message": "You have reached your monthly limit."}
RETRY_KEY_ACCEPTED = "The retry key is already accepted"
INVALID_REPLY_TOKEN = {"message": "Invalid reply token"}


@dataclass(frozen=True)
class Delivery:
    """Messages the fake accepted in one push or reply."""

    kind: str
    to: str
    messages: list[dict[str, Any]]
    sent_messages: list[dict[str, str]]
    request_id: str
    retry_key: str | None = None
    reply_token: str | None = None
    time: float = field(default_factory=time.time)

    @property
    def sent_ids(self) -> list[str]:
        return [s["id"] for s in self.sent_messages]


@dataclass
class _ReplyToken:
    to: str
    expires_at: float
    used: bool = False


class LineState:
    """Deliveries, accepted retry keys, reply tokens, profiles and the monthly quota."""

    def __init__(
        self,
        bot_user_id: str,
        reply_token_ttl: float,
        monthly_limit: int | None,
        auto_profiles: bool,
    ) -> None:
        self.bot_user_id = bot_user_id
        self.reply_token_ttl = reply_token_ttl
        self.monthly_limit = monthly_limit
        self.auto_profiles = auto_profiles
        self.monthly_usage = 0
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._accepted_keys: dict[str, Delivery] = {}
        self._reply_tokens: dict[str, _ReplyToken] = {}
        self.profiles: dict[str, dict[str, Any]] = {}
        # GET /v2/bot/channel/webhook/endpoint: the Webhook URL and "Use webhook" of the console
        self.webhook_endpoint = ""
        self.webhook_active = False
        self._sent_ids = itertools.count(600_000_000_000_000_000)

    def reset(self) -> None:
        with self._lock:
            self._deliveries.clear()
            self._accepted_keys.clear()
            self._reply_tokens.clear()
            self.monthly_usage = 0

    def register_reply_token(self, token: str, to: str, ttl: float | None) -> str:
        life = self.reply_token_ttl if ttl is None else ttl
        with self._lock:
            self._reply_tokens[token] = _ReplyToken(to, time.monotonic() + life)
        return token

    def reply_target(self, token: str) -> str | None:
        with self._lock:
            found = self._reply_tokens.get(token)
        return found.to if found else None

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def handle(
        self,
        endpoint: str,
        target: str | None,
        params: dict[str, Any],
        headers: dict[str, str],
        request_id: str,
    ) -> Answer:
        if endpoint == "push":
            return self._push(params, headers.get("x-line-retry-key"), request_id)
        if endpoint == "reply":
            if "x-line-retry-key" in headers:  # LINE accepts retry keys on sending APIs only
                return 400, {"message": "X-Line-Retry-Key is not supported by this API"}, {}
            return self._reply(params, request_id)
        if endpoint == "profile":
            return self._profile(str(target))
        if endpoint == "bot_info":
            info = {
                "userId": self.bot_user_id,
                "basicId": "@123abcde",
                "displayName": "dcabot (fake)",
                "chatMode": "bot",
                "markAsReadMode": "auto",
            }
            return 200, info, {}
        if endpoint == "webhook_endpoint":
            return 200, {"endpoint": self.webhook_endpoint, "active": self.webhook_active}, {}
        if endpoint == "quota":
            if self.monthly_limit is None:
                return 200, {"type": "none"}, {}
            return 200, {"type": "limited", "value": self.monthly_limit}, {}
        return 200, {"totalUsage": self.monthly_usage}, {}

    def _profile(self, user_id: str) -> Answer:
        profile = self.profiles.get(user_id)
        if profile is None and self.auto_profiles and USER_OR_GROUP_ID.match(user_id):
            profile = {"userId": user_id, "displayName": f"User {user_id[-4:]}", "language": "th"}
        if profile is None:
            return 404, {"message": "Not found"}, {}
        return 200, profile, {}

    def _sent(self, messages: list[dict[str, Any]]) -> list[dict[str, str]]:
        sent = []
        for message in messages:
            entry = {"id": str(next(self._sent_ids))}
            if message.get("type") in ("text", "image", "sticker"):  # quotable kinds
                entry["quoteToken"] = secrets.token_urlsafe(24)
            sent.append(entry)
        return sent

    def _push(self, params: dict[str, Any], retry_key: str | None, request_id: str) -> Answer:
        if retry_key is not None:
            try:
                uuid.UUID(retry_key)
            except ValueError:
                return 400, {"message": "The retry key must be a UUID in hexadecimal format"}, {}
        with self._lock:
            earlier = self._accepted_keys.get(retry_key) if retry_key else None
        if earlier is not None:
            body = {"message": RETRY_KEY_ACCEPTED, "sentMessages": earlier.sent_messages}
            return 409, body, {"x-line-accepted-request-id": earlier.request_id}
        to = params.get("to")
        if not isinstance(to, str) or not USER_OR_GROUP_ID.match(to):
            return 400, invalid_property("to"), {}
        details = validate_messages(params.get("messages"))
        if details:
            return 400, error_body(details), {}
        with self._lock:
            if self.monthly_limit is not None and self.monthly_usage >= self.monthly_limit:
                return 429, MONTHLY_LIMIT_BODY, {}
            sent = self._sent(params["messages"])
            delivery = Delivery(
                "push", to, params["messages"], sent, request_id, retry_key=retry_key
            )
            self._deliveries.append(delivery)
            if retry_key:
                self._accepted_keys[retry_key] = delivery
            self.monthly_usage += 1  # replies are free; a push counts once per recipient
        return 200, {"sentMessages": sent}, {}

    def _reply(self, params: dict[str, Any], request_id: str) -> Answer:
        details = validate_messages(params.get("messages"))
        if details:
            return 400, error_body(details), {}
        token_text = str(params.get("replyToken") or "")
        with self._lock:
            token = self._reply_tokens.get(token_text)
            if token is None or token.used or token.expires_at < time.monotonic():
                return 400, INVALID_REPLY_TOKEN, {}
            token.used = True
            sent = self._sent(params["messages"])
            self._deliveries.append(
                Delivery(
                    "reply", token.to, params["messages"], sent, request_id, reply_token=token_text
                )
            )
        return 200, {"sentMessages": sent}, {}
