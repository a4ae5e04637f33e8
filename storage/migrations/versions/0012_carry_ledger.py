"""The carry of small schedules: amounts below the exchange's minimum, set aside until bought

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "carry_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("amount", storage.types.Amount(precision=38, scale=18), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"],
                                name=op.f("fk_carry_ledger_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carry_ledger")),
    )
    op.create_index("ix_carry_ledger_account", "carry_ledger",
                    ["exchange", "mode", "schedule_id"])


def downgrade() -> None:
    op.drop_index("ix_carry_ledger_account", table_name="carry_ledger")
    op.drop_table("carry_ledger")
