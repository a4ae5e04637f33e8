"""Errors whose message is written for the person in the chat."""

SHOWN_INPUT = 24


class UserError(Exception):
    """Bad input or a refused request: say what was wrong and what would be right."""


def shown(text: str, limit: int = SHOWN_INPUT) -> str:
    """User input as it may be echoed in an answer: at most `limit` characters, one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
