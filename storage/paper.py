"""The paper account's balances and fills, kept in the database so they survive restarts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def fills_after(session: Session, exchange: str, symbol: str, after_id: int
                ) -> Sequence[PaperFill]:
    return session.scalars(
        select(PaperFill).where(PaperFill.exchange == exchange, PaperFill.symbol == symbol,
                                PaperFill.id > after_id).order_by(PaperFill.id)
    ).all()


def fill_by_id(session: Session, exchange: str, fill_id: int) -> PaperFill | None:
    row = session.get(PaperFill, fill_id)
    return row if row is not None and row.exchange == exchange else None
