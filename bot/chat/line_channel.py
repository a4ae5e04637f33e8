"""The LINE channel: webhook events in, Flex cards out.

`X-Line-Signature` is checked over the raw body by the SDK's `SignatureValidator` (HMAC-SHA256
with the channel secret, compared in constant time), and events are read by the SDK's `Event`
model, one at a time as `WebhookParser` does, except that an event the SDK cannot read is skipped
instead of failing the whole batch. Each event is claimed by its `webhookEventId`
(LINE redelivers when unsure), then run in the background, in order per chat. A 1:1 chat takes
any text, with or without the slash; a group or room only text starting with `/`. Buttons are
postbacks (a confirmation's answer, or a command); quick replies type the main commands.
Charts go as image messages that LINE fetches from `PUBLIC_URL/charts/<id>.png`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import AsyncApiClient, Configuration
from linebot.v3.webhook import SignatureValidator
from linebot.v3.webhooks import (
    Event,
    FollowEvent,
    GroupSource,
    MessageEvent,
    PostbackEvent,
    RoomSource,
    TextMessageContent,
)

from bot.cards.line_flex import line_messages
from bot.cards.reply import Reply, notice
from bot.chat.background import BackgroundWork, Work, claimed_first
from bot.chat.inbound import Inbound
from bot.chat.line_send import push, reply_or_push
from bot.chat.roles import Role, User
from bot.chat.webhooks import Refused, load_json
from bot.config import Settings
from bot.i18n import speaking
from storage import downloads
from storage.db import Database
from storage.inbound import MAX_KEY_LENGTH

log = logging.getLogger(__name__)

CHANNEL = "line"
DOWNLOAD_TTL = timedelta(minutes=10)
Clock = Callable[[], datetime]


def open_line_client(settings: Settings) -> AsyncApiClient:
    """The SDK's async client; make it inside the running event loop (it owns an aiohttp pool)."""
    config = Configuration(
        host=settings.line_api_url, access_token=settings.line_channel_access_token
    )
    return AsyncApiClient(config)


def charts_folder(settings: Settings) -> Path:
    return settings.data_dir / "charts"


def _chart_in(folder: Path, image: Path) -> Path:
    """`image` inside the served folder, copied there if it was drawn elsewhere."""
    if image.parent.resolve() == folder.resolve():
        return image
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / f"{uuid.uuid4().hex}.png"
    shutil.copyfile(image, copy)
    return copy


