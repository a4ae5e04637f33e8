"""Order history for `/history`."""

from __future__ import annotations

from collections.abc import Sequence

from bot.engine.context import Engine
from storage import orders
from storage.models import Order

MAX_HISTORY = 50


def recent_orders(engine: Engine, limit: int, *, every_exchange: bool = False
                  ) -> Sequence[Order]:
    """The newest orders of this engine's exchange, or of every exchange (each line names
    its exchange and mode)."""
    exchange = None if every_exchange else engine.exchange.name
    with engine.db.transaction() as session:
        return orders.recent(session, min(limit, MAX_HISTORY), exchange)
