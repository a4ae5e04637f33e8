"""One-time download links for exports, schedule labels, and how far trades were synced

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("schedules", sa.Column("label", sa.String(length=40), nullable=True))
    op.create_table(
        "download_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("expires_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_download_links")),
    )
    op.create_table(
        "trade_syncs",
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("cursor", sa.String(length=64), nullable=False),
        sa.Column("synced_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("exchange", "mode", "symbol", name=op.f("pk_trade_syncs")),
    )


def downgrade() -> None:
    op.drop_table("trade_syncs")
    op.drop_table("download_links")
    op.drop_column("schedules", "label")  # in place: a rebuild fails while runs point at it
