"""What a button carries, on every channel: `c:<token>:y` / `c:<token>:n` answers a confirmation,
`cmd:/status` runs a command as if it had been typed.

Telegram's callback data holds 64 bytes and LINE's postback data 300, so the form stays short;
a command too long for a button is cut rather than refused (buttons carry short commands).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

CONFIRM_PREFIX, COMMAND_PREFIX = "c", "cmd"
TELEGRAM_LIMIT = 64


class TapKind(StrEnum):
    CONFIRM = "confirm"
    COMMAND = "command"


@dataclass(frozen=True, slots=True)
class Tap:
    kind: TapKind
    value: str  # the confirmation token, or the command with its slash
    accept: bool = False


def confirm_data(token: str, accept: bool) -> str:
    return f"{CONFIRM_PREFIX}:{token}:{'y' if accept else 'n'}"


def command_data(command: str) -> str:
    return f"{COMMAND_PREFIX}:{command}"[:TELEGRAM_LIMIT]


def parse_tap(data: str) -> Tap | None:
    """The tap behind button data, or None for data this bot never puts on a button."""
    kind, _, rest = data.partition(":")
    if kind == CONFIRM_PREFIX:
        token, _, answer = rest.partition(":")
        if token and answer in ("y", "n"):
            return Tap(TapKind.CONFIRM, token, answer == "y")
        return None
    if kind == COMMAND_PREFIX and rest.startswith("/") and len(rest) > 1:
        return Tap(TapKind.COMMAND, rest)
    return None
