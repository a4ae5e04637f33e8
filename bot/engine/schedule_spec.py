"""Schedule specs: days (`daily` or `mon,thu`) and a local time (`07:00`) in the owner's zone.

Due times come from APScheduler's own `CronTrigger`, the same object that fires the jobs, so the
times the scheduler fires and the times start-up checks for missed runs cannot disagree, across
DST changes included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.engine.errors import UserError, shown
from bot.engine.number_text import ascii_digits
from bot.i18n import _

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    days: str  # "daily" or weekdays in week order, e.g. "mon,thu"
    local_time: str  # "HH:MM"

    def trigger(self, zone: ZoneInfo) -> CronTrigger:
        hour, minute = (int(part) for part in self.local_time.split(":"))
        day_of_week = "*" if self.days == "daily" else self.days
        return CronTrigger(day_of_week=day_of_week, hour=hour, minute=minute, timezone=zone)

    def next_due(self, zone: ZoneInfo, after: datetime) -> datetime:
        """The first due time strictly after `after`."""
        fire = self.trigger(zone).get_next_fire_time(None, after + timedelta(microseconds=1))
        assert isinstance(fire, datetime)
        return fire

    def due_between(self, zone: ZoneInfo, after: datetime, until: datetime) -> list[datetime]:
        """Due times in (after, until], oldest first."""
        times: list[datetime] = []
        when = self.next_due(zone, after)
        while when <= until:
            times.append(when)
            when = self.next_due(zone, when)
        return times

    def last_due(self, zone: ZoneInfo, now: datetime, lookback: timedelta) -> datetime | None:
        due = self.due_between(zone, now - lookback, now)
        return due[-1] if due else None


def parse_days(text: str) -> str:
    """`daily`, or weekdays like `mon,thu` (any order, no repeats) -> canonical form."""
    value = text.strip().lower()
    if value in {"daily", "everyday", "*"}:
        return "daily"
    parts = [p.strip() for p in value.split(",") if p.strip()]
    unknown = [p for p in parts if p not in WEEKDAYS]
    if not parts or unknown:
        bad = shown(", ".join(repr(p) for p in unknown) or repr(text), 40)
        raise UserError(
            _("{text} is not a day; use daily or weekdays like mon,thu ({weekdays})").format(
                text=bad, weekdays=", ".join(WEEKDAYS))
        )
    if len(set(parts)) != len(parts):
        raise UserError(_("{text} names a day twice; e.g. mon,thu").format(
            text=repr(shown(text))))
    return ",".join(sorted(parts, key=WEEKDAYS.index))


def parse_local_time(text: str) -> str:
    """`7:00` or `07:00` -> `07:00`; hours 0-23, minutes 0-59."""
    match = _TIME.match(ascii_digits(text.strip()))
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise UserError(
            _("{text} is not a time of day; use HH:MM from 00:00 to 23:59, e.g. 07:00").format(
                text=repr(shown(text)))
        )
    return f"{int(match[1]):02d}:{match[2]}"


def parse_spec(days: str, local_time: str) -> ScheduleSpec:
    return ScheduleSpec(parse_days(days), parse_local_time(local_time))
