"""Confirmations kept in the database (any worker can take a tap, a restart forgets none) and
strangers' refusals shared by every worker

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_confirmations",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("asker", sa.String(length=80), nullable=False),
        sa.Column("summary", sa.String(length=200), nullable=False),
        sa.Column("retry_hint", sa.String(length=120), nullable=False),
        sa.Column("asked_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("answered_at", storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_pending_confirmations")),
    )
    op.create_index(
        op.f("ix_pending_confirmations_expires_at"), "pending_confirmations", ["expires_at"]
    )
    op.create_table(
        "stranger_refusals",
        sa.Column("user_key", sa.String(length=80), nullable=False),
        sa.Column("refused_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_key", name=op.f("pk_stranger_refusals")),
    )
    op.create_index(op.f("ix_stranger_refusals_refused_at"), "stranger_refusals", ["refused_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_stranger_refusals_refused_at"), table_name="stranger_refusals")
    op.drop_table("stranger_refusals")
    op.drop_index(
        op.f("ix_pending_confirmations_expires_at"), table_name="pending_confirmations"
    )
    op.drop_table("pending_confirmations")
