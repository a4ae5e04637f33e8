"""Who may do what: admins move money, viewers read, everyone else gets nothing."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from bot.config import Settings

TERMINAL_USER = "local"


class Role(IntEnum):
    STRANGER = 0
    VIEWER = 1
    ADMIN = 2


@dataclass(frozen=True, slots=True)
class User:
    channel: str
    user_id: str
    role: Role
    name: str = ""
    language_hint: str = ""  # what the platform says the person's app speaks (Telegram)

    @property
    def key(self) -> str:
        """`channel:user_id`, the form used in DCABOT_ADMINS and DCABOT_VIEWERS."""
        return f"{self.channel}:{self.user_id}"


def role_of(settings: Settings, channel: str, user_id: str) -> Role:
    """The terminal is the machine's owner; chat users need to be on an allowlist."""
    if channel == "terminal":
        return Role.ADMIN
    key = f"{channel}:{user_id}"
    if key in settings.admins:
        return Role.ADMIN
    if key in settings.viewers:
        return Role.VIEWER
    return Role.STRANGER


def identify(
    settings: Settings, channel: str, user_id: str, name: str = "", language_hint: str = ""
) -> User:
    return User(channel, user_id, role_of(settings, channel, user_id), name, language_hint)
