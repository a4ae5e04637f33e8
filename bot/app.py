"""The ASGI app `dcabot serve` and `dcabot run` put on uvicorn.

    POST /webhook/telegram    Telegram updates (secret header)        -> bot.chat.webhooks
    POST /webhook/line        LINE events (signed body)                -> bot.chat.webhooks
    GET  /health              "ok" or "degraded"; details for loopback or the health token
    GET  /metrics             Prometheus figures (bot.metrics); the metrics token, or loopback
    GET  /charts/<id>.png     chart images, which LINE fetches by URL
    GET  /downloads/<token>   a page with a download button (a preview never uses the link)
    POST /downloads/<token>   the export, once, within 10 minutes of being offered (LINE)

The lifespan makes the data folder private, builds the engine (and the scheduler for `run`),
then the chat channels inside the running loop, and on shutdown drains the replies in flight
before closing them all. Every hour it forgets old update claims (by age and by count).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import logging
import re
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot import __version__
from bot.chat.channels import ChatChannels, open_channels
from bot.chat.confirmations import KEEP_AFTER_EXPIRY
from bot.chat.line_channel import charts_folder
from bot.chat.strangers import REFUSAL_INTERVAL
from bot.chat.webhooks import line_webhook, telegram_webhook
from bot.config import Settings
from bot.engine.context import Clock, Engine, system_clock
from bot.metrics import AppMetrics
from bot.notify.health import alert_health, configured_channels, health_json
from bot.runtime import running_bot
from bot.web_access import sees_details
from storage import confirmations, downloads, strangers
from storage.db import Database
from storage.inbound import forget_beyond_newest, forget_processed_before

log = logging.getLogger(__name__)

CHART_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
KEEP_CLAIMS = timedelta(days=7)  # Telegram and LINE stop redelivering within a day
KEEP_CLAIMS_PER_CHANNEL = 100_000  # and never more than this many, however fast they come
PRUNE_EVERY_S = 3600.0
# A request relayed by a proxy carries one of these; its socket peer says nothing of the caller.
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
        await asyncio.to_thread(_keep_data_private, settings)
        async with running_bot(
            settings, schedule=schedule, clock=clock, dispatch=dispatch
        ) as runtime:
            chat = await open_channels(settings, runtime, polling=polling)
            app.state.chat = chat
            metrics.start(runtime)
            engine = runtime.services.engine
            runtime.supervisor.start("prune-updates", lambda: _forget_old_claims(engine))
            try:
                yield
            finally:
                metrics.stop()
                await chat.close()

    metrics = AppMetrics(settings.metrics_token.get_secret_value())
    routes = [
        Route("/webhook/telegram", telegram_webhook, methods=["POST"]),
        Route("/webhook/line", line_webhook, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics.endpoint, methods=["GET"]),
        Route("/charts/{chart_id}.png", chart, methods=["GET"]),
        Route("/downloads/{token}", download_page, methods=["GET"]),
        Route("/downloads/{token}", download, methods=["POST"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _keep_data_private(settings: Settings) -> None:
    """A new data folder is made 0700; the charts folder (0700) and its PNGs (0600) are made
    private whatever an older version or a looser umask left (the database files are made so
    by `storage.db`, the master key file is written 0600). A data folder that already exists is
    the owner's to set: it is only warned about when others may enter it."""
    data = settings.data_dir
    try:
        if not data.exists():
            data.mkdir(parents=True, exist_ok=True)
            data.chmod(0o700)
        elif (mode := stat.S_IMODE(data.stat().st_mode)) & 0o077:
            log.warning("data folder %s is open to others (mode %o); chmod 700 it", data, mode)
        charts = charts_folder(settings)
        if charts.is_dir():
            charts.chmod(0o700)
            for png in charts.glob("*.png"):
                with contextlib.suppress(FileNotFoundError):  # pruned meanwhile
                    png.chmod(0o600)
    except OSError as exc:
        log.warning("could not make the data folder %s private: %s", data, exc)


async def _forget_old_claims(engine: Engine) -> None:
    while True:
        try:
            db = engine.db
            dropped = await db.run(forget_processed_before, db, engine.clock() - KEEP_CLAIMS)
            dropped += await db.run(forget_beyond_newest, db, KEEP_CLAIMS_PER_CHANNEL)
            dropped += await db.run(downloads.forget_before, db, engine.clock())
            dropped += await db.run(_forget_answered, engine)
            log.debug("forgot %d old update claims", dropped)
        except Exception as exc:  # the database may be down for a while; try again later
            log.warning("could not prune processed updates: %s", type(exc).__name__)
        await asyncio.sleep(PRUNE_EVERY_S)


