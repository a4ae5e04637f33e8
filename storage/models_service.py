"""The tables about talking to people and running the service: the alert outbox, claimed
chat updates, alert mutes and channel states, stored exchange credentials, each exchange's
saved state (bans, clock) and trade-sync cursor, the pause switch, the flip policy and one-time
download links. Trading's books are in `storage.models`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base
from storage.types import UtcDateTime


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


class DownloadLink(Base):
    """A file the bot made for someone (an export), fetched once by its secret link before
    `expires_at`; only the token's SHA-256 is stored."""

    __tablename__ = "download_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


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


class TradeSync(Base):
    """How far the account's trade history was read from the exchange (`dcabot sync`): the
    exchange's own cursor (Binance's last trade id, OKX's last fill time) per market."""

    __tablename__ = "trade_syncs"

    exchange: Mapped[str] = mapped_column(String(32), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PendingConfirmation(Base):
    """A money-moving or trading-changing command asked and waiting for its asker's tap: what
    to do (`kind`, `params` as JSON), who may answer, until when. `state` goes from `pending`
    to `taken` or `cancelled` in one conditional update, so one tap wins across processes."""

    __tablename__ = "pending_confirmations"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    params: Mapped[str] = mapped_column(Text)
    asker: Mapped[str] = mapped_column(String(80))
    summary: Mapped[str] = mapped_column(String(200))
    retry_hint: Mapped[str] = mapped_column(String(120))
    asked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class StrangerRefusal(Base):
    """When a stranger (by channel:id) last heard the refusal, shared by every web worker."""

    __tablename__ = "stranger_refusals"

    user_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    refused_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class PersonLanguage(Base):
    """A person's language (`en`, `th`), by `channel:id`: chosen with /lang (`explicit`), or
    their chat app's as last seen (Telegram's `language_code`), which a choice overrides."""

    __tablename__ = "person_languages"

    person: Mapped[str] = mapped_column(String(80), primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    explicit: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
