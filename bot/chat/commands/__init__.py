"""The commands, grouped by topic. `build_registry()` is the single source of every channel's
handlers, of `/help`, of Telegram's command menu and of README's command table."""

from __future__ import annotations

from bot.chat.commands import (
    alerts,
    analysis,
    books,
    control,
    general,
    language,
    portfolio,
    profit,
    reserve,
    s4,
    schedules,
    strategy,
    trading,
)
from bot.chat.registry import Registry


def build_registry() -> Registry:
    registry = Registry()
    for module in (
        general, portfolio, profit, books, trading, schedules, strategy, s4, reserve, analysis,
        alerts, control, language,
    ):
        module.register(registry)
    return registry
