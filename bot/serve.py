"""`dcabot serve` and `dcabot run` as a service: the web app on uvicorn until SIGINT/SIGTERM.
The composition root of the web part: it builds the app, which builds its runtime."""

from __future__ import annotations

import signal

from bot.config import Settings


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


async def serve_web(
    settings: Settings, *, host: str, port: int, schedule: bool, polling: bool = False
) -> None:
    """The webhook app on uvicorn (with the scheduler when `schedule`), until SIGINT/SIGTERM."""
    import uvicorn

    from bot.app import create_app
    from bot.chat.channels import check_chat_settings
    from bot.engine.errors import UserError

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
