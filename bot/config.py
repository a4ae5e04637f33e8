"""Settings, read once from the environment and an optional `.env` file.

Every setting has an environment variable; most are prefixed `DCABOT_`, the ones that other tools
already name (`DATABASE_URL`, the chat tokens) are not. A bad value stops start-up with one line
that names the variable, says what is wrong and shows a good value (`SettingsError`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import NoDecode, SettingsConfigDict

from bot import config_checks as checks
from bot import config_exchanges as exchanges
from bot.config_chat import ChatSettings
from bot.config_choices import BuddhistEra as BuddhistEra
from bot.config_choices import Carry as Carry
from bot.config_choices import Mode as Mode  # re-exported: every module names them from here
from bot.config_choices import PartialRest as PartialRest
from bot.config_choices import PriceSource as PriceSource
from bot.config_errors import EXAMPLES as EXAMPLES  # re-exported: the start-up line's parts
from bot.config_errors import SECRET_VARIABLES as SECRET_VARIABLES
from bot.config_errors import describe
from bot.i18n import _

CHANNELS = ("telegram", "line", "terminal")


def _env(name: str, default: Any, **extra: Any) -> Any:
    return Field(default=default, validation_alias=AliasChoices(name), **extra)


class Settings(ChatSettings):
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
    exchange: str = _env("DCABOT_EXCHANGE", default="binance")  # the default: DCABOT_EXCHANGES[0]
    exchanges: Annotated[tuple[str, ...], NoDecode] = _env(
        "DCABOT_EXCHANGES", default=(), validate_default=True
    )
    mode_binance: Mode | None = _env("DCABOT_MODE_BINANCE", default=None)
    mode_okx: Mode | None = _env("DCABOT_MODE_OKX", default=None)
    signal_exchange: str = _env("DCABOT_SIGNAL_EXCHANGE", default="", validate_default=True)
    symbol: str = _env("DCABOT_SYMBOL", default="BTC/USDT")
    quote: str = _env("DCABOT_QUOTE", default="", validate_default=True)  # "" = the symbol's
    paper_start_balance: Decimal = _env("DCABOT_PAPER_BALANCE", default=Decimal("10000"))
    taker_fee: Decimal = _env("DCABOT_TAKER_FEE", default=Decimal("0.001"))
    max_order: Decimal = _env("DCABOT_MAX_ORDER", default=Decimal("50000"))
    prices_csv: Path | None = _env("DCABOT_PRICES_CSV", default=None)
    gold_prices_csv: Path | None = _env("DCABOT_GOLD_PRICES_CSV", default=None)
    price_source: PriceSource = _env("DCABOT_PRICE_SOURCE", default=PriceSource.AUTO)
    partial_rest: PartialRest = _env("DCABOT_PARTIAL_REST", default=PartialRest.RESERVE)
    carry: Carry = _env("DCABOT_CARRY", default=Carry.ON)
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
    health_token: SecretStr = _env("DCABOT_HEALTH_TOKEN", default=SecretStr(""))

    @field_validator("data_dir", mode="before")
    @classmethod
    def _data_dir(cls, value: Any) -> Any:
        return checks.check_data_dir(value)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return checks.check_database_url(value)

    @field_validator("admins", "viewers", mode="before")
    @classmethod
    def _principals(cls, value: Any) -> Any:
        return checks.split_principals(value)

    @field_validator("viewers")
    @classmethod
    def _viewers(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return checks.check_not_admins(value, info.data.get("admins", ()))

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone name") from None
        return value

    @field_validator("exchange")
    @classmethod
    def _exchange(cls, value: str) -> str:
        return exchanges.exchange_id(value)

    @field_validator("exchanges", mode="before")
    @classmethod
    def _exchanges(cls, value: Any, info: ValidationInfo) -> Any:
        return exchanges.check_exchange_list(value, info.data.get("exchange"))

    @field_validator("mode_binance", "mode_okx", mode="before")
    @classmethod
    def _blank_mode(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("signal_exchange")
    @classmethod
    def _signal_exchange(cls, value: str, info: ValidationInfo) -> str:
        return exchanges.check_signal_exchange(value, info.data.get("exchanges") or ())

    @model_validator(mode="after")
    def _default_exchange(self) -> Settings:
        """The first listed exchange is the default for commands that name none."""
        self.exchange = self.exchanges[0]
        return self

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str) -> str:
        return checks.check_symbol(value)

    @field_validator("quote")
    @classmethod
    def _quote(cls, value: str, info: ValidationInfo) -> str:
        return checks.check_quote(value, info.data.get("symbol"))

    @field_validator(*checks.AMOUNT_RULES)
    @classmethod
    def _amount(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        return checks.check_amount(str(info.field_name), value)

    @field_validator(*checks.NUMBER_RULES)
    @classmethod
    def _number(cls, value: float, info: ValidationInfo) -> float:
        return checks.check_number(str(info.field_name), value)

    @field_validator("prices_csv", "gold_prices_csv", mode="before")
    @classmethod
    def _blank_path(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("prices_csv")
    @classmethod
    def _prices_csv(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        modes = [info.data.get(f"mode_{name}") or info.data.get("mode")
                 for name in info.data.get("exchanges") or ()] or [info.data.get("mode")]
        live = [m for m in modes if m not in (None, Mode.PAPER)]
        if value is not None and live:
            raise ValueError(f"replays candles in paper mode only, not {live[0]}: unset it")
        return checks.check_csv_path(value)

    @field_validator("gold_prices_csv")
    @classmethod
    def _gold_prices_csv(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and info.data.get("prices_csv") is None:
            raise ValueError("is read only with DCABOT_PRICES_CSV: set both, or neither")
        return checks.check_csv_path(value)

    @field_validator("binance_api_url", "okx_api_url")
    @classmethod
    def _exchange_url(cls, value: str) -> str:
        return checks.check_url(value, empty_means="the real API")

    @field_validator("master_key")
    @classmethod
    def _master_key(cls, value: SecretStr) -> SecretStr:
        checks.check_master_key(value.get_secret_value())
        return value

    @field_validator("health_token")
    @classmethod
    def _health_token(cls, value: SecretStr) -> SecretStr:
        checks.check_bearer_token(value.get_secret_value())
        return value

    def mode_for(self, exchange: str) -> Mode:
        """The exchange's own mode (`DCABOT_MODE_OKX`), or `DCABOT_MODE`."""
        own: Mode | None = getattr(self, f"mode_{exchange}", None)
        return own or self.mode

    def for_exchange(self, exchange: str) -> Settings:
        """These settings as one exchange's engine sees them: its name and its mode."""
        return self.model_copy(update={"exchange": exchange, "mode": self.mode_for(exchange)})

    @property
    def exchanges_text(self) -> str:
        """`paper mode on binance + testnet mode on okx`, for people to read."""
        return " + ".join(_("{mode} mode on {exchange}").format(
            mode=self.mode_for(name).value, exchange=name) for name in self.exchanges)

    @property
    def trend_exchange(self) -> str:
        """Where the CDC trend is read for every exchange (`DCABOT_SIGNAL_EXCHANGE`)."""
        return self.signal_exchange or self.exchanges[0]

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


class SettingsError(Exception):
    """A setting is invalid; the message is one line meant for the person starting the bot."""


def _variable(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    return str(alias.choices[0]) if isinstance(alias, AliasChoices) else field


# Field name -> environment variable: an override by field name is reported by its variable.
VARIABLES: dict[str, str] = {field: _variable(field) for field in Settings.model_fields}


def _describe(error: ErrorDetails) -> str:
    return describe(error, VARIABLES)


def load_settings(**overrides: Any) -> Settings:
    """Read settings; raise `SettingsError` with one line per the first invalid variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc.errors()[0])) from None
    except (InvalidOperation, ValueError) as exc:
        raise SettingsError(f"invalid setting: {exc}") from None
