"""Settings for the chats: Telegram and LINE tokens and addresses, where alerts go, and the
rates the chat services allow. `Settings` (bot/config.py) inherits these, read from the same
environment and `.env`; a bad value is the same one start-up line (`bot.config_errors`)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import AliasChoices, Field, ValidationInfo, field_validator

from bot import config_checks as checks
from bot.config_choices import BuddhistEra
from bot.config_errors import LINE_API, LINE_DATA_API, TELEGRAM_API
from bot.config_service import ServiceSettings
from bot.i18n import LANGUAGES, known

_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_\-]{1,256}$")


def _env(name: str, default: Any, **extra: Any) -> Any:
    return Field(default=default, validation_alias=AliasChoices(name), **extra)


class ChatSettings(ServiceSettings):
    """The chat channels' settings (one concern: how the bot talks to people)."""

    telegram_bot_token: str = _env("TELEGRAM_BOT_TOKEN", default="")
    telegram_webhook_secret: str = _env("TELEGRAM_WEBHOOK_SECRET", default="")
    telegram_api_url: str = _env("TELEGRAM_API_URL", default=TELEGRAM_API)
    line_channel_secret: str = _env("LINE_CHANNEL_SECRET", default="")
    line_channel_access_token: str = _env("LINE_CHANNEL_ACCESS_TOKEN", default="")
    line_api_url: str = _env("LINE_API_URL", default=LINE_API)
    line_data_api_url: str = _env("LINE_DATA_API_URL", default=LINE_DATA_API)
    public_url: str = _env("PUBLIC_URL", default="")
    alert_routes: str = _env("DCABOT_ALERT_ROUTES", default="")
    telegram_rate: float = _env("DCABOT_TELEGRAM_RATE", default=30.0)
    telegram_chat_rate: float = _env("DCABOT_TELEGRAM_CHAT_RATE", default=1.0)
    telegram_group_rate: float = _env("DCABOT_TELEGRAM_GROUP_RATE", default=20.0)
    line_rate: float = _env("DCABOT_LINE_RATE", default=100.0)
    line_quota_reset_day: int = _env("DCABOT_LINE_QUOTA_RESET_DAY", default=1)
    alert_retry_max_s: float = _env("DCABOT_ALERT_RETRY_MAX", default=600.0)
    stranger_replies: int = _env("DCABOT_STRANGER_REPLIES", default=20)
    language: str = _env("DCABOT_LANGUAGE", default="en")
    buddhist_era: BuddhistEra = _env("DCABOT_BUDDHIST_ERA", default=BuddhistEra.OFF)

    @field_validator("telegram_bot_token")
    @classmethod
    def _telegram_token(cls, value: str) -> str:
        return checks.check_telegram_token(value)

    @field_validator("line_channel_secret", "line_channel_access_token")
    @classmethod
    def _line_secret(cls, value: str) -> str:
        return checks.check_opaque_secret(value)

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: str) -> str:
        if value and not _WEBHOOK_SECRET.match(value):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if known(value) != value.strip().lower():
            raise ValueError(f"must be one of {', '.join(LANGUAGES)}")
        return value.strip().lower()

    @field_validator("telegram_api_url", "line_api_url", "line_data_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return checks.check_url(value)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        try:
            return checks.check_url(value, https_only=True, empty_means="no charts on LINE")
        except ValueError:
            raise ValueError(
                "must be the bot's https:// address with a host (LINE fetches charts over https)"
            ) from None

    @field_validator("alert_routes")
    @classmethod
    def _alert_routes(cls, value: str, info: ValidationInfo) -> str:
        tokens = {
            "telegram": info.data.get("telegram_bot_token", ""),
            "line": info.data.get("line_channel_access_token", ""),
        }
        if value.strip():
            checks.check_routes(value, tokens)
        return value

    @property
    def chat_tokens_configured(self) -> bool:
        return bool(self.telegram_bot_token or self.line_channel_access_token)
