"""The paper account's balances and fills, kept in the database so they survive restarts."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import PaperBalance, PaperFill


def ensure_opened(session: Session, exchange: str, opening: Mapping[str, Decimal]) -> None:
    """Give a new paper account its opening balances, once."""
    found = session.scalar(select(PaperBalance.id).where(PaperBalance.exchange == exchange))
    if found is None:
        for asset, amount in opening.items():
            session.add(PaperBalance(exchange=exchange, asset=asset, free=amount))
        session.flush()


def balances(session: Session, exchange: str, *, lock: bool = False) -> dict[str, Decimal]:
    query = select(PaperBalance).where(PaperBalance.exchange == exchange)
    if lock:
        query = query.with_for_update()
    return {row.asset: row.free for row in session.scalars(query)}


def adjust(session: Session, exchange: str, asset: str, delta: Decimal) -> Decimal:
    """Add `delta` (negative to spend) to one balance; refuse to go below zero."""
    row = session.scalar(
        select(PaperBalance)
        .where(PaperBalance.exchange == exchange, PaperBalance.asset == asset)
        .with_for_update()
    )
    if row is None:
        row = PaperBalance(exchange=exchange, asset=asset, free=Decimal(0))
        session.add(row)
    if row.free + delta < 0:
        raise ValueError(f"paper balance of {asset} would go negative")
    row.free = row.free + delta
    session.flush()
    return row.free


def find_fill(session: Session, exchange: str, client_order_id: str) -> PaperFill | None:
    return session.scalar(
        select(PaperFill).where(
            PaperFill.exchange == exchange, PaperFill.client_order_id == client_order_id
        )
    )
