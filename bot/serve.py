"""`dcabot serve` and `dcabot run` as a service: the web app on uvicorn until SIGINT/SIGTERM.
The composition root of the web part: it builds the app, which builds its runtime.

With `--workers N` (PostgreSQL only) uvicorn's own supervisor runs N worker processes on one
socket and starts a new one when a worker dies; each worker builds the whole runtime from the
environment (`worker_app`): webhooks, its alert dispatcher and, for `dcabot run`, a scheduler
that serves only while it holds the leader lock, so exactly one leads among all processes.
"""

from __future__ import annotations

import os
import signal

from starlette.applications import Starlette

from bot.config import Settings, load_settings
from bot.engine.errors import UserError

WORKER_ROLE = "DCABOT_WORKER_ROLE"  # set by the parent for its workers: "run" or "serve"
WORKER_VERBOSE = "DCABOT_WORKER_VERBOSE"


def check_workers(settings: Settings, workers: int, *, polling: bool) -> None:
    """Refuse, in one line, what several workers cannot do."""
    if workers < 1 or workers > 64:
        raise UserError(f"--workers {workers}: give 1 to 64 worker processes")
    if workers == 1:
        return
    if settings.effective_database_url.startswith("sqlite"):
        raise UserError(
            f"--workers {workers} needs PostgreSQL (DATABASE_URL): a SQLite file takes one "
            "writer at a time, so run one worker on SQLite"
        )
    if polling:
        raise UserError(f"--workers {workers} cannot poll Telegram: only one process may "
                        "take its updates; use the webhook (PUBLIC_URL) or one worker")


def serve_workers(
    settings: Settings, *, host: str, port: int, schedule: bool, workers: int, verbose: bool
) -> None:
    """N worker processes on one socket (uvicorn's supervisor), until SIGINT/SIGTERM."""
    import uvicorn

    from bot.chat.channels import check_chat_settings

    check_chat_settings(settings)
    os.environ[WORKER_ROLE] = "run" if schedule else "serve"
    os.environ[WORKER_VERBOSE] = "1" if verbose else ""
    uvicorn.run(
        "bot.serve:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=True,
    )


def worker_app() -> Starlette:
    """One worker's app, built in the worker process from the environment its parent set."""
    from bot import logs
    from bot.app import create_app

    role = os.environ.get(WORKER_ROLE, "serve")
    settings = load_settings()
    logs.setup_logging(settings, verbose=bool(os.environ.get(WORKER_VERBOSE)), command=role,
                       terminal_chat=False)
    return create_app(settings, schedule=role == "run")


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


async def serve_web(
    settings: Settings, *, host: str, port: int, schedule: bool, polling: bool = False
) -> None:
    """The webhook app on uvicorn (with the scheduler when `schedule`), until SIGINT/SIGTERM."""
    import uvicorn

    from bot.app import create_app
    from bot.chat.channels import check_chat_settings

    check_chat_settings(settings)
    app = create_app(settings, schedule=schedule, polling=polling)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # the root logger `dcabot` configured
        access_log=False,
        server_header=False,
        proxy_headers=True,
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises SIGTERM once it has shut down gracefully; make that a clean exit
    signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        await server.serve()
    except SystemExit as exc:
        if exc.code == 0:
            raise
        raise UserError(
            f"the web app did not start on {host}:{port}; the log above says why"
        ) from None