def _forget_answered(engine: Engine) -> int:
    """Confirmations long expired, and strangers' refusals that hold nothing back any more."""
    now = engine.clock()
    return confirmations.forget_expired_before(
        engine.db, now - KEEP_AFTER_EXPIRY
    ) + strangers.forget_refused_before(engine.db, now - REFUSAL_INTERVAL)


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
    report: dict[str, Any] = {"name": engine.exchange.name, "mode": engine.mode}
    gate = getattr(engine.exchange, "gate", None)
    if gate is not None:
        report["paused_until"] = _plain(gate.paused_until)
        report["pause_reason"] = gate.reason or None
        report["used_weight_1m"] = gate.used_weight
    time = getattr(engine.exchange, "time", None)
    if time is not None:
        report["clock_offset_ms"] = time.offset_ms
    circuit_state = getattr(engine.exchange, "circuit_state", None)
    if callable(circuit_state):
        state = circuit_state()
        if dataclasses.is_dataclass(state) and not isinstance(state, type):
            report["circuit"] = _plain(dataclasses.asdict(state))
        else:
            report["circuit"] = _plain(state)
    return report


async def health(request: Request) -> Response:
    """`{"status": "ok"}` (200) or `{"status": "degraded"}` (503, the database does not answer)
    for anyone; the version, database, scheduler, exchange and its breaker, channels, replies in
    flight and alerts only for `sees_details`."""
    chat: ChatChannels = request.app.state.chat
    engine = chat.runtime.services.engine
    scheduler = chat.runtime.scheduler
    database_ok = await engine.db.run(_database_answers, engine.db)
    schedule = scheduler.health() if scheduler is not None else {"role": "off", "degraded": False}
    tasks = chat.runtime.supervisor.health()
    restarting = any(task["state"] != "running" for task in tasks.values())
    healthy = database_ok and not schedule["degraded"] and not restarting
    status_code = 200 if healthy else 503
    if not sees_details(request, chat.settings.health_token.get_secret_value()):
        return JSONResponse({"status": "ok" if healthy else "degraded"}, status_code)
    alerts = (
        health_json(
            await engine.db.run(
                alert_health, engine.db, configured_channels(engine.settings), engine.clock()
            )
        )
        if database_ok
        else None
    )
    body = {
        "status": "ok" if healthy else "degraded",
        "version": __version__,
        "database": "ok" if database_ok else "unreachable",
        "scheduler": schedule["role"],
        "jobs": schedule.get("jobs", {}),
        "tasks": tasks,
        "exchange": _exchange_health(engine),
        "exchanges": [_exchange_health(e) for e in chat.runtime.services.accounts],
        "channels": chat.status(),
        "replies_in_flight": chat.work.in_flight,
        "alerts": alerts,
    }
    return JSONResponse(body, status_code)


GONE = {"error": "this link was used already, expired or never existed"}
DOWNLOAD_PAGE = (
    "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>"
    "<title>dcabot export</title><form method=post><p>{name}</p>"
    "<button type=submit>Download</button></form>"
)


async def download_page(request: Request) -> Response:
    """A link opened (or previewed, or asked with HEAD): a page with a button that downloads.
    Only the button's POST takes the link, so a chat app's preview never uses it up."""
    chat: ChatChannels = request.app.state.chat
    engine = chat.runtime.services.engine
    token = str(request.path_params.get("token", ""))
    path = await engine.db.run(downloads.peek, engine.db, token, engine.clock())
    if path is None:
        return JSONResponse(GONE, status_code=404)
    return HTMLResponse(DOWNLOAD_PAGE.replace("{name}", html.escape(path.name)),
                        headers={"Cache-Control": "no-store"})


async def download(request: Request) -> Response:
    """An export by its one-time link: served once, within its 10 minutes, then gone."""
    chat: ChatChannels = request.app.state.chat
    engine = chat.runtime.services.engine
    token = str(request.path_params.get("token", ""))
    path = await engine.db.run(downloads.take, engine.db, token, engine.clock())
    if path is None or not await asyncio.to_thread(path.is_file):
        return JSONResponse(GONE, status_code=404)
    return FileResponse(path, media_type="text/csv", filename=path.name,
                        headers={"Cache-Control": "no-store"})


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
