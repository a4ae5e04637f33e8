"""The whole web app on a test database, behind Starlette's TestClient (which runs the lifespan),
talking through the real python-telegram-bot and line-bot-sdk to the fake Telegram and LINE APIs.

    world.telegram_says("/status")          # a signed webhook; waits for the bot's answer
    world.line_says("status")
    world.settle()                           # until no reply is in flight
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

with warnings.catch_warnings():  # Starlette's note about httpx2: the TestClient works as is
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from bot.app import create_app
from bot.chat.channels import ChatChannels
from bot.config import Settings
from storage.models import Order, PaperFill, ProcessedUpdate, ReserveEntry
from tests.conftest import Clock, make_settings
from tests.fakes.line_api import FakeLineAPI
from tests.fakes.line_events import line_user_id
from tests.fakes.telegram_api import (
    FakeTelegramAPI,
    SentMessage,
    make_callback_update,
    make_message_update,
)

SECRET = "test-webhook-secret_1"
TG_ADMIN, TG_VIEWER, TG_STRANGER = 111, 222, 999
LINE_ADMIN, LINE_VIEWER, LINE_STRANGER = line_user_id(1), line_user_id(2), line_user_id(9)
PUBLIC_URL = "https://bot.example"
_update_ids = itertools.count(1)


def next_update_id() -> int:
    return next(_update_ids)


def chat_settings(tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": tg.token,
        "telegram_api_url": tg.url,
        "telegram_webhook_secret": SECRET,
        "line_channel_access_token": line.channel_access_token,
        "line_channel_secret": line.channel_secret,
        "line_api_url": line.base_url,
        "public_url": PUBLIC_URL,
        "admins": f"telegram:{TG_ADMIN},line:{LINE_ADMIN}",
        "viewers": f"telegram:{TG_VIEWER},line:{LINE_VIEWER}",
    }
    values.update(extra)
    return make_settings(tmp_path, **values)


@dataclass
class World:
    client: TestClient
    tg: FakeTelegramAPI
    line: FakeLineAPI
    clock: Clock
    settings: Settings
    seen: dict[str, int] = field(default_factory=dict)

    @property
    def chat(self) -> ChatChannels:
        chat: ChatChannels = self.client.app.state.chat  # type: ignore[attr-defined]
        return chat

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every queued update has been answered."""
        deadline = time.monotonic() + timeout
        while self.chat.work.in_flight:
            if time.monotonic() > deadline:
                raise AssertionError("replies still in flight")
            time.sleep(0.005)

    # -- Telegram -------------------------------------------------------------------------------

    def post_telegram(
        self, update: dict[str, Any] | bytes, secret: str | None = SECRET
    ) -> httpx.Response:
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret.encode()}
        if isinstance(update, bytes):
            return self.client.post("/webhook/telegram", content=update, headers=headers)
        return self.client.post("/webhook/telegram", json=update, headers=headers)

    def telegram_says(
        self, text: str, user: int = TG_ADMIN, chat: int | None = None, **extra: Any
    ) -> list[SentMessage]:
        """Send `text` from `user` and return what the bot sent to the chat in answer."""
        chat_id = user if chat is None else chat
        kind = "private" if chat_id > 0 else "group"
        update = make_message_update(next_update_id(), chat_id, user, text, kind, **extra)
        return self._telegram_exchange(update, chat_id)

    def telegram_taps(
        self, data: str, message: SentMessage, user: int = TG_ADMIN
    ) -> list[SentMessage]:
        chat_id = int(message.chat_id)
        update = make_callback_update(
            next_update_id(), chat_id, user, data, message=message.message
        )
        return self._telegram_exchange(update, chat_id)

    def _telegram_exchange(self, update: dict[str, Any], chat_id: int) -> list[SentMessage]:
        before = len(self.tg.messages(chat_id))
        answer = self.post_telegram(update)
        assert answer.status_code == 200, answer.text
        self.settle()
        return self.tg.messages(chat_id)[before:]

    # -- LINE -----------------------------------------------------------------------------------

    def post_line(
        self, events: list[dict[str, Any]], *, signature: str | None = None
    ) -> httpx.Response:
        body, headers = self.line.signed_webhook(events)
        if signature is not None:
            headers["X-Line-Signature"] = signature
        return self.client.post("/webhook/line", content=body, headers=headers)

    def line_exchange(self, event: dict[str, Any], to: str) -> list[dict[str, Any]]:
        before = len(self.line.messages_to(to))
        answer = self.post_line([event])
        assert answer.status_code == 200, answer.text
        self.settle()
        return self.line.messages_to(to)[before:]

    def line_says(self, text: str, user: str = LINE_ADMIN, **kwargs: Any) -> list[dict[str, Any]]:
        to = kwargs.get("group_id") or user
        return self.line_exchange(self.line.text_event(text, user, **kwargs), to)

    def line_taps(self, data: str, user: str = LINE_ADMIN) -> list[dict[str, Any]]:
        return self.line_exchange(self.line.postback_event(data, user), user)

    # -- what the bot wrote ---------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        db = self.chat.runtime.services.engine.db
        with db.transaction() as session:
            return {
                model.__name__: int(session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Order, PaperFill, ReserveEntry, ProcessedUpdate)
            }


@contextmanager
def running_world(
    settings: Settings, tg: FakeTelegramAPI, line: FakeLineAPI, clock: Clock, **app_options: Any
) -> Iterator[World]:
    app_options.setdefault("dispatch", False)  # alerts have their own tests (test_notify_*)
    app = create_app(settings, clock=clock, **app_options)
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        yield World(client, tg, line, clock, settings)


def flex_texts(message: dict[str, Any]) -> list[str]:
    """Every text in a Flex message, in order (what a person reads on the card)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text" and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("contents"))
    return found


def flex_postbacks(message: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            action = node.get("action")
            if isinstance(action, dict) and action.get("type") == "postback":
                found.append(action["data"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("contents"))
    return found


@pytest.fixture
def tg() -> Iterator[FakeTelegramAPI]:
    with FakeTelegramAPI() as fake:
        yield fake


@pytest.fixture
def line() -> Iterator[FakeLineAPI]:
    with FakeLineAPI() as fake:
        yield fake


@pytest.fixture
def world(tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, clock: Clock) -> Iterator[World]:
    with running_world(chat_settings(tmp_path, tg, line), tg, line, clock) as running:
        yield running
