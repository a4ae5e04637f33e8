"""Order rows: the intent written before sending, and its outcome written after."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Order

SENDING = "sending"
FILLED = "filled"
REJECTED = "rejected"
FAILED = "failed"


def by_client_id(session: Session, client_order_id: str, *, lock: bool = False) -> Order | None:
    query = select(Order).where(Order.client_order_id == client_order_id)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def write_intent(
    session: Session,
    *,
    client_order_id: str,
    cause: str,
    cause_key: str,
    side: str,
    symbol: str,
    exchange: str,
    mode: str,
    requested_quote: Decimal | None,
    requested_base: Decimal | None,
    requested_by: str | None,
    now: datetime,
) -> Order:
    order = Order(
        client_order_id=client_order_id,
        cause=cause,
        cause_key=cause_key,
        side=side,
        symbol=symbol,
        exchange=exchange,
        mode=mode,
        status=SENDING,
        requested_quote=requested_quote,
        requested_base=requested_base,
        requested_by=requested_by,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    return order


def recent(session: Session, limit: int, exchange: str | None = None) -> Sequence[Order]:
    query = select(Order).order_by(Order.id.desc()).limit(limit)
    if exchange is not None:
        query = query.where(Order.exchange == exchange)
    return session.scalars(query).all()


def filled(session: Session, *, exchange: str, mode: str, symbol: str) -> Sequence[Order]:
    return session.scalars(
        select(Order)
        .where(
            Order.exchange == exchange,
            Order.mode == mode,
            Order.symbol == symbol,
            Order.status == FILLED,
        )
        .order_by(Order.id)
    ).all()


def unsettled(session: Session) -> Sequence[Order]:
    """Intents whose outcome was never recorded (a crash or a timeout between send and record)."""
    return session.scalars(select(Order).where(Order.status == SENDING).order_by(Order.id)).all()
