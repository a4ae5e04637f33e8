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
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import Amount, UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


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


class ExchangeState(Base):
    """What one account's exchange said about itself and must be remembered across restarts
    and shared by processes: a ban or a Retry-After pause (no request before `paused_until`),
    and the clock offset last measured."""

    __tablename__ = "exchange_states"

    exchange: Mapped[str] = mapped_column(String(32), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8), primary_key=True)
    paused_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    pause_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    clock_offset_ms: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


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


class OutboxAlert(Base):
    """An alert for the owner, written in the same transaction as the event it reports."""

    __tablename__ = "alert_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str | None] = mapped_column(String(80))
    payload: Mapped[str] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), index=True, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    channel_used: Mapped[str | None] = mapped_column(String(16))
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # While `sending`: the claiming dispatcher's lease. Past it, another dispatcher may take over.
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_alert_outbox_recipient_status", "recipient", "status"),)


class ProcessedUpdate(Base):
    """An inbound update already handled (Telegram `update_id`, LINE `webhookEventId`)."""

    __tablename__ = "processed_updates"
    __table_args__ = (UniqueConstraint("channel", "update_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    update_key: Mapped[str] = mapped_column(String(80))
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime)


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


class ExchangeCredential(Base):
    """One exchange's API keys, each field sealed with AES-GCM under the master key.

    Every field has its own nonce; the associated data binds each ciphertext to this row's id,
    exchange and field, so a ciphertext moved to another row or field does not open.
    `key_check` is a fingerprint of the master key the row was sealed with: it tells a changed
    master key apart from a tampered row. See `storage.credentials`.
    """

    __tablename__ = "exchange_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange: Mapped[str] = mapped_column(String(32))
    # None: stored before keys were kept per mode, used for any mode until replaced.
    mode: Mapped[str | None] = mapped_column(String(8))
    api_key_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    api_key_nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    secret_nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    passphrase_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    passphrase_nonce: Mapped[bytes | None] = mapped_column(LargeBinary(12))
    key_check: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("exchange", "mode"),)


class AlertMute(Base):
    """How one person wants one kind of alert: `muted` (not sent) or `silent` (no sound)."""

    __tablename__ = "alert_mutes"
    __table_args__ = (UniqueConstraint("person", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AlertChannelState(Base):
    """What the dispatchers know about a chat channel: `ok`, `rate_limited`, `exhausted` (LINE's
    monthly quota) or `down`, until when. Shared by every dispatcher and shown by /health."""

    __tablename__ = "alert_channels"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TradingPause(Base):
    """While this row (`id` 1) exists, the scheduler, the trend watch and S4 start no trades."""

    __tablename__ = "trading_pause"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paused_by: Mapped[str] = mapped_column(String(80))
    paused_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FlipPolicy(Base):
    """Which exchange acts on a trend flip (`id` 1; no row means `auto`: each on its own)."""

    __tablename__ = "flip_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy: Mapped[str] = mapped_column(String(32))
    changed_by: Mapped[str] = mapped_column(String(80))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TradeSync(Base):
    """How far the account's trade history was read from the exchange (`dcabot sync`): the
    exchange's own cursor (Binance's last trade id, OKX's last fill time) per market."""

    __tablename__ = "trade_syncs"

    exchange: Mapped[str] = mapped_column(String(32), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DownloadLink(Base):
    """A file the bot made for someone (an export), fetched once by its secret link before
    `expires_at`; only the token's SHA-256 is stored."""

    __tablename__ = "download_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
