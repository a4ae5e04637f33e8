"""Settings, read once from the environment and an optional `.env` file.

Every setting has an environment variable; most are prefixed `DCABOT_`, the ones that other tools
already name (`DATABASE_URL`, the chat tokens) are not. A bad value stops start-up with one line
that names the variable, says what is wrong and shows a good value (`SettingsError`).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Mode(StrEnum):
    """Where orders go: a simulated account, the exchange's sandbox, or the real account."""

    PAPER = "paper"
    TESTNET = "testnet"
    LIVE = "live"


class PriceSource(StrEnum):
    """Where the paper exchange takes prices from when no candles CSV is given."""

    AUTO = "auto"  # the exchange's public ticker, or the simulated market when it is unreachable
    EXCHANGE = "exchange"  # the exchange's public ticker only
    SIMULATED = "simulated"  # the seeded simulated market only


CHANNELS = ("telegram", "line", "terminal")
TELEGRAM_API = "https://api.telegram.org"
LINE_API = "https://api.line.me"
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_\-]{1,256}$")
_PRINCIPAL = re.compile(r"^(telegram|line|terminal):[A-Za-z0-9_\-]+$")


def _split_principals(value: Any) -> Any:
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",") if part.strip()]
        for item in items:
            if not _PRINCIPAL.match(item):
                raise ValueError(
                    f"{item!r} is not channel:user_id with channel one of telegram, line"
                )
        return tuple(items)
    return value


def _env(name: str, default: Any) -> Any:
    return Field(default=default, validation_alias=AliasChoices(name))


class Settings(BaseSettings):
    """All of dcabot's settings. Build with `load_settings()` to get the one-line errors."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    data_dir: Path = _env("DCABOT_DATA_DIR", default=Path("data"))
    database_url: str = _env("DATABASE_URL", default="")
    mode: Mode = _env("DCABOT_MODE", default=Mode.PAPER)
    timezone: str = _env("DCABOT_TIMEZONE", default="UTC")
    admins: Annotated[tuple[str, ...], NoDecode] = _env("DCABOT_ADMINS", default=())
    viewers: Annotated[tuple[str, ...], NoDecode] = _env("DCABOT_VIEWERS", default=())
    exchange: str = _env("DCABOT_EXCHANGE", default="binance")
    symbol: str = _env("DCABOT_SYMBOL", default="BTC/USDT")
    quote: str = _env("DCABOT_QUOTE", default="USDT")
    paper_start_balance: Decimal = _env("DCABOT_PAPER_BALANCE", default=Decimal("10000"))
    taker_fee: Decimal = _env("DCABOT_TAKER_FEE", default=Decimal("0.001"))
    max_order: Decimal = _env("DCABOT_MAX_ORDER", default=Decimal("50000"))
    prices_csv: Path | None = _env("DCABOT_PRICES_CSV", default=None)
    gold_prices_csv: Path | None = _env("DCABOT_GOLD_PRICES_CSV", default=None)
    price_source: PriceSource = _env("DCABOT_PRICE_SOURCE", default=PriceSource.AUTO)
    simulated_seed: int = _env("DCABOT_SIMULATED_SEED", default=42)
    binance_api_url: str = _env("DCABOT_BINANCE_API_URL", default="")
    okx_api_url: str = _env("DCABOT_OKX_API_URL", default="")
    request_timeout_s: float = _env("DCABOT_REQUEST_TIMEOUT", default=30.0)
    circuit_failures: int = _env("DCABOT_CIRCUIT_FAILURES", default=5)
    circuit_cooldown_s: float = _env("DCABOT_CIRCUIT_COOLDOWN", default=120.0)
    master_key: SecretStr = _env("DCABOT_MASTER_KEY", default=SecretStr(""))
    confirm_ttl_s: int = _env("DCABOT_CONFIRM_TTL", default=60)
    missed_run_grace_h: float = _env("DCABOT_MISSED_RUN_GRACE", default=6.0)
    trend_history_days: int = _env("DCABOT_TREND_HISTORY_DAYS", default=1000)
    telegram_bot_token: str = _env("TELEGRAM_BOT_TOKEN", default="")
    telegram_webhook_secret: str = _env("TELEGRAM_WEBHOOK_SECRET", default="")
    telegram_api_url: str = _env("TELEGRAM_API_URL", default=TELEGRAM_API)
    line_channel_secret: str = _env("LINE_CHANNEL_SECRET", default="")
    line_channel_access_token: str = _env("LINE_CHANNEL_ACCESS_TOKEN", default="")
    line_api_url: str = _env("LINE_API_URL", default=LINE_API)
    public_url: str = _env("PUBLIC_URL", default="")
    alert_routes: str = _env("DCABOT_ALERT_ROUTES", default="")
    telegram_rate: float = _env("DCABOT_TELEGRAM_RATE", default=30.0)
    telegram_chat_rate: float = _env("DCABOT_TELEGRAM_CHAT_RATE", default=1.0)
    telegram_group_rate: float = _env("DCABOT_TELEGRAM_GROUP_RATE", default=20.0)
    line_rate: float = _env("DCABOT_LINE_RATE", default=100.0)
    line_quota_reset_day: int = _env("DCABOT_LINE_QUOTA_RESET_DAY", default=1)
    alert_retry_max_s: float = _env("DCABOT_ALERT_RETRY_MAX", default=600.0)

    @field_validator("admins", "viewers", mode="before")
    @classmethod
    def _principals(cls, value: Any) -> Any:
        return _split_principals(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone name") from None
        return value

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z0-9]+/[A-Z0-9]+", value):
            raise ValueError(f"{value!r} is not BASE/QUOTE in capitals")
        return value

    @field_validator("paper_start_balance", "max_order")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value <= 0:
            raise ValueError("must be a positive number")
        return value

    @field_validator("request_timeout_s", "circuit_failures", "circuit_cooldown_s")
    @classmethod
    def _positive_count(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be a positive number")
        return value

    @field_validator("alert_routes")
    @classmethod
    def _alert_routes(cls, value: str) -> str:
        from bot.notify.routes import parse_routes

        parse_routes(value)
        return value

    @field_validator(
        "telegram_rate",
        "telegram_chat_rate",
        "telegram_group_rate",
        "line_rate",
        "alert_retry_max_s",
    )
    @classmethod
    def _positive_rate(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be a positive number")
        return value

    @field_validator("line_quota_reset_day")
    @classmethod
    def _reset_day(cls, value: int) -> int:
        if not 1 <= value <= 28:
            raise ValueError("must be a day of the month from 1 to 28")
        return value

    @field_validator("taker_fee")
    @classmethod
    def _fee(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or not Decimal(0) <= value < Decimal("0.1"):
            raise ValueError("must be a fraction between 0 and 0.1 (0.001 is 0.1%)")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: str) -> str:
        if value and not _WEBHOOK_SECRET.match(value):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("telegram_api_url", "line_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if value and not re.match(r"^https://[^\s/]+", value):
            raise ValueError("must be the bot's https:// address (LINE fetches charts over https)")
        return value.rstrip("/")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def base_asset(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote_asset(self) -> str:
        return self.symbol.split("/")[1]

    @property
    def effective_database_url(self) -> str:
        """`DATABASE_URL`, or a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dcabot.db').as_posix()}"

    @property
    def chat_tokens_configured(self) -> bool:
        return bool(self.telegram_bot_token or self.line_channel_access_token)


