"""Order history for `/history`."""

from __future__ import annotations

from collections.abc import Sequence

from bot.engine.context import Engine
from storage import orders
from storage.models import Order

MAX_HISTORY = 50


def recent_orders(engine: Engine, limit: int) -> Sequence[Order]:
    with engine.db.transaction() as session:
        return orders.recent(session, min(limit, MAX_HISTORY), engine.exchange.name)
