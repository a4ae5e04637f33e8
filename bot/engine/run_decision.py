"""What a scheduled `cdc` or `plain` run does with its amount: buy, or save it to the reserve.

The trend is read first and any flip not acted on yet is acted on, so a flip and a DCA on the
same day happen in the backtester's order. A `plain` run does not need the trend: when another
exchange gives it (`DCABOT_SIGNAL_EXCHANGE`) and cannot be read, the run buys anyway and the
daily trend watch acts on the flip once that exchange answers again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from bot.engine.context import Engine
from bot.engine.trend_watch import TrendReading, act_on_flips, read_trend
from bot.exchanges.base import ExchangeError
from strategies.cdc import Trend
from strategies.rules import BuyBtc, decide_scheduled_dca

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SaveInstead:
    amount: Decimal
    trend: Trend | None


async def _trend_for(engine: Engine, mode: str) -> TrendReading | None:
    try:
        return await read_trend(engine)
    except ExchangeError:
        if mode == "cdc" or engine.trend_source is None:
            raise
        log.warning("%s: the trend's exchange cannot be read; a plain run buys without it",
                    engine.exchange.name)
        return None


async def save_instead(engine: Engine, mode: str, cdc_enabled: bool, amount: Decimal
                       ) -> SaveInstead | None:
    """None to buy `amount`; else what to set aside in the reserve, and the trend why."""
    reading = await _trend_for(engine, mode)
    if reading is None:
        return None
    await act_on_flips(engine, reading)
    if mode != "cdc":
        return None
    action = decide_scheduled_dca(reading.trend, cdc_enabled, amount)
    if isinstance(action, BuyBtc):
        return None
    return SaveInstead(action.quote_amount, reading.trend)
