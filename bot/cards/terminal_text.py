"""A card as plain text for a terminal: every line fits 80 columns, words are never cut."""

from __future__ import annotations

import textwrap
import unicodedata

from bot.cards.reply import Reply
from bot.i18n import _

LABEL_WIDTH = 16
WIDTH = 80  # a terminal's columns: every line of a card fits


def _wrapped(text: str, indent: int) -> list[str]:
    pad = " " * indent
    return textwrap.wrap(text, WIDTH, initial_indent=pad, subsequent_indent=pad,
                         break_on_hyphens=False) or [pad]


def columns(text: str) -> int:
    """How many terminal columns `text` takes: Thai vowel and tone marks take none."""
    return sum(0 if unicodedata.category(c) in ("Mn", "Me", "Cf")
               else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _pad(label: str, width: int) -> str:
    return label + " " * max(width - columns(label), 0)


def _field(label: str, value: str, width: int) -> list[str]:
    line = f"  {_pad(label, width)}{value}"
    if columns(line) <= WIDTH:
        return [line]
    if columns(label) + 2 <= width:  # a long value under a short label: beside the label
        first, *rest = _wrapped(value, 2 + width)
        return [f"  {_pad(label, width)}{first.lstrip()}", *rest]
    return [*_wrapped(label, 2), *_wrapped(value, 6)]  # e.g. /help's long usages


def render(reply: Reply) -> str:
    """A reply as plain text for a terminal, no line wider than `WIDTH`."""
    out = _wrapped(f"== {reply.title} ==", 0)
    width = min(max([LABEL_WIDTH, *(columns(f.label) + 2 for f in reply.fields)]), 24)
    for f in reply.fields:
        out += _field(f.label, f.value, width)
    for line in reply.lines:
        out += _wrapped(line, 2)
    if reply.footer:
        out += _wrapped(reply.footer, 2)
    if reply.image is not None:
        out.append("  " + _("Chart: {path}").format(path=reply.image))
    for document in reply.documents:
        out += _wrapped(_("File: {path}").format(path=document), 2)
    if reply.confirm_token:
        out += _wrapped(reply.confirm_hint, 2)
    return "\n".join(out)
