"""The `dcabot` command: `run`, `serve`, `chat`, `telegram`, `db upgrade`, `backtest`, `signal`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot import __version__, logs
from bot.config import Settings, SettingsError, load_settings
from bot.engine.errors import UserError

log = logging.getLogger("dcabot")


def _settings() -> Settings:
    return load_settings()


def cmd_chat(args: argparse.Namespace) -> int:
    """The terminal as the owner's chat, without a scheduler (`dcabot run` schedules)."""
    from bot.runtime import serve_terminal

    asyncio.run(serve_terminal(_settings(), schedule=False, greet=False))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    log.info(
        "dcabot %s starting: %s, %s, database %s",
        __version__,
        settings.exchanges_text,
        settings.symbol,
        settings.effective_database_url.split("@")[-1],
    )
    if (not settings.chat_tokens_configured and sys.stdin.isatty() and not args.headless
            and args.workers == 1):
        from bot.i18n import _, speaking

        with speaking(settings.language):  # the terminal's person reads DCABOT_LANGUAGE
            print(f"dcabot {__version__} · {settings.exchanges_text}\n"
                  + _("No chat tokens set, so this terminal is the chat.") + "\n"
                  + _("Try /status, /buy 50, /help; quit to leave.") + "\n", flush=True)
        from bot.runtime import serve_terminal

        asyncio.run(serve_terminal(settings, schedule=True, greet=True))
        return 0
    if not settings.chat_tokens_configured:  # a service (no terminal): the web part and schedule
        log.warning("no chat tokens set and no terminal: serving the scheduler, /health and "
                    "/metrics; talk to the bot with `dcabot chat`")
    return _serve(settings, args, schedule=True)


def cmd_serve(args: argparse.Namespace) -> int:
    """The web part alone (webhooks, health, charts): no scheduler, no terminal."""
    settings = _settings()
    if not settings.chat_tokens_configured:
        log.warning("no chat tokens set: serving /health and /charts only")
    return _serve(settings, args, schedule=False)


