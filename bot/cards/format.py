"""Numbers for people: exact decimals with thousands separators, never exponent notation."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.exchanges.base import PriceQuote

CENT = Decimal("0.01")
CASH = frozenset({"USDT", "USDC", "FDUSD", "DAI", "USD", "THB"})  # shown as money, 2 decimals


def number(value: Decimal, *, min_decimals: int = 0) -> str:
    """`value` exactly, grouped by thousands: 12345.5 -> '12,345.50' with min_decimals=2."""
    text = format(value, "f")
    whole, _, frac = text.partition(".")
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
    label = " SIMULATED" if quote.simulated else ""
    return f"{money(quote.price, asset)}{label}"


def local_time(when: datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
