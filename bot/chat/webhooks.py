"""`POST /webhook/telegram` and `POST /webhook/line`: check, claim, acknowledge, run later.

Before anything is parsed the request must prove it comes from the platform: Telegram's secret
header (compared in constant time) or LINE's body signature; otherwise 401 and nothing happens.
A body over 1 MB is 413, one that is not the platform's JSON is 400; neither is processed. A
good update is claimed (a replay is acknowledged and dropped) and queued, and the platform gets
its 200 at once, however long the command will take.
"""

from __future__ import annotations

import json
import logging

from linebot.v3.exceptions import InvalidSignatureError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.chat.channels import ChatChannels

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
TELEGRAM_SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header name)
LINE_SIGNATURE_HEADER = "x-line-signature"


class BodyTooLarge(Exception):
    pass


def _problem(status: int, detail: str) -> Response:
    return JSONResponse({"error": detail}, status_code=status)


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, refused past `limit` bytes whatever Content-Length claims."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def _busy() -> Response:
    return Response(status_code=503, headers={"Retry-After": "5"})


async def telegram_webhook(request: Request) -> Response:
    chat: ChatChannels = request.app.state.chat
    channel = chat.telegram
    if channel is None or channel.polling:
        return _problem(404, "the Telegram webhook is not enabled here")
    if not chat.telegram_secret_matches(request.headers.get(TELEGRAM_SECRET_HEADER, "")):
        return _problem(401, "wrong or missing secret token")
    try:
        payload = json.loads(await read_body(request))
        update = channel.parse(payload)
    except BodyTooLarge:
        return _problem(413, "body over 1 MB")
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        log.info("telegram webhook: bad request (%s)", type(exc).__name__)
        return _problem(400, "not a Telegram update")
    if chat.work.full:
        return _busy()
    channel.accept(update)
    return Response(status_code=200)


async def line_webhook(request: Request) -> Response:
    chat: ChatChannels = request.app.state.chat
    channel = chat.line
    if channel is None:
        return _problem(404, "the LINE webhook is not enabled here")
    signature = request.headers.get(LINE_SIGNATURE_HEADER, "")
    if not signature:
        return _problem(401, "missing signature")
    try:
        body = (await read_body(request)).decode("utf-8")
        events = channel.parse(body, signature)
    except BodyTooLarge:
        return _problem(413, "body over 1 MB")
    except InvalidSignatureError:
        return _problem(401, "wrong signature")
    except ValueError as exc:
        log.info("line webhook: bad request (%s)", type(exc).__name__)
        return _problem(400, "not a LINE webhook")
    if chat.work.full:
        return _busy()
    for event in events:
        channel.accept(event)
    return Response(status_code=200)
