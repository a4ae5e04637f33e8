"""Where the `dcabot backtest` and `dcabot signal` commands take their candles from: a CSV the
user names, or (for `signal` without --csv) what chat's /signal reads."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

from strategies.candles import Candle, CandleDataError, candle_interval, closed_candles
from strategies.candles import parse_candles_csv as parse_csv_text

SIGNAL_DAYS = 500  # as chat's /signal: enough for the EMAs to settle before the last flips


class BadInput(Exception):
    """A one-line problem with what the user gave; becomes stderr and exit code 2."""


def read_candles(path_text: str, flag: str, now: datetime) -> list[Candle]:
    """Read and validate a candle CSV, dropping a last candle that had not closed at `now`."""
    path = Path(path_text)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{flag} {path_text!r}: cannot read it ({exc.__class__.__name__})") from None
    try:
        candles = parse_csv_text(text, source=f"{flag} {path.name}")
    except CandleDataError as exc:
        raise BadInput(str(exc)) from None
    if len(candles) >= 2:
        candles = closed_candles(candles, now, candle_interval(candles))
    return candles


def configured_candles(now: datetime) -> tuple[list[Candle], str]:
    """Without --csv, what chat's /signal reads: DCABOT_PRICES_CSV, else the configured
    exchange's public daily candles (offline: the real ones shipped with dcabot)."""
    import asyncio

    from bot.config import SettingsError, load_settings
    from bot.engine.setup import build_feed
    from bot.exchanges.base import ExchangeError
    from bot.exchanges.shipped_history import SOURCE, is_shipped

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise BadInput(str(exc)) from None
    if settings.prices_csv is not None:
        return read_candles(str(settings.prices_csv), "DCABOT_PRICES_CSV", now), "DCABOT_PRICES_CSV"

    async def fetch() -> tuple[list[Candle], bool]:
        feed = build_feed(settings, lambda: now)
        try:
            return await feed.closed_candles(settings.symbol, SIGNAL_DAYS), feed.offline
        finally:
            await feed.close()

    try:
        candles, offline = asyncio.run(fetch())
    except (ExchangeError, LookupError) as exc:
        where = f"{settings.symbol} candles from {settings.exchange}"
        raise BadInput(f"could not read {where}: {exc}") from None
    if offline and is_shipped(settings.symbol, candles):  # say whose history this is
        print(f"{settings.exchange} unreachable: {SOURCE}, up to {candles[-1].time:%Y-%m-%d}",
              file=sys.stderr)
    return closed_candles(candles, now, timedelta(days=1)), settings.exchange
