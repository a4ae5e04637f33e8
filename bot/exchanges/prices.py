"""Where the paper exchange gets prices when it is not asking a real exchange.

* `SimulatedMarket`: a deterministic, seeded market for machines with no network. Every price it
  gives is marked `simulated`, and every card that shows one says SIMULATED.
* `CandleReplay`: real candles from a CSV (`DCABOT_PRICES_CSV`); the price at a moment is the
  open of the candle that contains it, so a replay fills where the backtester does.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from bot.exchanges.base import PriceQuote
from bot.exchanges.shipped_history import shipped_candles
from bot.i18n import _
from strategies.candles import Candle, candle_interval

Clock = Callable[[], datetime]

SIMULATED_BASE_PRICES = {"BTC/USDT": 90_000.0, "PAXG/USDT": 2_600.0, "XAUT/USDT": 2_600.0}


class SimulatedMarket:
    """Prices as a smooth function of the minute plus seeded noise: same seed, same prices.

    Floats are fine here: they only generate a made-up market input, which is turned into an
    exact `Decimal` at two decimals before anything uses it.
    """

    def __init__(self, seed: int, clock: Clock) -> None:
        self.seed = seed
        self.clock = clock

    def price(self, symbol: str) -> PriceQuote:
        now = self.clock()
        return PriceQuote(
            symbol, self._value(symbol, now), f"SIMULATED (seed {self.seed})", True, now
        )

    def _value(self, symbol: str, now: datetime) -> Decimal:
        minute = int(now.timestamp() // 60)
        days = minute / 1440
        base = SIMULATED_BASE_PRICES.get(symbol, 100.0)
        wave = 0.08 * math.sin(2 * math.pi * days / 45) + 0.015 * math.sin(2 * math.pi * days)
        noise = random.Random(f"{self.seed}:{symbol}:{minute}").uniform(-0.002, 0.002)
        return Decimal(f"{base * (1 + wave + noise):.2f}")

    def closed_candles(self, symbol: str, limit: int) -> list[Candle]:
        """Real daily candles shipped with dcabot (`shipped_history`) where there are some,
        closed by now; else daily candles of the simulated market, sampled hourly."""
        today = self.clock().replace(hour=0, minute=0, second=0, microsecond=0)
        shipped = shipped_candles(symbol)
        if shipped is not None:
            closed = [c for c in shipped if c.time < today]
            return closed[-limit:] if limit > 0 else []
        candles = []
        for back in range(limit, 0, -1):
            start = today - timedelta(days=back)
            samples = [self._value(symbol, start + timedelta(hours=h)) for h in range(25)]
            candles.append(
                Candle(start, samples[0], max(samples), min(samples), samples[-1], Decimal(0))
            )
        return candles


class CandleReplay:
    """Prices from historical candles: the open of the candle in which the clock stands."""

    def __init__(self, symbol: str, candles: Sequence[Candle], label: str, clock: Clock) -> None:
        if not candles:
            raise ValueError(f"{label}: no candles")
        self.symbol = symbol
        self.candles = list(candles)
        self.times = [c.time for c in self.candles]
        self.interval = candle_interval(self.candles) if len(self.candles) > 1 else timedelta(1)
        self.label = label
        self.clock = clock

    def candle_at(self, when: datetime) -> Candle | None:
        """The candle containing `when`, or None before the first one."""
        index = bisect.bisect_right(self.times, when) - 1
        return self.candles[index] if index >= 0 else None

    def price(self, symbol: str) -> PriceQuote:
        if symbol != self.symbol:
            raise LookupError(_("{file} has prices for {symbol}, not {wanted}").format(
                file=self.label, symbol=self.symbol, wanted=symbol))
        now = self.clock()
        candle = self.candle_at(now)
        if candle is None:
            first = self.candles[0]
            source = _("{file} (first candle)").format(file=self.label)
            return PriceQuote(symbol, first.open, source, False, now)
        if candle is self.candles[-1] and now >= candle.time and len(self.candles) > 1:
            interval = candle.time - self.candles[-2].time
            if now >= candle.time + interval:  # past the data: the last known close
                source = _("{file} close {day}").format(file=self.label,
                                                        day=candle.time.date().isoformat())
                return PriceQuote(symbol, candle.close, source, False, now)
        return PriceQuote(
            symbol, candle.open, f"{self.label} {candle.time:%Y-%m-%d %H:%M}", False, now
        )

    def closed_candles(self, symbol: str, limit: int) -> list[Candle]:
        """The candles closed at the clock's time (the one it stands in is still forming)."""
        if symbol != self.symbol:
            raise LookupError(_("{file} has candles for {symbol}, not {wanted}").format(
                file=self.label, symbol=self.symbol, wanted=symbol))
        end = bisect.bisect_right(self.times, self.clock() - self.interval)
        return self.candles[max(0, end - limit) : end]
