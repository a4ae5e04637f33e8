"""fund holds; reserve accounts and ledger per (exchange, mode) with a settlement epoch

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

An existing reserve belongs to the mode its exchange last traded in (the newest order's mode),
or to paper when no order was ever placed there.
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _mode_of_each_exchange() -> dict[str, str]:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT exchange, mode FROM orders ORDER BY id")).all()
    modes: dict[str, str] = {}
    for exchange, mode in rows:
        modes[exchange] = mode  # the newest order wins
    return modes


def upgrade() -> None:
    modes = _mode_of_each_exchange()
    bind = op.get_bind()
    accounts = bind.execute(
        sa.text("SELECT exchange, balance, updated_at FROM reserve_accounts")
    ).all()
    op.drop_table("reserve_accounts")
    op.create_table(
        "reserve_accounts",
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("balance", storage.types.Amount(precision=38, scale=18), nullable=False),
        sa.Column("epoch", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("exchange", "mode", name=op.f("pk_reserve_accounts")),
    )
    for exchange, balance, updated_at in accounts:
        bind.execute(
            sa.text(
                "INSERT INTO reserve_accounts (exchange, mode, balance, epoch, updated_at) "
                "VALUES (:exchange, :mode, :balance, 0, :updated_at)"
            ),
            {
                "exchange": exchange,
                "mode": modes.get(exchange, "paper"),
                "balance": balance,
                "updated_at": updated_at,
            },
        )
    with op.batch_alter_table("reserve_ledger", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mode", sa.String(length=8), server_default="paper", nullable=False)
        )
    for exchange, mode in modes.items():
        bind.execute(
            sa.text("UPDATE reserve_ledger SET mode = :mode WHERE exchange = :exchange"),
            {"mode": mode, "exchange": exchange},
        )
    op.create_table(
        "fund_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("amount", storage.types.Amount(precision=38, scale=18), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("released_at", storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_fund_holds_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_holds")),
        sa.UniqueConstraint("order_id", name=op.f("uq_fund_holds_order_id")),
    )
    op.create_index(
        "ix_fund_holds_account", "fund_holds", ["exchange", "mode", "released_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_fund_holds_account", table_name="fund_holds")
    op.drop_table("fund_holds")
    with op.batch_alter_table("reserve_ledger", schema=None) as batch_op:
        batch_op.drop_column("mode")
    op.drop_table("reserve_accounts")
    op.create_table(
        "reserve_accounts",
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("balance", storage.types.Amount(precision=38, scale=18), nullable=False),
        sa.Column("updated_at", storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("exchange", name=op.f("pk_reserve_accounts")),
    )
