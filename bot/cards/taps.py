"""What a button carries, on every channel: `c:<token>:y` / `c:<token>:n` answers a confirmation,
`cmd:/status` runs a command as if it had been typed.

A card sent to one person carries their tag: `cmd:/status~<tag>`, the tag a keyed hash of who
asked (`owner_tag`), so a tap by anyone else is told the card is not theirs instead of running
the command into that person's card. Nobody can make a tag for themselves without the bot's
secret, and a tag copied from someone else's button names that someone else.

Telegram's callback data holds 64 bytes and LINE's postback data 300, so the form stays short;
a command too long for a button is cut rather than refused (buttons carry short commands).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

CONFIRM_PREFIX, COMMAND_PREFIX = "c", "cmd"
OWNER_MARK = "~"
TAG_LENGTH = 12
TELEGRAM_LIMIT = 64


class TapKind(StrEnum):
    CONFIRM = "confirm"
    COMMAND = "command"


@dataclass(frozen=True, slots=True)
class Tap:
    kind: TapKind
    value: str  # the confirmation token, or the command with its slash
    accept: bool = False
    owner_tag: str = ""  # a command tap on a card meant for one person


def owner_tag(secret: bytes, user_key: str) -> str:
    """The tag that marks a card as `user_key`'s (`telegram:123`)."""
    digest = hmac.new(secret, user_key.encode(), hashlib.sha256).hexdigest()
    return digest[:TAG_LENGTH]


def confirm_data(token: str, accept: bool) -> str:
    return f"{CONFIRM_PREFIX}:{token}:{'y' if accept else 'n'}"


def command_data(command: str, tag: str = "") -> str:
    suffix = f"{OWNER_MARK}{tag}" if tag else ""
    return f"{COMMAND_PREFIX}:{command}"[: TELEGRAM_LIMIT - len(suffix)] + suffix


def parse_tap(data: str) -> Tap | None:
    """The tap behind button data, or None for data this bot never puts on a button."""
    kind, _, rest = data.partition(":")
    if kind == CONFIRM_PREFIX:
        token, _, answer = rest.partition(":")
        if token and answer in ("y", "n"):
            return Tap(TapKind.CONFIRM, token, answer == "y")
        return None
    if kind == COMMAND_PREFIX:
        command, _, tag = rest.partition(OWNER_MARK)
        if command.startswith("/") and len(command) > 1:
            return Tap(TapKind.COMMAND, command, owner_tag=tag)
    return None
