"""Settings for running dcabot as a service: log files, metrics, where the master key lives.

`Settings` (bot/config.py) inherits these; they are read from the same environment and `.env`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings

from bot import config_checks as checks

LOG_FILE = "logs/dcabot.log"  # inside the data dir
_FIAT = re.compile(r"[A-Z]{3}")
_LOCAL_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
LOG_FILE_OFF = "off"


class LogFormat(StrEnum):
    """How a log line looks: `text` for people, `json` (one object a line) for log shippers."""

    TEXT = "text"
    JSON = "json"


def _env(name: str, default: Any, **extra: Any) -> Any:
    return Field(default=default, validation_alias=AliasChoices(name), **extra)


class ServiceSettings(BaseSettings):
    """Log, metrics and key-file settings (one concern: how the bot runs as a service)."""

    # the fields are added by the features that read them (logs, metrics, master key file)
    master_key_file: Path | None = _env("DCABOT_MASTER_KEY_FILE", default=None)

    @field_validator("master_key_file", mode="before")
    @classmethod
    def _blank_key_file(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("master_key_file")
    @classmethod
    def _master_key_file(cls, value: Path | None) -> Path | None:
        return None if value is None else check_key_file_path(value)

    # logs (bot/logs.py): the console, and a rotating file in the data dir
    log_file: str = _env("DCABOT_LOG_FILE", default=LOG_FILE)
    log_max_mb: float = _env("DCABOT_LOG_MAX_MB", default=5.0)  # ranges: config_checks
    log_backups: int = _env("DCABOT_LOG_BACKUPS", default=5)
    log_format: LogFormat = _env("DCABOT_LOG_FORMAT", default=LogFormat.TEXT)
    # metrics (bot/metrics.py): the bearer token `/metrics` asks for, if any
    metrics_token: SecretStr = _env("DCABOT_METRICS_TOKEN", default=SecretStr(""))
    # looking after it (bot/scheduler.py): a daily summary at a local time, a monitor pinged
    daily_summary_at: str = _env("DCABOT_DAILY_SUMMARY", default="")
    heartbeat_url: str = _env("DCABOT_HEARTBEAT_URL", default="")

    # display (bot/engine/fiat.py): values also in the owner's money, with the rate's source
    display_fiat: str = _env("DCABOT_DISPLAY_FIAT", default="")
    fiat_rate: Decimal | None = _env("DCABOT_FIAT_RATE", default=None)
    fiat_market: str = _env("DCABOT_FIAT_MARKET", default="", validate_default=True)

    @field_validator("display_fiat")
    @classmethod
    def _display_fiat(cls, value: str) -> str:
        text = value.strip()
        if text and not _FIAT.fullmatch(text):
            raise ValueError("must be a currency code of 3 capital letters, e.g. THB, or empty")
        return text

    @field_validator("fiat_rate", mode="before")
    @classmethod
    def _blank_rate(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("fiat_rate")
    @classmethod
    def _fiat_rate(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not (value.is_finite() and Decimal(0) < value < Decimal(10**7)):
            raise ValueError("must be the price of 1 USDT in your money, above 0, e.g. 36.5")
        return value

    @field_validator("fiat_market")
    @classmethod
    def _fiat_market(cls, value: str, info: ValidationInfo) -> str:
        text, fiat = value.strip(), info.data.get("display_fiat") or ""
        if text and not (fiat and text == f"USDT/{fiat}"):
            raise ValueError("must be USDT/<DCABOT_DISPLAY_FIAT>, a market of the first "
                             "exchange (e.g. USDT/THB), or empty for DCABOT_FIAT_RATE only")
        if fiat and not text and info.data.get("fiat_rate") is None:
            raise ValueError(f"must be set (or DCABOT_FIAT_RATE) to show values in {fiat}, e.g. "
                             f"USDT/{fiat}")
        return text

    @field_validator("daily_summary_at")
    @classmethod
    def _daily_summary_at(cls, value: str) -> str:
        text = value.strip()
        if text and not _LOCAL_TIME.fullmatch(text):
            raise ValueError("must be a local time HH:MM (24-hour), e.g. 21:00, or empty for none")
        return text

    @field_validator("heartbeat_url")
    @classmethod
    def _heartbeat_url(cls, value: str) -> str:
        return checks.check_url(value, empty_means="no heartbeat")

    @field_validator("log_file")
    @classmethod
    def _log_file(cls, value: str) -> str:
        return check_log_file(value)

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: SecretStr) -> SecretStr:
        checks.check_bearer_token(value.get_secret_value())
        return value


def check_key_file_path(path: Path) -> Path:
    """A path a key file can be at: not a directory, and its nearest existing folder a folder."""
    if "\x00" in str(path):
        raise ValueError("cannot contain a NUL byte")
    path = path.expanduser()
    if not path.is_absolute():
        raise ValueError(
            f"must be an absolute path (not {str(path)!r}, which would depend on the folder the "
            "bot starts in), e.g. DCABOT_MASTER_KEY_FILE=/etc/dcabot/master.key"
        )
    try:
        if path.is_dir():
            raise ValueError("is a directory; give the path of the key file in it")
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise ValueError(f"cannot be made: {parent} is a file, not a folder")
                break
    except OSError as exc:  # a name too long, no permission to look
        raise ValueError(f"cannot be used: {exc.strerror}") from None
    return path


def check_log_file(value: str) -> str:
    """Blank or `off` (no log file, said as ""), a path inside the data dir, or an absolute path
    whose nearest existing folder is a folder; never a directory."""
    value = value.strip()
    if not value or value.lower() == LOG_FILE_OFF:
        return ""
    path = Path(value)
    if path.is_absolute():
        try:
            check_key_file_path(path)
        except ValueError as exc:
            raise ValueError(str(exc).replace("key file", "log file")) from None
    elif ".." in path.parts:
        raise ValueError("must stay inside the data dir (no ..), or be an absolute path")
    return value
