"""Languages: English (the messages as written) and Thai, from gettext catalogs.

Messages are marked `_("...")` where they are written (placeholders in `{name}` form, filled
after translation with `.format`); the Thai catalog is `bot/locale/th.po`, read with Babel when
first needed. Whose language a message is in is a context variable: the registry sets it for the
person a command answers (`/lang`, else Telegram's `language_code`, else `DCABOT_LANGUAGE`), so
handlers and cards need no language argument. Dates are written for the language too
(`bot/cards/format.py`); numbers are written alike in both (1,234.56). A message without a
translation stays English (a test fails on any such message id).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LANGUAGES = {"en": "English", "th": "ไทย"}
DEFAULT = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

current: ContextVar[str] = ContextVar("language", default=DEFAULT)
buddhist_era: ContextVar[bool] = ContextVar("buddhist_era", default=False)  # Thai dates: +543


@cache
def catalog(language: str) -> dict[str, str]:
    """The language's translations by message id (empty for English)."""
    path = LOCALE_DIR / f"{language}.po"
    if language == DEFAULT or not path.is_file():
        return {}
    from babel.messages.pofile import read_po

    with path.open("rb") as po:
        read = read_po(po, locale=language)
    return {str(m.id): str(m.string) for m in read if m.id and m.string and not m.fuzzy}


def _(message: str) -> str:
    """`message` in the current language (itself in English, or without a translation)."""
    language = current.get()
    if language == DEFAULT:
        return message
    return catalog(language).get(message, message)


def known(language: str | None) -> str | None:
    """The language code when it is one of ours (`th`, `th-TH`, `TH` → `th`), else None."""
    code = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


@contextmanager
def speaking(language: str, *, in_buddhist_era: bool = False) -> Iterator[None]:
    """Messages made inside are in `language`; Thai dates count years in the Buddhist era
    when `in_buddhist_era` (DCABOT_BUDDHIST_ERA)."""
    token = current.set(known(language) or DEFAULT)
    era = buddhist_era.set(in_buddhist_era)
    try:
        yield
    finally:
        buddhist_era.reset(era)
        current.reset(token)
