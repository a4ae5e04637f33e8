"""Numbers and dates for people: exact decimals with thousands separators, never exponent
notation (written alike in English and Thai); dates in the reader's language (`bot.i18n`):
2026-11-30 in English, 30 พ.ย. 2026 in Thai (พ.ศ. 2569 with DCABOT_BUDDHIST_ERA=on)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo

from bot.exchanges.base import PriceQuote
from bot.i18n import DEFAULT, _, buddhist_era, current

CENT = Decimal("0.01")
CASH = frozenset({"USDT", "USDC", "FDUSD", "DAI", "USD", "THB"})  # shown as money, 2 decimals


def number(value: Decimal, *, min_decimals: int = 0) -> str:
    """`value` exactly, grouped by thousands: 12345.5 -> '12,345.50' with min_decimals=2."""
    text = format(value, "f")
    whole, _point, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(min_decimals, "0")
    sign = "-" if whole.startswith("-") else ""
    grouped = f"{int(whole.lstrip('-') or '0'):,}"
    return f"{sign}{grouped}.{frac}" if frac else f"{sign}{grouped}"


def money(value: Decimal, asset: str) -> str:
    """Quote money, one way everywhere: 2 decimals, thousands separated (the books keep every
    digit; cards round)."""
    return cents(value, asset)


def cents(value: Decimal, asset: str, *, signed: bool = False) -> str:
    """Quote money as people read it: 2 decimals, thousands separated (`+` when `signed`)."""
    sign = "+" if signed and value.quantize(CENT) > 0 else ""
    return f"{sign}{rounded(value)} {asset}"


def crypto(value: Decimal, asset: str) -> str:
    """An amount of any asset: quote money (a stablecoin) as money, a coin to 8 decimals (a
    satoshi), thousands separated."""
    if asset in CASH:
        return cents(value, asset)
    return f"{rounded(value, 8)} {asset}"


def rounded(value: Decimal, places: int = 2) -> str:
    return number(value.quantize(Decimal(1).scaleb(-places)), min_decimals=places)


def percent(value: Decimal) -> str:
    sign = "+" if value > 0 else ""
    return f"{sign}{rounded(value)}%"


def price(quote: PriceQuote, asset: str) -> str:
    label = " " + _("SIMULATED") if quote.simulated else ""
    return f"{money(quote.price, asset)}{label}"


BUDDHIST_ERA_YEARS = 543  # 2026 CE is 2569 BE


def local_time(when: datetime, zone: ZoneInfo) -> str:
    """A moment in the owner's time zone: '2026-11-30 18:45 ICT' / '30 พ.ย. 2026 18:45 ICT'."""
    there = when.astimezone(zone)
    return f"{day(there)} {there:%H:%M %Z}"


def day(when: date) -> str:
    """A calendar day: '2026-11-30' in English, '30 พ.ย. 2026' in Thai (the year + 543 when
    DCABOT_BUDDHIST_ERA is on)."""
    language = current.get()
    if language == DEFAULT:
        return f"{when:%Y-%m-%d}"
    year = when.year + (BUDDHIST_ERA_YEARS if buddhist_era.get() else 0)
    return f"{when.day} {_month_abbreviations(language)[when.month]} {year}"


def iso_day(text: object) -> str | None:
    """An ISO date or moment from a payload (`2026-11-20`, `2026-11-20T00:00:00+00:00`) as a
    day for the reader (`day`); None when it is not one."""
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        return day(date.fromisoformat(text[:10]))
    except ValueError:
        return text[:10]


def month(when: date) -> str:
    """A calendar month: '2026-11' in English, 'พ.ย. 2026' in Thai."""
    language = current.get()
    if language == DEFAULT:
        return f"{when:%Y-%m}"
    year = when.year + (BUDDHIST_ERA_YEARS if buddhist_era.get() else 0)
    return f"{_month_abbreviations(language)[when.month]} {year}"


@cache
def _month_abbreviations(language: str) -> dict[int, str]:
    """The language's month abbreviations (CLDR's, through Babel), by month number."""
    from babel import Locale  # only once a reader needs them: 7 ms of start-up otherwise

    return {n: str(name) for n, name in Locale.parse(language).months["format"]["abbreviated"]
            .items()}
