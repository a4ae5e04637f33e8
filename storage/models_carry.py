"""The carry of small schedules: money a scheduled run set aside because its amount was below
the exchange's minimum order, to be bought at the first run where the carried total reaches it.
Named in `storage.models` too, like every table."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base
from storage.types import Amount, UtcDateTime


class CarryEntry(Base):
    """One movement of a schedule's carry: + a run's amount carried, or the change a carried
    buy left; - what a buy took. A schedule's carry is the sum of its rows; rows are written
    only under the account's lock (`reserve_accounts`), like every money check."""

    __tablename__ = "carry_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(8))
    schedule_id: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Amount)
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(200), default="")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_carry_ledger_account", "exchange", "mode", "schedule_id"),)
