"""Order rows: the intent written before sending, and its outcome written after."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, or_, select
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
        .order_by(Order.updated_at, Order.id)  # as they filled (trades synced late included)
    ).all()


def unsettled(session: Session, exchange: str | None = None, mode: str | None = None
              ) -> Sequence[Order]:
    """Intents whose outcome was never recorded (a crash or a timeout between send and record),
    of one account when `exchange` and `mode` are given."""
    query = select(Order).where(Order.status == SENDING).order_by(Order.id)
    if exchange is not None:
        query = query.where(Order.exchange == exchange)
    if mode is not None:
        query = query.where(Order.mode == mode)
    return session.scalars(query).all()


def open_in_other_modes(session: Session, exchange: str, mode: str) -> dict[str, int]:
    """Intents of `exchange` left `sending` in modes other than `mode`: `{mode: count}`."""
    rows = session.execute(
        select(Order.mode, func.count(Order.id))
        .where(Order.status == SENDING, Order.exchange == exchange, Order.mode != mode)
        .group_by(Order.mode)
    ).all()
    return {str(other): int(count) for other, count in rows}


def for_cause(session: Session, cause: str, key: str) -> Sequence[Order]:
    """The orders placed for one cause key, every attempt (`key`, `key#2`, `key#3`, ...)."""
    return session.scalars(
        select(Order)
        .where(Order.cause == cause, or_(Order.cause_key == key,
                                         Order.cause_key.like(f"{key}#%")))
        .order_by(Order.id)
    ).all()


def attempt_key(key: str, attempt: int) -> str:
    """The cause key of the `attempt`-th order for one cause: a new order may only follow one
    proven never placed, and it needs a client id of its own."""
    return key if attempt <= 1 else f"{key}#{attempt}"


def base_key(cause_key: str) -> str:
    return cause_key.split("#", 1)[0]


def position(session: Session, exchange: str, mode: str, symbols: Sequence[str]
             ) -> dict[str, Decimal]:
    """What the account's filled orders on `symbols` add up to, per base asset: bought net of
    the fee taken in it, less sold (the bot's own books, not the exchange's balance)."""
    held: dict[str, Decimal] = {}
    rows = session.scalars(
        select(Order).where(Order.exchange == exchange, Order.mode == mode,
                            Order.status == FILLED, Order.symbol.in_(symbols))
    )
    for order in rows:
        base = order.symbol.split("/")[0]
        amount = order.filled_base or Decimal(0)
        if order.side == "buy":
            fee = order.fee if order.fee_asset == base and order.fee is not None else 0
            change = amount - fee
        else:
            change = -amount
        held[base] = held.get(base, Decimal(0)) + change
    return held
