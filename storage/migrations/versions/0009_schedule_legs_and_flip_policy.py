"""Schedules split across exchanges (one row per leg), and the flip policy

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

Every existing schedule stays as it was: one leg, on the exchange it was made for.
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(sa.Column("leg_of", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_schedules_leg_of"), ["leg_of"], unique=False)
    op.create_table(
        "flip_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(length=32), nullable=False),
        sa.Column("changed_by", sa.String(length=80), nullable=False),
        sa.Column("changed_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flip_policy")),
    )


def downgrade() -> None:
    op.drop_table("flip_policy")
    # in place (SQLite 3.35+ drops a column without rebuilding the table): a batch rebuild
    # would DROP `schedules`, which SQLite refuses while schedule_runs point at it
    op.drop_index(op.f("ix_schedules_leg_of"), table_name="schedules")
    op.drop_column("schedules", "leg_of")
