"""Days as people type them (`YYYY-MM-DD`), and a span of days in the owner's time zone."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.engine.errors import UserError, shown
from bot.i18n import _

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_day(text: str, which: str) -> date:
    """A YYYY-MM-DD date; the strict pattern refuses forms `date.fromisoformat` lets through."""
    try:
        if _DATE.match(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    refusals = {
        "start": _("{text} is not a date for the start; write it as YYYY-MM-DD, e.g. 2024-01-31"),
        "end": _("{text} is not a date for the end; write it as YYYY-MM-DD, e.g. 2024-01-31"),
    }
    refusal = refusals.get(which, "{text} is not a date for the " + which
                           + "; write it as YYYY-MM-DD, e.g. 2024-01-31")
    raise UserError(refusal.format(text=repr(shown(text))))


def _at(day: date | None, later: int, zone: ZoneInfo) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=later), time(0), tzinfo=zone)


def day_span(start: date | None, end: date | None, zone: ZoneInfo
             ) -> tuple[datetime | None, datetime | None]:
    """Days in the owner's zone: from the start of `start` to the end of `end`."""
    return _at(start, 0, zone), _at(end, 1, zone)