def _serve(settings: Settings, args: argparse.Namespace, *, schedule: bool) -> int:
    from bot.engine.setup import open_database
    from bot.serve import check_workers, serve_web, serve_workers

    polling = bool(getattr(args, "polling", False))
    check_workers(settings, args.workers, polling=polling)
    open_database(settings).dispose()  # an unreachable database: one line, before the server
    log.info(
        "serving on %s:%s (%s)%s%s",
        args.host,
        args.port,
        "webhooks and scheduler" if schedule else "webhooks only",
        ", Telegram by polling" if polling else "",
        f", {args.workers} workers" if args.workers > 1 else "",
    )
    if args.workers > 1:
        serve_workers(settings, host=args.host, port=args.port, schedule=schedule,
                      workers=args.workers, verbose=bool(args.verbose or args.debug))
        return 0
    run_loop = asyncio.run
    try:  # libuv's event loop when installed (uvicorn[standard]): less CPU per webhook
        import uvloop

        run_loop = uvloop.run
    except ImportError:
        pass
    run_loop(
        serve_web(settings, host=args.host, port=args.port, schedule=schedule, polling=polling)
    )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    import json

    from bot.replay import replay
    from strategies.candles import CandleDataError

    try:
        start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    except ValueError as exc:
        raise UserError(f"--start/--end must be YYYY-MM-DD: {exc}") from None
    try:
        gold = Path(args.gold_csv) if args.gold_csv else None
        summary = asyncio.run(
            replay(Path(args.csv), args.schedule, start, end, gold_csv=gold,
                   strategy=args.strategy)
        )
    except (OSError, CandleDataError) as exc:
        raise UserError(f"--csv {args.csv}: {exc}") from None
    fields = {
        k: (format(v, "f") if isinstance(v, Decimal) else v) for k, v in vars(summary).items()
    }
    if args.json:
        print(json.dumps(fields))
    else:
        for name, value in fields.items():
            print(f"{name:>18}  {value}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.engine.setup import open_database
    from storage.migrate import current_revision

    db = open_database(_settings())
    print(f"database at revision {current_revision(db)}")
    db.dispose()
    return 0


WORKERS_FLAG = ("--workers",)
WORKERS_HELP: dict[str, Any] = {
    "type": int,
    "default": 1,
    "metavar": "N",
    "help": "web worker processes on one port (PostgreSQL only; one scheduler leads among all)",
}


def build_parser() -> argparse.ArgumentParser:
    from bot.backtest_cli import add_backtest_parser, add_signal_parser
    from bot.backup import add_backup_parser
    from bot.books_cli import add_export_parser
    from bot.doctor import add_doctor_parser
    from bot.keys_cli import add_keys_parser
    from bot.line_cli import add_line_parser
    from bot.telegram_cli import add_telegram_parser

    parser = argparse.ArgumentParser(prog="dcabot", description=__doc__)
    parser.add_argument("--version", action="version", version=f"dcabot {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument(
        "--debug", action="store_true", help="log debug detail, with tracebacks of failures"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="run the bot (the terminal is the chat without tokens)")
    run.add_argument("--host", default="127.0.0.1", help="address of the webhook server")
    run.add_argument("--port", type=int, default=8080, help="port of the webhook server")
    run.add_argument(
        "--polling",
        action="store_true",
        help="fetch Telegram updates by long polling (no public HTTPS address needed)",
    )
    run.add_argument(
        "--headless",
        action="store_true",
        help="never use this terminal as the chat (a service; implied when stdin is no terminal)",
    )
    run.add_argument(*WORKERS_FLAG, **WORKERS_HELP)
    run.set_defaults(func=cmd_run)
    serve = sub.add_parser("serve", help="serve the webhooks only (no scheduler)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on")
    serve.add_argument(*WORKERS_FLAG, **WORKERS_HELP)
    serve.set_defaults(func=cmd_serve)
    chat = sub.add_parser("chat", help="talk to the bot in this terminal, as its owner")
    chat.set_defaults(func=cmd_chat)
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="apply migrations (also done at every start)")
    upgrade.set_defaults(func=cmd_db_upgrade)
    add_backtest_parser(sub)
    add_signal_parser(sub)
    add_keys_parser(sub)
    add_telegram_parser(sub)
    add_line_parser(sub)
    add_doctor_parser(sub)
    add_backup_parser(sub)
    add_export_parser(sub)
    replay = sub.add_parser("replay", help="run the real engine over historical candles")
    replay.add_argument("--csv", required=True, help="daily candles CSV")
    replay.add_argument("--gold-csv", help="gold (PAXG/USDT) daily candles, for S4")
    replay.add_argument("--strategy", metavar="dca|cdc|s4",
                        help="the schedule's strategy (default cdc; s4 with --gold-csv)")
    replay.add_argument("--schedule", required=True, help="'<days> <HH:MM> <amount>'")
    replay.add_argument("--start", required=True, help="YYYY-MM-DD")
    replay.add_argument("--end", required=True, help="YYYY-MM-DD")
    replay.add_argument("--json", action="store_true", help="one JSON object")
    replay.set_defaults(func=cmd_replay)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)  # every file and folder the bot creates (database, charts, keys) is private
    args = build_parser().parse_args(argv)
    verbose = bool(args.verbose or args.debug)
    logs.console_only(verbose=verbose, command=args.command)
    # the log file needs the data dir: invalid settings leave stderr alone (and stop below)
    with contextlib.suppress(SettingsError):
        settings = load_settings()
        terminal_chat = args.command == "chat" or (
            not settings.chat_tokens_configured  # `dcabot run` as cmd_run decides it
            and sys.stdin.isatty()
            and not getattr(args, "headless", False)
        )
        logs.setup_logging(
            settings, verbose=verbose, command=args.command, terminal_chat=terminal_chat
        )
    try:
        code: int = args.func(args)
    except SettingsError as exc:
        print(f"dcabot: {exc}", file=sys.stderr)
        return 2
    except UserError as exc:
        print(f"dcabot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug or an outage nobody caught: one line, unless --debug
        if args.debug:
            raise
        from bot.log_redaction import redact

        reason = redact(str(exc).splitlines()[0][:300]) if str(exc) else ""
        print(
            f"dcabot: {args.command} stopped: {type(exc).__name__}: {reason} "
            "(run with --debug for the details)",
            file=sys.stderr,
        )
        return 1
    finally:
        logs.close_logging()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
