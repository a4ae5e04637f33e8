"""Channel-neutral replies: a command returns a `Reply`, each channel renders it its own way."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from bot.i18n import _


class Tone(StrEnum):
    """A card's style: each kind of money move looks different (buy, sell, save, deploy)."""

    INFO = "info"
    SUCCESS = "success"  # a buy, or a change that worked
    WARNING = "warning"
    ERROR = "error"
    SELL = "sell"
    SAVE = "save"  # a run's money set aside in the reserve, or a run skipped
    DEPLOY = "deploy"  # the reserve spent


@dataclass(frozen=True, slots=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Button:
    """A tap that sends `command` (e.g. `/status`) as if the user had typed it."""

    label: str
    command: str


@dataclass(frozen=True, slots=True)
class Reply:
    """A card: a title, label/value rows, free lines, and optionally a confirmation to answer.

    `kind` names the layout (and the Flex template on LINE): status, buy_confirm, order_result,
    history, help, error, text, ... A `notice` is for the person who tapped a button only: a
    toast on Telegram, a message to them alone on LINE. `owner_tag` marks the card as one
    person's (`bot.cards.taps`), so a tap on it by anyone else changes nothing.
    """

    kind: str
    title: str
    fields: tuple[Field, ...] = ()
    lines: tuple[str, ...] = ()
    tone: Tone = Tone.INFO
    confirm_token: str | None = None
    confirm_labels: tuple[str, str] = ("Confirm", "Cancel")  # in the asker's language
    confirm_hint: str = "Type yes to confirm; no, or any command, cancels."  # the terminal's
    buttons: tuple[Button, ...] = ()
    image: Path | None = None
    footer: str = ""
    # files for the person (CSV exports): a document on Telegram, a one-time link on LINE,
    # the path in the terminal
    documents: tuple[Path, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    owner_tag: str = ""
    language: str = ""  # what it is worded in (set by the registry): a channel's notes follow it
    # a fresher card that follows (the exchange was slow: this one shows the last known
    # figures); channels that can edit a sent message put it in place of this one
    followup: Awaitable[Reply | None] | None = field(default=None, compare=False, repr=False)


def error_reply(message: str, *, hint: str = "") -> Reply:
    """A one-line refusal: what was wrong, and (in `hint`) what would be right."""
    lines = (message,) if not hint else (message, hint)
    return Reply(kind="error", title=_("Not done"), lines=lines, tone=Tone.ERROR)


def text_reply(title: str, *lines: str, tone: Tone = Tone.INFO) -> Reply:
    return Reply(kind="text", title=title, lines=tuple(lines), tone=tone)


NOTICE = "notice"
MAX_NOTICE = 200  # Telegram's answerCallbackQuery text


def notice(reply: Reply) -> Reply:
    """`reply` as a notice for the tapper alone."""
    return Reply(kind=NOTICE, title=reply.title, lines=reply.lines, tone=reply.tone)


def notice_text(reply: Reply) -> str:
    text = " ".join((f"{reply.title}:", *reply.lines))
    return text if len(text) <= MAX_NOTICE else text[: MAX_NOTICE - 1] + "…"


def main_buttons() -> tuple[Button, ...]:
    """The first things to try, under a welcome or /start: Status, History, Help."""
    return (Button(_("Status"), "/status"), Button(_("History"), "/history"),
            Button(_("Help"), "/help"))