# An example of a good value for each variable, for the one-line start-up errors.
EXAMPLES: dict[str, str] = {
    "DCABOT_DATA_DIR": "/var/lib/dcabot",
    "DATABASE_URL": "postgresql+psycopg://dcabot@localhost/dcabot",
    "DCABOT_MODE": "paper",
    "DCABOT_TIMEZONE": "Asia/Bangkok",
    "DCABOT_ADMINS": "telegram:123456,line:U4af4980629",
    "DCABOT_VIEWERS": "telegram:654321",
    "DCABOT_EXCHANGE": "binance",
    "DCABOT_SYMBOL": "BTC/USDT",
    "DCABOT_QUOTE": "USDT",
    "DCABOT_PAPER_BALANCE": "10000",
    "DCABOT_TAKER_FEE": "0.001",
    "DCABOT_MAX_ORDER": "50000",
    "DCABOT_PRICES_CSV": "candles/btc_usdt_1d.csv",
    "DCABOT_GOLD_PRICES_CSV": "candles/paxg_usdt_1d.csv",
    "DCABOT_PRICE_SOURCE": "auto",
    "DCABOT_SIMULATED_SEED": "42",
    "DCABOT_BINANCE_API_URL": "https://api.binance.com",
    "DCABOT_OKX_API_URL": "https://www.okx.com",
    "DCABOT_REQUEST_TIMEOUT": "30",
    "DCABOT_CIRCUIT_FAILURES": "5",
    "DCABOT_CIRCUIT_COOLDOWN": "120",
    "DCABOT_CONFIRM_TTL": "60",
    "DCABOT_MISSED_RUN_GRACE": "6",
    "DCABOT_TREND_HISTORY_DAYS": "1000",
    "TELEGRAM_WEBHOOK_SECRET": "a-long-random-string_1",
    "TELEGRAM_API_URL": TELEGRAM_API,
    "LINE_API_URL": LINE_API,
    "PUBLIC_URL": "https://dcabot.example.com",
    "DCABOT_ALERT_ROUTES": "owner=line:U4af4980629a1b2c3d4e5f60718293a4b,telegram:123456",
    "DCABOT_TELEGRAM_RATE": "30",
    "DCABOT_TELEGRAM_CHAT_RATE": "1",
    "DCABOT_TELEGRAM_GROUP_RATE": "20",
    "DCABOT_LINE_RATE": "100",
    "DCABOT_LINE_QUOTA_RESET_DAY": "1",
    "DCABOT_ALERT_RETRY_MAX": "600",
}


SECRET_VARIABLES = frozenset(
    {
        "DCABOT_MASTER_KEY",
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
        "LINE_CHANNEL_ACCESS_TOKEN",
        "LINE_CHANNEL_SECRET",
    }
)


class SettingsError(Exception):
    """A setting is invalid; the message is one line meant for the person starting the bot."""


def _describe(error: ErrorDetails) -> str:
    variable = str(error["loc"][0]) if error.get("loc") else "?"
    example = EXAMPLES.get(variable, "")
    value = error.get("input")
    problem = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if error.get("type") == "enum":
        problem = "must be one of " + str(error.get("ctx", {}).get("expected", "")).replace("'", "")
    shown = f"={value!r}" if isinstance(value, str | int | float | Decimal) else ""
    if variable in SECRET_VARIABLES:
        shown = ""  # never echo a secret, even a malformed one
    hint = f" (e.g. {variable}={example})" if example else ""
    return f"{variable}{shown} is invalid: {problem}{hint}"


def load_settings(**overrides: Any) -> Settings:
    """Read settings; raise `SettingsError` with one line per the first invalid variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc.errors()[0])) from None
    except (InvalidOperation, ValueError) as exc:
        raise SettingsError(f"invalid setting: {exc}") from None
