"""The tables. Amounts are `Amount` (exact decimals), times are `UtcDateTime`.

Migrations in `storage/migrations` create these; a test checks the migrated schema matches.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base as Base  # re-exported: migrations and tests take it from here
from storage.types import Amount, UtcDateTime


class Order(Base):
    """One order the bot decided to place, written as an intent *before* it is sent.

    `client_order_id` is derived from the cause (a confirmation token, a schedule run, a flip
    candle), so a second attempt for the same cause finds this row instead of placing another order.
    Status: `sending` (intent written, outcome unknown), `filled`, `rejected` (the exchange or our
    own checks refused it; nothing was bought), `failed` (it could not be confirmed either way).
    """

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    cause: Mapped[str] = mapped_column(String(32))
    cause_key: Mapped[str] = mapped_column(String(120), default="", server_default="")
    side: Mapped[str] = mapped_column(String(4))
    symbol: Mapped[str] = mapped_column(String(32))
    exchange: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), index=True)
    requested_quote: Mapped[Decimal | None] = mapped_column(Amount)
    requested_base: Mapped[Decimal | None] = mapped_column(Amount)
    filled_base: Mapped[Decimal | None] = mapped_column(Amount)
    filled_quote: Mapped[Decimal | None] = mapped_column(Amount)
    price: Mapped[Decimal | None] = mapped_column(Amount)
    fee: Mapped[Decimal | None] = mapped_column(Amount)
    fee_asset: Mapped[str | None] = mapped_column(String(16))
    exchange_order_id: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str | None] = mapped_column(String(80))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The exchange's own deadline for the latest request that may have placed it (Binance:
    # signed timestamp + recvWindow; OKX: expTime), on the exchange's clock. Until it has
    # passed, "not found" proves nothing (see bot/exchanges/order_flow.py).
    deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    partial: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class OrderFee(Base):
    """One currency of an order's fee (Binance may take part in BNB and part in BTC), with its
    value in the quote currency when it could be priced."""

    __tablename__ = "order_fees"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    asset: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Amount)
    quote_value: Mapped[Decimal | None] = mapped_column(Amount)


class ReserveEntry(Base):
    """An append-only row of the USDT reserve; the balance is the sum of `amount` per account
    (exchange and mode: a paper reserve is not live money)."""

    __tablename__ = "reserve_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange: Mapped[str] = mapped_column(String(32), index=True)
    mode: Mapped[str] = mapped_column(String(8), server_default="paper")
    amount: Mapped[Decimal] = mapped_column(Amount)
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(200), default="")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StrategySettings(Base):
    """The owner's strategy choices per exchange; `version` makes concurrent edits fail loudly."""

    __tablename__ = "strategy_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange: Mapped[str] = mapped_column(String(32), unique=True)
    cdc_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    sell_percent: Mapped[Decimal] = mapped_column(Amount, default=Decimal(50))
    order_cap: Mapped[Decimal | None] = mapped_column(Amount)
    s4_execute: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Schedule(Base):
    """A DCA schedule: days (`daily` or `mon,thu`), a local time, an amount and a mode."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    days: Mapped[str] = mapped_column(String(40))
    local_time: Mapped[str] = mapped_column(String(5))
    amount: Mapped[Decimal] = mapped_column(Amount)
    exchange: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(8))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    removed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # a schedule split across exchanges is one row per leg; every leg names the first's id
    leg_of: Mapped[int | None] = mapped_column(Integer, index=True)
    label: Mapped[str | None] = mapped_column(String(40))  # the owner's name for it ("Payday")


class PaperBalance(Base):
    """The paper account's balance of one asset on one (simulated) exchange."""

    __tablename__ = "paper_balances"
    __table_args__ = (UniqueConstraint("exchange", "asset"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange: Mapped[str] = mapped_column(String(32))
    asset: Mapped[str] = mapped_column(String(16))
    free: Mapped[Decimal] = mapped_column(Amount)


class PaperFill(Base):
    """The paper exchange's own record of an order it filled, found again by client order id."""

    __tablename__ = "paper_fills"
    __table_args__ = (UniqueConstraint("exchange", "client_order_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange: Mapped[str] = mapped_column(String(32))
    client_order_id: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    amount: Mapped[Decimal] = mapped_column(Amount)
    cost: Mapped[Decimal] = mapped_column(Amount)
    price: Mapped[Decimal] = mapped_column(Amount)
    fee: Mapped[Decimal] = mapped_column(Amount)
    fee_asset: Mapped[str] = mapped_column(String(16))
    simulated_price: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReserveAccount(Base):
    """One account (exchange and mode): the reserve's recorded balance, and the row every
    money-moving transaction on that account locks.

    Locking ledger rows cannot stop a concurrent insert, so spending locks this row instead and
    updates it with every ledger row; the balance always equals the ledger's sum (a test checks).
    `epoch` counts the holds settled on the account: a balance read from the exchange before the
    lock is trusted only if no hold was settled since (see `bot.engine.funds`).
    """

    __tablename__ = "reserve_accounts"

    exchange: Mapped[str] = mapped_column(String(32), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8), primary_key=True)
    balance: Mapped[Decimal] = mapped_column(Amount)
    epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FundHold(Base):
    """Money an order in flight will spend, held from the moment its intent is written until
    it settles (filled, refused, or proven never placed). Free money is the exchange's free
    balance less the reserve and every active hold, so two orders can never spend it twice."""

    __tablename__ = "fund_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(8))
    asset: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Amount)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_fund_holds_account", "exchange", "mode", "released_at"),)


class ScheduleRun(Base):
    """One due time of one schedule. `run_key` is unique: a run whose key exists does nothing.

    Status: `started` (claimed; resumed at start-up if the process died), `retrying` (the
    exchange or the network was down: tried again at `next_attempt_at` while within the grace),
    `done` (bought, saved to the reserve, skipped or failed, said in `outcome`), `missed`.
    """

    __tablename__ = "schedule_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_key: Mapped[str] = mapped_column(String(80), unique=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id"), index=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(12))
    outcome: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class FlipEvent(Base):
    """A trend flip acted on once, keyed by exchange, symbol and the flip candle's open time."""

    __tablename__ = "flip_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flip_key: Mapped[str] = mapped_column(String(120), unique=True)
    exchange: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    candle_time: Mapped[datetime] = mapped_column(UtcDateTime)
    trend: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12))
    outcome: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class S4Rotation(Base):
    """One S4 decision, kept once per (exchange, mode, deciding candle): a rotation from one
    asset to the other, traded (`shadow` False) or only told (`shadow` True), or the baseline
    the first watch found in the history (`status` baseline, nothing traded).

    A traded rotation is two orders whose cause keys derive from `decision_key` (`:sell`,
    `:buy`), so a crash between them resumes the second leg once. `legs` is what the rotation
    would do or did, as JSON (assets, amounts, prices, notional). Status: baseline, shadow,
    started, retrying (the exchange was down), done, missed, refused.
    """

    __tablename__ = "s4_rotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_key: Mapped[str] = mapped_column(String(120), unique=True)
    exchange: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(8))
    candle_time: Mapped[datetime] = mapped_column(UtcDateTime)
    from_asset: Mapped[str] = mapped_column(String(8))
    to_asset: Mapped[str] = mapped_column(String(8))
    shadow: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(12))
    legs: Mapped[str] = mapped_column(Text, default="{}")
    outcome: Mapped[str] = mapped_column(String(200), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_s4_rotations_account", "exchange", "mode", "candle_time"),)


# Tables about talking to people and running the service live in `storage.models_service`;
# named here too, so every table is a `storage.models` name and on `Base.metadata`.
from storage.models_carry import CarryEntry as CarryEntry  # noqa: E402
from storage.models_service import AlertChannelState as AlertChannelState  # noqa: E402
from storage.models_service import AlertMute as AlertMute  # noqa: E402
from storage.models_service import DownloadLink as DownloadLink  # noqa: E402
from storage.models_service import ExchangeCredential as ExchangeCredential  # noqa: E402
from storage.models_service import ExchangeState as ExchangeState  # noqa: E402
from storage.models_service import FlipPolicy as FlipPolicy  # noqa: E402
from storage.models_service import OutboxAlert as OutboxAlert  # noqa: E402
from storage.models_service import PendingConfirmation as PendingConfirmation  # noqa: E402
from storage.models_service import PersonLanguage as PersonLanguage  # noqa: E402
from storage.models_service import ProcessedUpdate as ProcessedUpdate  # noqa: E402
from storage.models_service import StrangerRefusal as StrangerRefusal  # noqa: E402
from storage.models_service import TradeSync as TradeSync  # noqa: E402
from storage.models_service import TradingPause as TradingPause  # noqa: E402
