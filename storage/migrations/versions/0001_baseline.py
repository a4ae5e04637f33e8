"""baseline

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=80), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("channel_used", sa.String(length=16), nullable=True),
        sa.Column("delivered_at", storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_outbox")),
    )
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_outbox_status"), ["status"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_quote", storage.types.Amount(precision=38, scale=18), nullable=True),
        sa.Column("requested_base", storage.types.Amount(precision=38, scale=18), nullable=True),
        sa.Column("filled_base", storage.types.Amount(precision=38, scale=18), nullable=True),
        sa.Column("filled_quote", storage.types.Amount(precision=38, scale=18), nullable=True),
        sa.Column("price", storage.types.Amount(precision=38, scale=18), nullable=True),
        sa.Column("fee", storage.types.Amount(precision=38, scale=18), nullable=True),
        sa.Column("fee_asset", sa.String(length=16), nullable=True),
        sa.Column("exchange_order_id", sa.String(length=64), nullable=True),
        sa.Column("requested_by", sa.String(length=80), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_orders_client_order_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_status"), ["status"], unique=False)

    op.create_table(
        "paper_balances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("free", storage.types.Amount(precision=38, scale=18), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_balances")),
        sa.UniqueConstraint("exchange", "asset", name=op.f("uq_paper_balances_exchange")),
    )
    op.create_table(
        "paper_fills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("amount", storage.types.Amount(precision=38, scale=18), nullable=False),
        sa.Column("cost", storage.types.Amount(precision=38, scale=18), nullable=False),
        sa.Column("price", storage.types.Amount(precision=38, scale=18), nullable=False),
        sa.Column("fee", storage.types.Amount(precision=38, scale=18), nullable=False),
        sa.Column("fee_asset", sa.String(length=16), nullable=False),
        sa.Column("simulated_price", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_fills")),
        sa.UniqueConstraint("exchange", "client_order_id", name=op.f("uq_paper_fills_exchange")),
    )
    op.create_table(
        "processed_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("update_key", sa.String(length=80), nullable=False),
        sa.Column("processed_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_updates")),
        sa.UniqueConstraint("channel", "update_key", name=op.f("uq_processed_updates_channel")),
    )
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("days", sa.String(length=40), nullable=False),
        sa.Column("local_time", sa.String(length=5), nullable=False),
        sa.Column("amount", storage.types.Amount(precision=38, scale=18), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    op.create_table(
        "strategy_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("cdc_enabled", sa.Boolean(), nullable=False),
        sa.Column("sell_percent", storage.types.Amount(precision=38, scale=18), nullable=False),
        sa.Column("order_cap", storage.types.Amount(precision=38, scale=18), nullable=True),
        sa.Column("s4_execute", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strategy_settings")),
        sa.UniqueConstraint("exchange", name=op.f("uq_strategy_settings_exchange")),
    )
    op.create_table(
        "reserve_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("amount", storage.types.Amount(precision=38, scale=18), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_reserve_ledger_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reserve_ledger")),
    )
    with op.batch_alter_table("reserve_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reserve_ledger_exchange"), ["exchange"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reserve_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reserve_ledger_exchange"))

    op.drop_table("reserve_ledger")
    op.drop_table("strategy_settings")
    op.drop_table("schedules")
    op.drop_table("processed_updates")
    op.drop_table("paper_fills")
    op.drop_table("paper_balances")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_status"))

    op.drop_table("orders")
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_outbox_status"))

    op.drop_table("alert_outbox")
