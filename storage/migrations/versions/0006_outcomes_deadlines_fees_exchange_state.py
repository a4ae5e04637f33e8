"""run and flip retries, order deadlines and partial fills, fees per currency, exchange state,
keys per (exchange, mode)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

Keys stored before keep a NULL mode: they are used for any mode until keys are added for one.
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("next_attempt_at", storage.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
    with op.batch_alter_table("flip_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("next_attempt_at", storage.types.UtcDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deadline_at", storage.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("partial", sa.Boolean(), server_default="0", nullable=False))
    op.create_table(
        "order_fees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("amount", storage.types.Amount(precision=38, scale=18), nullable=False),
        sa.Column("quote_value", storage.types.Amount(precision=38, scale=18), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_fees_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_fees")),
    )
    with op.batch_alter_table("order_fees", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_fees_order_id"), ["order_id"], unique=False)
    op.create_table(
        "exchange_states",
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("paused_until", storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("pause_reason", sa.String(length=200), server_default="", nullable=False),
        sa.Column("clock_offset_ms", sa.Integer(), nullable=True),
        sa.Column("updated_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("exchange", "mode", name=op.f("pk_exchange_states")),
    )
    with op.batch_alter_table("exchange_credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mode", sa.String(length=8), nullable=True))
        batch_op.drop_constraint("uq_exchange_credentials_exchange", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_exchange_credentials_exchange"), ["exchange", "mode"]
        )


def downgrade() -> None:
    with op.batch_alter_table("exchange_credentials", schema=None) as batch_op:
        batch_op.drop_constraint("uq_exchange_credentials_exchange", type_="unique")
        batch_op.create_unique_constraint("uq_exchange_credentials_exchange", ["exchange"])
        batch_op.drop_column("mode")
    op.drop_table("exchange_states")
    with op.batch_alter_table("order_fees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_fees_order_id"))
    op.drop_table("order_fees")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("partial")
        batch_op.drop_column("deadline_at")
    with op.batch_alter_table("flip_events", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
