"""Real daily candles shipped inside the package, for when no exchange can be reached.

The paper exchange's offline market (`SimulatedMarket`) serves these for BTC/USDT and PAXG/USDT
instead of made-up candles, so a newcomer's first `/signal` and `/backtest` run on real history
(up to the set's last date, which the card says). Prices to trade at stay simulated, and say so.
"""

from __future__ import annotations

import gzip
from functools import cache
from importlib import resources

from strategies.candles import Candle, parse_candles_csv

FILES = {"BTC/USDT": "btc_usdt_1d.csv.gz", "PAXG/USDT": "paxg_usdt_1d.csv.gz"}
SOURCE = "Binance daily candles shipped with dcabot"


@cache
def shipped_candles(symbol: str) -> tuple[Candle, ...] | None:
    """The shipped daily candles of `symbol`, oldest first; None for a symbol not shipped."""
    name = FILES.get(symbol)
    if name is None:
        return None
    data = resources.files("bot.exchanges").joinpath("history").joinpath(name).read_bytes()
    text = gzip.decompress(data).decode("utf-8")
    return tuple(parse_candles_csv(text, source=f"{SOURCE} ({name})"))


@cache
def _shipped_set(symbol: str) -> frozenset[Candle]:
    return frozenset(shipped_candles(symbol) or ())


def is_shipped(symbol: str, candles: list[Candle]) -> bool:
    """Whether `candles` came from the shipped set of `symbol` (their last one is in it)."""
    return bool(candles) and candles[-1] in _shipped_set(symbol)
