"""The owner's strategy choices per exchange, edited with optimistic locking.

Each edit reads the row with its version and writes it back only if nobody changed it meanwhile;
a concurrent edit fails with a clear message instead of silently overwriting the other one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from bot.engine.context import Engine
from bot.engine.errors import UserError
from bot.i18n import _
from storage.models import StrategySettings
from strategies.rules import DEFAULT_SELL_PERCENT


@dataclass(frozen=True, slots=True)
class StrategyView:
    exchange: str
    cdc_enabled: bool
    sell_percent: Decimal
    order_cap: Decimal | None
    s4_execute: bool
    version: int


def _defaults(exchange: str) -> StrategyView:
    return StrategyView(exchange, True, DEFAULT_SELL_PERCENT, None, False, 0)


def _row(session: Session, engine: Engine, exchange: str) -> StrategySettings:
    """The row, made with the defaults on the first change (in a savepoint: a concurrent first
    change by another process makes it too, and then this one uses theirs)."""
    query = select(StrategySettings).where(StrategySettings.exchange == exchange)
    row = session.scalar(query)
    if row is None:
        row = StrategySettings(
            exchange=exchange,
            cdc_enabled=True,
            sell_percent=DEFAULT_SELL_PERCENT,
            order_cap=None,
            s4_execute=False,
            updated_at=engine.clock(),
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            row = session.scalars(query).one()
    return row


def _view(row: StrategySettings) -> StrategyView:
    return StrategyView(
        row.exchange, row.cdc_enabled, row.sell_percent, row.order_cap, row.s4_execute, row.version
    )


def current(engine: Engine, exchange: str | None = None) -> StrategyView:
    """The settings as they are; the defaults while nobody changed them (reading writes
    nothing, so concurrent readers never race to make the row)."""
    name = exchange or engine.exchange.name
    with engine.db.transaction() as session:
        row = session.scalar(select(StrategySettings).where(StrategySettings.exchange == name))
        return _defaults(name) if row is None else _view(row)


def update(engine: Engine, exchange: str | None = None, **changes: object) -> StrategyView:
    """Apply `changes` to the settings; fails if they changed since they were read."""
    name = exchange or engine.exchange.name
    try:
        with engine.db.transaction() as session:
            row = _row(session, engine, name)
            for field, value in changes.items():
                setattr(row, field, value)
            row.updated_at = engine.clock()
            session.flush()
            return _view(row)
    except StaleDataError:
        raise UserError(
            _("The strategy settings changed meanwhile; look at /strategy and try again")
        ) from None
