"""Parsing what people type: amounts and counts, with answers that say what would be right."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from bot.engine.errors import UserError

MAX_DECIMALS = 8
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")


def parse_amount(text: str | None, *, example: str, asset: str = "USDT") -> Decimal:
    """A positive, finite amount with at most 8 decimals ('1,000.5' is accepted)."""
    if text is None:
        raise UserError(f"Give an amount in {asset}, e.g. {example}")
    cleaned = text.replace(",", "") if _GROUPED.match(text) else text
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise UserError(f"{text!r} is not an amount; use a number like {example}") from None
    if not value.is_finite():
        raise UserError(f"{text!r} is not an amount; use a number like {example}")
    if value <= 0:
        raise UserError(f"The amount must be more than 0 {asset}; e.g. {example}")
    if -value.as_tuple().exponent > MAX_DECIMALS:  # type: ignore[operator]
        raise UserError(f"{text!r} has more than {MAX_DECIMALS} decimals")
    return value


def parse_count(text: str | None, *, default: int, maximum: int, example: str) -> int:
    """A whole number from 1 to `maximum`, or `default` when none is given."""
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise UserError(f"{text!r} is not a count from 1 to {maximum}; e.g. {example}")
    return int(text)
