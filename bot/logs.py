"""Where the log goes: the console and a rotating file in the data dir, secrets redacted.

`dcabot` calls `console_only` as it starts (stderr; all it has while the settings are unread or
invalid), then `setup_logging` once the settings are loaded:

* the console: stdout for a service (`dcabot serve`, and `dcabot run` unless this terminal is
  its chat), stderr for everything else, whose stdout is the chat or the command's output;
  `dcabot chat` shows only warnings there (the file still gets INFO);
* the file: `DCABOT_LOG_FILE` (`<data dir>/logs/dcabot.log`; a relative path is inside the data
  dir, `off` or blank disables it), rotated at `DCABOT_LOG_MAX_MB` with `DCABOT_LOG_BACKUPS`
  old files (`.1` the newest), private (0600 in a 0700 folder), opened at the first line;
* `DCABOT_LOG_FORMAT`: `text`, or `json` (one object a line: time, level, logger, message,
  exception) on both.

Every handler carries `RedactSecrets` (bot.log_redaction), so no record from any logger writes
a configured secret or a credential-shaped string.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from concurrent_log_handler import ConcurrentRotatingFileHandler
from pydantic import SecretStr

from bot.config import SECRET_VARIABLES, VARIABLES, Settings
from bot.config_service import LogFormat
from bot.log_redaction import RedactSecrets, forget_secrets, remember_secret

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MEGABYTE = 1024 * 1024
# Libraries that say a line per request at INFO: warnings only, unless -v asks for detail.
NOISY = ("alembic", "httpx", "apscheduler", "linebot", "telegram", "aiohttp")

_installed: list[logging.Handler] = []


class JsonLines(logging.Formatter):
    """One JSON object a line: `time` (UTC, ISO 8601), `level`, `logger`, `message`, and
    `exception` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


class PrivateRotatingFile(logging.Handler):
    """A rotating log file made 0600 in a 0700 folder, both created at the first line (a
    command that logs nothing leaves no folder), shared safely by every process that logs to
    it (the leader, web workers, `dcabot chat`): concurrent-log-handler rotates under a lock
    file beside it, where the standard handler lets processes overwrite each other's backups.

    With no backups (`backup_count` 0) the file is emptied when full. A file that cannot be
    written is said once on stderr and then left alone: the console still has the log."""

    def __init__(self, path: Path, *, max_bytes: int, backup_count: int) -> None:
        super().__init__()
        self.path, self.max_bytes, self.backup_count = path, max_bytes, backup_count
        self.baseFilename = str(path)
        self.failed = False
        self._file: ConcurrentRotatingFileHandler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        try:
            if self._file is None:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                self._file = ConcurrentRotatingFileHandler(
                    self.baseFilename, maxBytes=self.max_bytes, backupCount=self.backup_count,
                    encoding="utf-8", chmod=0o600,
                )
                self._file.handleError = self.handleError  # type: ignore[method-assign]
            self._file.setFormatter(self.formatter)
            self._file.emit(record)
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()

    def handleError(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        self.failed = True
        reason = sys.exc_info()[1]
        detail = getattr(reason, "strerror", None) or type(reason).__name__
        sys.stderr.write(
            f"dcabot: cannot write the log file {self.baseFilename} ({detail}); "
            "logging to the console only\n"
        )


def log_file_path(settings: Settings) -> Path | None:
    """The log file, or None when `DCABOT_LOG_FILE` turns it off."""
    if not settings.log_file:
        return None
    path = Path(settings.log_file).expanduser()
    return path if path.is_absolute() else settings.data_dir / path


def _precious(settings: Settings, path: Path) -> bool:
    """Whether `path` is a file log lines would ruin: the SQLite database (and its journals)
    or the master key file."""
    from sqlalchemy.engine import make_url

    from bot.engine.exchange_keys import master_key_source
    from storage.db import normalise_url

    kept: list[Path] = [master_key_source(settings).key_file]
    parsed = make_url(normalise_url(settings.effective_database_url))
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        database = Path(str(parsed.database))
        kept += [database, *(Path(f"{database}{end}") for end in ("-wal", "-shm", "-journal"))]
    target = path.resolve()
    return any(target == p.expanduser().resolve() for p in kept)


def configured_secrets(settings: Settings) -> list[str]:
    """The values of the secret settings that are set (and the webhook secret derived from the
    bot token, the password in DATABASE_URL)."""
    found: list[str] = []
    for field, variable in VARIABLES.items():
        if variable not in SECRET_VARIABLES or variable == "DATABASE_URL":
            continue
        value = getattr(settings, field, "")
        found.append(value.get_secret_value() if isinstance(value, SecretStr) else str(value))
    if settings.telegram_bot_token and not settings.telegram_webhook_secret:
        from bot.chat.telegram_channel import webhook_secret

        found.append(webhook_secret(settings))
    if settings.database_url:
        from sqlalchemy.engine import make_url

        from storage.db import normalise_url

        found.append(make_url(normalise_url(settings.database_url)).password or "")
    return [value for value in found if value]


def _handler(handler: logging.Handler, level: int, formatter: logging.Formatter) -> None:
    handler.setLevel(level)
    handler.setFormatter(formatter)
    handler.addFilter(RedactSecrets())
    logging.getLogger().addHandler(handler)
    _installed.append(handler)


def _levels(verbose: bool) -> None:
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in NOISY:  # with -v their request lines (URLs, redacted) are the detail asked for
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)


