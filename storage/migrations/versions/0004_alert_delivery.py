"""alert delivery: claim leases on the outbox, per-person mutes, channel states

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_channels",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("until", storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("updated_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_alert_channels")),
    )
    op.create_table(
        "alert_mutes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("updated_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_mutes")),
        sa.UniqueConstraint("person", "kind", name=op.f("uq_alert_mutes_person")),
    )
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claimed_until", storage.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_alert_outbox_recipient_status", ["recipient", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_outbox_recipient_status")
        batch_op.drop_column("claimed_until")

    op.drop_table("alert_mutes")
    op.drop_table("alert_channels")