class LineChannel:
    def __init__(
        self,
        client: AsyncApiClient,
        settings: Settings,
        inbound: Inbound,
        work: BackgroundWork,
        db: Database,
        clock: Clock,
    ) -> None:
        self.client = client
        self.signature = SignatureValidator(settings.line_channel_secret)
        self.public_url = settings.public_url
        self.charts = charts_folder(settings)
        self.inbound = inbound
        self.work = work
        self.db = db
        self.clock = clock

    async def stop(self) -> None:
        await self.client.close()

    # -- events in -------------------------------------------------------------------------------

    def parse(self, body: bytes, signature: str) -> list[Any]:
        """The events of a webhook body. Raises the SDK's `InvalidSignatureError` unless
        `signature` is base64(HMAC-SHA256(channel secret, body)) of the raw bytes, compared in
        constant time before anything is decoded; ValueError for a body that is not a LINE
        webhook (`Refused` when nested too deep). An event is left out, with a log line, when
        the SDK cannot read it or LINE never sends its like: a `webhookEventId` (the claim's
        key, a 26-character ULID from LINE) that is not 1-80 printable ASCII characters, or
        postback data over LINE's 300 characters. Redelivering it would not make it readable."""
        expected = hmac.new(self.signature.channel_secret, body, hashlib.sha256).digest()
        given = signature.encode("latin-1", "replace")  # header text is latin-1 decoded
        if not hmac.compare_digest(given, base64.b64encode(expected)):
            raise InvalidSignatureError("wrong signature")
        payload = load_json(body)
        events = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(events, list):
            raise Refused("no list of events")
        parsed: list[Any] = []
        for event in events:
            kind = repr(event.get("type") if isinstance(event, dict) else type(event).__name__)
            key = event.get("webhookEventId") if isinstance(event, dict) else None
            if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH or not (
                key.isascii() and key.isprintable()
            ):
                log.info("LINE event of type %.40s skipped: no usable webhookEventId", kind)
                continue
            try:
                read = Event.from_dict(event)
            except Exception as exc:  # an event type newer than the SDK, or a malformed one
                log.info("LINE event of type %.40s skipped (%s)", kind, type(exc).__name__)
                continue
            data = getattr(getattr(read, "postback", None), "data", None)
            if isinstance(data, str) and len(data) > 300:  # LINE's limit on postback data
                log.info("LINE postback skipped: data over 300 characters")
                continue
            parsed.append(read)
        return parsed

    def accept(self, event: Any) -> bool:
        """Queue `event`, to be answered once claimed (`claimed_first`: a redelivery is then
        dropped); False when it is a stranger's that gets no answer. A stranger's event is
        decided before any of that (`_stranger`): no claim, and a task only for the few
        refusals the pace allows."""
        source = getattr(event, "source", None)
        user_id = getattr(source, "user_id", None)
        if user_id:
            user = self.inbound.user(CHANNEL, str(user_id))
            if user.role is Role.STRANGER:
                return self._stranger(event, user)
        key = getattr(event, "webhook_event_id", None)
        answer: Work = partial(self.process, event)
        if key:
            answer = claimed_first(self.db, CHANNEL, key, self.clock(), answer)
        self.work.spawn(f"{CHANNEL}:{_chat_id(source) or key}", answer)
        return True

    def _stranger(self, event: Any, user: User) -> bool:
        """Queue the refusal a stranger may hear now, or drop the event: this process's gate
        decides at once, the workers' shared gate in the queued task."""
        source = getattr(event, "source", None)
        in_group = isinstance(source, GroupSource | RoomSource)
        tapped = isinstance(event, PostbackEvent)
        speaks = tapped or isinstance(event, FollowEvent) or (
            isinstance(event, MessageEvent)
            and (not in_group or _typed(event).lstrip().startswith("/"))
        )
        if not speaks or not self.inbound.strangers.admit(user):
            return False
        chat = _chat_id(source) or user.user_id

        async def refuse() -> None:
            reply = await self.inbound.shared_refusal(user)
            if reply is None:
                return
            if tapped:
                await self._to_tapper(event, user, notice(reply))
            else:
                await self._send(event, chat, user, reply)

        self.work.spawn(f"{CHANNEL}:{chat}", refuse)
        return True

    async def process(self, event: Any) -> None:
        """Answer one event; never raises (a failure is logged, the event is done)."""
        try:
            await self._answer(event)
        except Exception:
            log.exception("LINE %s event failed", getattr(event, "type", "?"))

    async def _answer(self, event: Any) -> None:
        source = getattr(event, "source", None)
        user_id = getattr(source, "user_id", None)
        chat = _chat_id(source)
        if not user_id or not chat:
            return  # unfollow, leave, or someone in a group LINE does not name
        user = self.inbound.user(CHANNEL, user_id)
        in_group = isinstance(source, GroupSource | RoomSource)
        reply: Reply | None = None
        if isinstance(event, FollowEvent):
            reply = await self.inbound.welcome(user)
        elif isinstance(event, PostbackEvent):
            data = event.postback.data or ""
            refused = await self.inbound.tap_notice(user, data)
            if refused is not None:
                await self._to_tapper(event, user, refused)
                return
            reply = await self.inbound.tap(user, data)
        elif isinstance(event, MessageEvent):
            if isinstance(event.message, TextMessageContent):
                text = event.message.text or ""
                if in_group and not text.lstrip().startswith("/"):
                    return  # people talking to each other
                reply = await self.inbound.text(user, text)
            elif not in_group:
                reply = await self.inbound.not_text(user)
        if reply is not None:
            reply = replace(reply, owner_tag=self.inbound.tag_for(user))
            await self._send(event, chat, user, reply)

    # -- replies out -----------------------------------------------------------------------------

    async def _to_tapper(self, event: Any, user: User, reply: Reply) -> None:
        """A notice for the person who tapped alone: the reply in a 1:1 chat, a push to them
        (never to the group) when the tap was in a group or room."""
        source = getattr(event, "source", None)
        if isinstance(source, GroupSource | RoomSource):
            with speaking(reply.language or await self.inbound.language(user)):
                messages = line_messages(reply, image_url=None, quick=False)
            await push(self.client, messages, to=user.user_id)
            return
        await self._send(event, user.user_id, user, reply)

    async def _send(self, event: Any, chat: str, user: User, reply: Reply) -> None:
        image_url = await self._chart_url(reply)
        links = await self._download_links(reply)
        with speaking(reply.language or await self.inbound.language(user)):  # e.g. a cut card
            messages = line_messages(reply, image_url=image_url,
                                     quick=user.role >= Role.VIEWER, links=links)
        happened_ms = getattr(event, "timestamp", None)
        await reply_or_push(
            self.client,
            messages,
            to=chat,
            reply_token=getattr(event, "reply_token", None),
            age_s=time.time() - happened_ms / 1000 if happened_ms else 0.0,
        )

    async def _download_links(self, reply: Reply) -> tuple[str, ...]:
        """A one-time link per file, valid for `DOWNLOAD_TTL` (LINE cannot carry a file)."""
        if not reply.documents or not self.public_url:
            return ()
        expires = self.clock() + DOWNLOAD_TTL
        tokens = [await self.db.run(downloads.offer, self.db, path, expires)
                  for path in reply.documents]
        return tuple(f"{self.public_url}/downloads/{token}" for token in tokens)

    async def _chart_url(self, reply: Reply) -> str | None:
        if reply.image is None or not self.public_url:
            return None
        try:
            served = await asyncio.to_thread(_chart_in, self.charts, reply.image)
        except OSError as exc:
            log.warning("chart %s cannot be served: %s", reply.image.name, exc)
            return None
        return f"{self.public_url}/charts/{served.name}"


def _typed(event: Any) -> str:
    message = getattr(event, "message", None)
    return str(message.text or "") if isinstance(message, TextMessageContent) else ""


def _chat_id(source: Any) -> str | None:
    """Where a reply goes: the group or room it came from, else the user."""
    if isinstance(source, GroupSource):
        return str(source.group_id)
    if isinstance(source, RoomSource):
        return str(source.room_id)
    user_id = getattr(source, "user_id", None)
    return str(user_id) if user_id else None
