"""Errors whose message is written for the person in the chat, in their language (`bot.i18n`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from bot.i18n import DEFAULT, speaking

SHOWN_INPUT = 24
P = ParamSpec("P")
R = TypeVar("R")


class UserError(Exception):
    """Bad input or a refused request: say what was wrong and what would be right."""


def shown(text: str, limit: int = SHOWN_INPUT) -> str:
    """User input as it may be echoed in an answer: at most `limit` characters, one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def recorded_in_english(work: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """For the bot's own jobs, which record refusals (`UserError` texts) in run, flip and
    rotation outcomes: those records stay English, whoever's command started the task the job
    runs in (a task copies the language of the context that made it)."""

    @wraps(work)
    async def in_english(*args: P.args, **kwargs: P.kwargs) -> R:
        with speaking(DEFAULT):
            return await work(*args, **kwargs)

    return in_english