def console_only(*, verbose: bool, command: str) -> None:
    """Before the settings are read (or when they are invalid): stderr, text, redacted."""
    close_logging()
    _levels(verbose)
    level = logging.DEBUG if verbose else logging.WARNING if command == "chat" else logging.INFO
    _handler(logging.StreamHandler(sys.stderr), level, logging.Formatter(TEXT_FORMAT))


def setup_logging(
    settings: Settings, *, verbose: bool, command: str, terminal_chat: bool | None = None
) -> Path | None:
    """The console and the log file as the settings say; returns the file's path, if any.

    `terminal_chat`: `dcabot run` makes this terminal the chat (by default: when no chat token
    is set); it then logs to stderr like every command that is not a service."""
    close_logging()
    remember_secret(*configured_secrets(settings))
    _levels(verbose)
    json_lines = settings.log_format is LogFormat.JSON
    formatter = JsonLines() if json_lines else logging.Formatter(TEXT_FORMAT)
    if terminal_chat is None:
        terminal_chat = command == "chat" or not settings.chat_tokens_configured
    service = command == "serve" or (command == "run" and not terminal_chat)
    stream = sys.stdout if service else sys.stderr
    console = logging.DEBUG if verbose else logging.WARNING if command == "chat" else logging.INFO
    _handler(logging.StreamHandler(stream), console, formatter)
    path = log_file_path(settings)
    if path is not None and _precious(settings, path):
        logging.getLogger(__name__).error(
            "DCABOT_LOG_FILE=%s is the database or the master key file: logging to the console "
            "only (choose another path, e.g. DCABOT_LOG_FILE=logs/dcabot.log)", settings.log_file
        )
        path = None
    if path is not None:
        rotating = PrivateRotatingFile(
            path,
            max_bytes=max(1, int(settings.log_max_mb * MEGABYTE)),
            backup_count=settings.log_backups,
        )
        _handler(rotating, logging.DEBUG if verbose else logging.INFO, formatter)
    return path


def close_logging() -> None:
    """Remove and close the handlers installed here (others, e.g. pytest's, stay)."""
    root = logging.getLogger()
    while _installed:
        handler = _installed.pop()
        root.removeHandler(handler)
        handler.close()


def forget_configuration() -> None:
    """Close the handlers and forget the remembered secrets (tests that change settings)."""
    close_logging()
    forget_secrets()
