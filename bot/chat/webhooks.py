"""`POST /webhook/telegram` and `POST /webhook/line`: check, claim, acknowledge, run later.

Before anything is parsed the request must prove it comes from the platform: Telegram's secret
header (compared in constant time) or LINE's signature over the raw bytes; otherwise 401 and
nothing happens. A body over 1 MB is 413; one that is not the platform's JSON is 400, and so is
JSON nested deeper than `MAX_DEPTH` (found by a linear scan before any parser recurses) or an
update the platform could not have sent (the 400 names the problem); none is processed. A good
update is claimed (a replay is acknowledged and dropped) and queued, and the platform gets its 200
at once, however long the command will take. An authenticated request never gets a 500.
"""

from __future__ import annotations

import json
import logging
import re
from itertools import accumulate
from typing import TYPE_CHECKING

from linebot.v3.exceptions import InvalidSignatureError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:  # the channels import this module's `load_json`
    from bot.chat.channels import ChatChannels

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
MAX_DEPTH = 32  # Telegram's and LINE's JSON is a handful of levels deep
TELEGRAM_SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header name)
LINE_SIGNATURE_HEADER = "x-line-signature"

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # escapes included
_NOT_BRACKET = bytes(range(256)).translate(None, b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class BodyTooLarge(Exception):
    pass


class Refused(ValueError):
    """A body refused with 400; the message is the short reason sent back (never the input)."""


def nests_deeper_than(body: bytes, limit: int) -> bool:
    """Whether arrays and objects in the JSON `body` nest deeper than `limit` levels.

    Linear, and in C: strings go first (a quote escaped by a backslash does not end one), then
    all but the brackets, and the running sum of +1/-1 peaks at the depth. A body that is not
    JSON may be over-counted, a valid one never under-counted. Read UTF-8: no byte of a
    multi-byte UTF-8 character is a quote, a backslash or a bracket."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # cannot nest deeper than it has brackets: the usual, cheap answer
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def load_json(body: bytes) -> object:
    """`body` as UTF-8 JSON; ValueError when it is not, `Refused` when nested too deep."""
    text = body.decode("utf-8")  # both platforms send UTF-8; UnicodeDecodeError otherwise
    too_deep = Refused(f"JSON nested deeper than {MAX_DEPTH} levels")
    if nests_deeper_than(body, MAX_DEPTH):
        raise too_deep
    try:
        return json.loads(text)
    except RecursionError:  # the scan makes it impossible; were it not, still no 500
        raise too_deep from None


def _refused(what: str, exc: ValueError) -> Response:
    """400 with the reason when it is one of ours (a parser's own message may quote the input)."""
    reason = str(exc) if isinstance(exc, Refused) else type(exc).__name__
    log.info("%s webhook: bad request (%s)", what, reason)
    detail = "not a LINE webhook" if what == "LINE" else "not a Telegram update"
    return _problem(400, f"{detail}: {exc}" if isinstance(exc, Refused) else detail)


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
        update = channel.parse(load_json(await read_body(request)))
    except BodyTooLarge:
        return _problem(413, "body over 1 MB")
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return _refused("Telegram", exc)
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
        events = channel.parse(await read_body(request), signature)  # checks the raw bytes first
    except BodyTooLarge:
        return _problem(413, "body over 1 MB")
    except InvalidSignatureError:
        return _problem(401, "wrong signature")
    except ValueError as exc:
        return _refused("LINE", exc)
    if chat.work.full:
        return _busy()
    for event in events:
        channel.accept(event)
    return Response(status_code=200)
