"""Parsing what people type: amounts and counts, with answers that say what would be right.

Every answer echoes at most a few dozen characters of what was typed (`shown`), and every number
is read by `bot.engine.number_text`, which refuses exponents and absurd lengths before anything
is converted or formatted.
"""

from __future__ import annotations

from decimal import Decimal

from bot.cards.format import CASH
from bot.engine.errors import UserError, shown
from bot.engine.number_text import NumberText, read_count, read_decimal
from bot.i18n import _

MAX_DECIMALS = 8
CASH_DECIMALS = 2  # USDT amounts are cents: the exchange spends them to its 0.01 tick anyway
MAX_WHOLE_DIGITS = 12  # nearly a trillion: above any real order, far below NUMERIC(38, 18)


def parse_amount(text: str | None, *, example: str, asset: str = "USDT") -> Decimal:
    """A positive amount: at most 2 decimals of USDT, 8 of a coin ('1,000.5' and Thai digits
    are accepted), so what a card shows is exactly what is spent."""
    if text is None:
        raise UserError(_("Give an amount in {asset}, e.g. {example}").format(
            asset=asset, example=example))
    decimals = CASH_DECIMALS if asset in CASH else MAX_DECIMALS
    try:
        value = read_decimal(text, max_whole_digits=MAX_WHOLE_DIGITS, max_decimals=decimals)
    except NumberText as exc:
        if str(exc) == "is below zero":
            raise UserError(_("The amount must be more than 0 {asset}; e.g. {example}").format(
                asset=asset, example=example)) from None
        if str(exc) == "is not a number":
            raise UserError(_("{text} is not an amount; use a number like {example}").format(
                text=repr(shown(text)), example=example)) from None
        raise UserError(_("{text} is not an amount: it {reason}; use a number like {example}")
                        .format(text=repr(shown(text)), reason=exc, example=example)) from None
    if value <= 0:
        raise UserError(_("The amount must be more than 0 {asset}; e.g. {example}").format(
            asset=asset, example=example))
    return value


def parse_percent(text: str, *, example: str, allow_zero: bool = True) -> Decimal:
    """A percent from 0 (or above 0) to 100 with at most 2 decimals; a trailing % is fine."""
    try:
        value = read_decimal(text.removesuffix("%"), max_whole_digits=3, max_decimals=2)
    except NumberText:
        value = Decimal(-1)
    low_ok = value > 0 or (allow_zero and value == 0)
    if not low_ok or value > 100:
        span = _("from 0 to 100") if allow_zero else _("above 0, up to 100")
        raise UserError(_("{text} is not a percent {span}; e.g. {example}").format(
            text=repr(shown(text)), span=span, example=example))
    return value


def parse_count(text: str | None, *, default: int, maximum: int, example: str) -> int:
    """A whole number from 1 to `maximum`, or `default` when none is given."""
    if text is None:
        return default
    value = read_count(text, maximum=maximum)
    if value is None:
        raise UserError(_("{text} is not a count from 1 to {maximum}; e.g. {example}").format(
            text=repr(shown(text)), maximum=maximum, example=example))
    return value
