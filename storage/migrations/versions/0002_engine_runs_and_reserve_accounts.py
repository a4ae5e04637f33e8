"""engine runs and reserve accounts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cause_key", sa.String(length=120), server_default="", nullable=False)
        )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("removed", sa.Boolean(), server_default="0", nullable=False))
    op.create_table(
        "flip_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flip_key", sa.String(length=120), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("candle_time", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("trend", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.Column("created_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flip_events")),
        sa.UniqueConstraint("flip_key", name=op.f("uq_flip_events_flip_key")),
    )
    op.create_table(
        "reserve_accounts",
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("balance", storage.types.Amount(precision=38, scale=18), nullable=False),
        sa.Column("updated_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("exchange", name=op.f("pk_reserve_accounts")),
    )
    op.create_table(
        "schedule_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(length=80), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("due_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.Column("created_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedules.id"], name=op.f("fk_schedule_runs_schedule_id_schedules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_runs")),
        sa.UniqueConstraint("run_key", name=op.f("uq_schedule_runs_run_key")),
    )
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_schedule_runs_schedule_id"), ["schedule_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_runs_schedule_id"))

    op.drop_table("schedule_runs")
    op.drop_table("reserve_accounts")
    op.drop_table("flip_events")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_column("removed")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("cause_key")
