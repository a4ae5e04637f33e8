"""S4 decisions in a table of their own

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

S4 decisions were kept as flip_events rows with symbol 'S4:BTC/GOLD' and the asset in the
trend column; they move here (mode paper unless an order of that exchange says otherwise), so
resuming flips never reads an asset as a trend.
"""

import json

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD_PAIR = "S4:BTC/GOLD"


def upgrade() -> None:
    op.create_table(
        "s4_rotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_key", sa.String(length=120), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("candle_time", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("from_asset", sa.String(length=8), nullable=False),
        sa.Column("to_asset", sa.String(length=8), nullable=False),
        sa.Column("shadow", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("legs", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_s4_rotations")),
        sa.UniqueConstraint("decision_key", name=op.f("uq_s4_rotations_decision_key")),
    )
    op.create_index(
        "ix_s4_rotations_account", "s4_rotations", ["exchange", "mode", "candle_time"], unique=False
    )
    bind = op.get_bind()
    modes = dict(bind.execute(sa.text("SELECT exchange, mode FROM orders ORDER BY id")).all())
    old = bind.execute(
        sa.text(
            "SELECT flip_key, exchange, candle_time, trend, status, outcome, created_at "
            "FROM flip_events WHERE symbol = :pair ORDER BY candle_time"
        ),
        {"pair": OLD_PAIR},
    ).all()
    previous: dict[str, str] = {}
    for key, exchange, candle_time, asset, status, outcome, created_at in old:
        came_from = previous.get(exchange, "gold" if asset == "btc" else "btc")
        previous[exchange] = asset
        bind.execute(
            sa.text(
                "INSERT INTO s4_rotations (decision_key, exchange, mode, candle_time, from_asset,"
                " to_asset, shadow, status, legs, outcome, attempts, created_at) VALUES (:key,"
                " :exchange, :mode, :candle_time, :from_asset, :to_asset, :shadow, :status,"
                " :legs, :outcome, 0, :created_at)"
            ),
            {
                "key": key,
                "exchange": exchange,
                "mode": modes.get(exchange, "paper"),
                "candle_time": candle_time,
                "from_asset": came_from,
                "to_asset": asset,
                "shadow": status == "shadow",
                "status": status if status in ("shadow", "done") else "started",
                "legs": json.dumps({}),
                "outcome": outcome or "",
                "created_at": created_at,
            },
        )
    bind.execute(sa.text("DELETE FROM flip_events WHERE symbol = :pair"), {"pair": OLD_PAIR})


def downgrade() -> None:
    op.drop_index("ix_s4_rotations_account", table_name="s4_rotations")
    op.drop_table("s4_rotations")
