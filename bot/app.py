"""The ASGI app `dcabot serve` and `dcabot run` put on uvicorn.

    POST /webhook/telegram    Telegram updates (secret header)        -> bot.chat.webhooks
    POST /webhook/line        LINE events (signed body)                -> bot.chat.webhooks
    GET  /health              database, scheduler role, exchange, channels, version (JSON)
    GET  /charts/<id>.png     chart images, which LINE fetches by URL

The lifespan builds the engine (and the scheduler for `run`), then the chat channels inside the
running loop, and on shutdown drains the replies in flight before closing them all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from bot import __version__
from bot.chat.channels import ChatChannels, open_channels
from bot.chat.line_channel import charts_folder
from bot.chat.webhooks import line_webhook, telegram_webhook
from bot.config import Settings
from bot.engine.context import Clock, Engine, system_clock
from bot.notify.health import alert_health, configured_channels, health_json
from bot.runtime import running_bot
from storage.db import Database
from storage.inbound import forget_processed_before

log = logging.getLogger(__name__)

CHART_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
KEEP_CLAIMS = timedelta(days=7)  # Telegram and LINE stop redelivering within a day
PRUNE_EVERY_S = 3600.0


def create_app(
    settings: Settings,
    *,
    schedule: bool = False,
    polling: bool = False,
    clock: Clock = system_clock,
    dispatch: bool = True,
) -> Starlette:
    """The web app; `schedule` adds the scheduler (`dcabot run`), `polling` takes Telegram
    updates by long polling instead of the webhook."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running_bot(
            settings, schedule=schedule, clock=clock, dispatch=dispatch
        ) as runtime:
            chat = await open_channels(settings, runtime, polling=polling)
            app.state.chat = chat
            pruning = asyncio.create_task(_forget_old_claims(runtime.services.engine))
            try:
                yield
            finally:
                pruning.cancel()
                await chat.close()

    routes = [
        Route("/webhook/telegram", telegram_webhook, methods=["POST"]),
        Route("/webhook/line", line_webhook, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/charts/{chart_id}.png", chart, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


async def _forget_old_claims(engine: Engine) -> None:
    while True:
        try:
            dropped = await asyncio.to_thread(
                forget_processed_before, engine.db, engine.clock() - KEEP_CLAIMS
            )
            log.debug("forgot %d old update claims", dropped)
        except Exception as exc:  # the database may be down for a while; try again later
            log.warning("could not prune processed updates: %s", type(exc).__name__)
        await asyncio.sleep(PRUNE_EVERY_S)


def _database_answers(db: Database) -> bool:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


def _exchange_health(engine: Engine) -> dict[str, Any]:
    """The exchange in use and, when it has a circuit breaker, the breaker's state."""
    report: dict[str, Any] = {"name": engine.settings.exchange, "mode": engine.mode}
    circuit_state = getattr(engine.exchange, "circuit_state", None)
    if callable(circuit_state):
        state = circuit_state()
        if dataclasses.is_dataclass(state) and not isinstance(state, type):
            report["circuit"] = _plain(dataclasses.asdict(state))
        else:
            report["circuit"] = _plain(state)
    return report


async def health(request: Request) -> Response:
    chat: ChatChannels = request.app.state.chat
    engine = chat.runtime.services.engine
    scheduler = chat.runtime.scheduler
    database_ok = await asyncio.to_thread(_database_answers, engine.db)
    alerts = (
        health_json(
            await asyncio.to_thread(
                alert_health, engine.db, configured_channels(engine.settings), engine.clock()
            )
        )
        if database_ok
        else None
    )
    body = {
        "status": "ok" if database_ok else "degraded",
        "version": __version__,
        "database": "ok" if database_ok else "unreachable",
        "scheduler": scheduler.role if scheduler is not None else "off",
        "exchange": _exchange_health(engine),
        "channels": chat.status(),
        "replies_in_flight": chat.work.in_flight,
        "alerts": alerts,
    }
    return JSONResponse(body, status_code=200 if database_ok else 503)


async def chart(request: Request) -> Response:
    """A chart PNG by its random id; nothing else in the data folder can be named."""
    chat: ChatChannels = request.app.state.chat
    chart_id = str(request.path_params.get("chart_id", ""))
    if not CHART_ID.fullmatch(chart_id):
        return JSONResponse({"error": "no such chart"}, status_code=404)
    path = charts_folder(chat.settings) / f"{chart_id}.png"
    if not await asyncio.to_thread(path.is_file):
        return JSONResponse({"error": "no such chart"}, status_code=404)
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "max-age=86400"})
