"""Numbers as people type them, read in bounded time before anything is formatted.

`Decimal("1e999999999")` is accepted by Python and a billion digits long once printed, so text is
checked against a strict pattern first: plain digits, an optional fraction, thousands separators
in their places, nothing else (no exponent, no sign, no spaces inside), and a length no real
amount needs. Any Unicode decimal digit (Thai ๕๐, full-width ５０, Arabic-Indic ٥٠) reads as
its ASCII digit, so a Thai keyboard works the same everywhere and the confirmation shows the
plain number that will be used.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from bot.i18n import _

MAX_TEXT = 32  # "1,000,000,000,000.12345678" is 26
_PLAIN = re.compile(r"^(\d+)(?:\.(\d+))?$")
_GROUPED = re.compile(r"^(\d{1,3}(?:,\d{3})+)(?:\.(\d+))?$")


class NumberText(ValueError):
    """Why a text is not the number asked for; the message is safe to show."""


def ascii_digits(text: str) -> str:
    """Every Unicode decimal digit as its ASCII digit; other characters unchanged."""
    if text.isascii():
        return text
    out = []
    for char in text:
        value = unicodedata.decimal(char, None)
        out.append(str(value) if value is not None else char)
    return "".join(out)


def read_decimal(text: str, *, max_whole_digits: int, max_decimals: int) -> Decimal:
    """A non-negative decimal of at most `max_whole_digits` before the point and
    `max_decimals` after it; `NumberText` says what is wrong otherwise."""
    if len(text) > MAX_TEXT:
        raise NumberText(_("is {length} characters long; no amount needs more than {limit}")
                         .format(length=f"{len(text):,}", limit=MAX_TEXT))
    cleaned = ascii_digits(text.strip())
    match = _PLAIN.match(cleaned) or _GROUPED.match(cleaned)
    if match is None:
        if cleaned.startswith("-") and (_PLAIN.match(cleaned[1:]) or _GROUPED.match(cleaned[1:])):
            raise NumberText("is below zero")
        raise NumberText("is not a number")
    whole, fraction = match[1].replace(",", ""), match[2] or ""
    if len(whole.lstrip("0")) > max_whole_digits:
        raise NumberText(_("has more than {count} digits before the point").format(
            count=max_whole_digits))
    if len(fraction) > max_decimals:
        raise NumberText(_("has more than {count} decimals").format(count=max_decimals))
    return Decimal(f"{whole}.{fraction}" if fraction else whole)


def read_count(text: str, *, maximum: int) -> int | None:
    """A whole number from 1 to `maximum`, or None when `text` is not one."""
    cleaned = ascii_digits(text.strip())
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > len(str(maximum)):
        return None
    value = int(cleaned)
    return value if 1 <= value <= maximum else None
