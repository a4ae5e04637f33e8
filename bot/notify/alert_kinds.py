"""The alert kinds: what `/alerts` lists and mutes, and which only lose their sound when muted.

Every kind here has a card in `bot.cards.alerts` (or its ops and S4 companions).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kind:
    """An alert kind: what `/alerts` calls it, and whether muting it only silences it."""

    name: str
    summary: str
    floor_silent: bool  # fills and errors: muting them only takes their sound away


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("order_filled", "an order you placed was filled", True),
        Kind("dca_bought", "a scheduled DCA bought", True),
        Kind("dca_reserved", "a scheduled DCA went to the reserve", False),
        Kind("dca_carried", "a small scheduled DCA was carried to the next run", False),
        Kind("sold_on_red", "the trend turned red and the bot sold", True),
        Kind("sold_to_reserve", "a sale into the reserve", True),
        Kind("reserve_deployed", "the reserve bought back in", True),
        Kind("reserve_added", "the reserve was topped up", False),
        Kind("trend_flip", "the CDC trend flipped", False),
        Kind("flip_not_acted", "a flip the bot could not act on", True),
        Kind("s4_rotation", "S4 rotated, or would have (shadow), or could not", True),
        Kind("order_failed", "an order failed", True),
        Kind("below_minimum", "an order was below the exchange minimum", True),
        Kind("circuit_open", "trading paused on an exchange", True),
        Kind("circuit_closed", "trading resumed on an exchange", False),
        Kind("schedule_missed", "a scheduled DCA was missed", True),
        Kind("schedule_changed", "a schedule was added, paused or removed", False),
        Kind("daily_summary", "the daily summary (DCABOT_DAILY_SUMMARY)", False),
        Kind("bot_started", "the bot started", False),
        Kind("runway_low", "the free USDT pays for few coming runs", True),
        Kind("run_unfunded", "a run within a day cannot be paid", True),
        Kind("trades_synced", "trades found on the exchange (by hand), or corrected", True),
        Kind("bot_stopped", "the bot was shut down", False),
        Kind("run_delayed", "a scheduled DCA waits for the exchange", True),
        Kind("task_failed", "background work of the bot failed", True),
        Kind("exchange_paused", "an exchange asked the bot to wait (rate limit, ban)", True),
        Kind("run_paused", "a scheduled DCA was skipped because trading is paused", True),
        Kind("trading_paused", "an admin paused the bot's trading", True),
        Kind("trading_resumed", "an admin resumed the bot's trading", True),
    )
}
