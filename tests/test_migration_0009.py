"""0009 on a database the one-exchange bot made (at 0008, with data): every row stays, on the
exchange it was made for, and a two-exchange bot opens on it with the old exchange's state."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.engine import flip_policy, strategy_settings
from bot.engine.reserve import reserve_view
from bot.engine.schedules import list_schedules
from bot.engine.setup import open_accounts
from storage.db import Database
from storage.migrate import MIGRATIONS, alembic_config, current_revision, upgrade
from storage.models import Base
from storage.types import Amount, UtcDateTime
from strategies.rules import DEFAULT_SELL_PERCENT
from tests.conftest import Clock, make_settings

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 16, 0, 0, 12, tzinfo=UTC)
INT, TEXT, BOOL, MONEY, TIME = sa.Integer(), sa.String(), sa.Boolean(), Amount(), UtcDateTime()


def _table(name: str, **columns: sa.types.TypeEngine[Any]) -> sa.TableClause:
    return sa.table(name, *(sa.column(key, kind) for key, kind in columns.items()))


# The 0008 shape of the tables, written and read without the current models.
TABLES = {
    "schedules": _table("schedules", id=INT, days=TEXT, local_time=TEXT, amount=MONEY,
                        exchange=TEXT, mode=TEXT, paused=BOOL, removed=BOOL, created_at=TIME),
    "orders": _table("orders", id=INT, client_order_id=TEXT, cause=TEXT, cause_key=TEXT,
                     side=TEXT, symbol=TEXT, exchange=TEXT, mode=TEXT, status=TEXT,
                     requested_quote=MONEY, requested_base=MONEY, filled_base=MONEY,
                     filled_quote=MONEY, price=MONEY, fee=MONEY, fee_asset=TEXT,
                     exchange_order_id=TEXT, requested_by=TEXT, error=TEXT, created_at=TIME,
                     updated_at=TIME, deadline_at=TIME, partial=BOOL),
    "schedule_runs": _table("schedule_runs", id=INT, run_key=TEXT, schedule_id=INT, due_at=TIME,
                            status=TEXT, outcome=TEXT, created_at=TIME, finished_at=TIME,
                            attempts=INT, next_attempt_at=TIME, last_error=TEXT),
    "reserve_ledger": _table("reserve_ledger", id=INT, exchange=TEXT, mode=TEXT, amount=MONEY,
                             reason=TEXT, note=TEXT, order_id=INT, created_at=TIME),
    "reserve_accounts": _table("reserve_accounts", exchange=TEXT, mode=TEXT, balance=MONEY,
                               epoch=INT, updated_at=TIME),
    "strategy_settings": _table("strategy_settings", id=INT, exchange=TEXT, cdc_enabled=BOOL,
                                sell_percent=MONEY, order_cap=MONEY, s4_execute=BOOL,
                                version=INT, updated_at=TIME),
    "paper_balances": _table("paper_balances", id=INT, exchange=TEXT, asset=TEXT, free=MONEY),
}
KEY = "schedule:1:2026-11-16T00:00Z"
ROWS: dict[str, list[dict[str, Any]]] = {
    "schedules": [
        dict(id=1, days="mon,thu", local_time="07:00", amount=Decimal(100), exchange="binance",
             mode="cdc", paused=False, removed=False, created_at=T0),
        dict(id=2, days="daily", local_time="21:30", amount=Decimal("25.55"), exchange="binance",
             mode="plain", paused=True, removed=False, created_at=T0),
    ],
    "orders": [
        dict(id=1, client_order_id="dcbdp0123456789abcdef012345", cause="deploy",
             cause_key="deploy:1", side="buy", symbol="BTC/USDT", exchange="binance",
             mode="paper", status="filled", requested_quote=Decimal("30.5"), requested_base=None,
             filled_base=Decimal("0.000334066"), filled_quote=Decimal("30.46953"),
             price=Decimal("91208.123456789012345678"), fee=Decimal("0.000000334066"),
             fee_asset="BTC", exchange_order_id="paper-1", requested_by="telegram:42",
             error=None, created_at=T1, updated_at=T1, deadline_at=None, partial=False),
    ],
    "schedule_runs": [
        dict(id=1, run_key=KEY, schedule_id=1, due_at=datetime(2026, 11, 16, tzinfo=UTC),
             status="done", outcome="skipped: the trend is red", created_at=T1, finished_at=T1,
             attempts=1, next_attempt_at=None, last_error=None),
    ],
    "reserve_ledger": [
        dict(id=1, exchange="binance", mode="paper", amount=Decimal(100), reason="manual_add",
             note="telegram:42", order_id=None, created_at=T0),
        dict(id=2, exchange="binance", mode="paper", amount=Decimal("-30.5"),
             reason="deploy_hold", note="", order_id=1, created_at=T1),
    ],
    "reserve_accounts": [
        dict(exchange="binance", mode="paper", balance=Decimal("69.5"), epoch=1, updated_at=T1),
    ],
    "strategy_settings": [
        dict(id=1, exchange="binance", cdc_enabled=True, sell_percent=Decimal(30),
             order_cap=Decimal(250), s4_execute=False, version=3, updated_at=T0),
    ],
    "paper_balances": [
        dict(id=1, exchange="binance", asset="USDT", free=Decimal("9869.53047")),
        dict(id=2, exchange="binance", asset="BTC", free=Decimal("0.000333731934")),
    ],
}


def _old_database(url: str) -> Database:
    """A database as the one-exchange bot left it: schema 0008, with its rows (ids from the
    database's own sequence, one row at a time, so they come out 1, 2 and the next is 3)."""
    db = Database(url)
    upgrade(db, "0008")
    with db.engine.begin() as connection:
        for name, rows in ROWS.items():
            for row in rows:
                values = {key: value for key, value in row.items() if key != "id"}
                connection.execute(sa.insert(TABLES[name]).values(values))
    return db


def _rows(db: Database, name: str) -> list[dict[str, Any]]:
    table = TABLES[name]
    with db.engine.connect() as connection:
        result = connection.execute(sa.select(table).order_by(*table.c))
        return [dict(row._mapping) for row in result]


def _leg_of(db: Database) -> list[tuple[int, int | None]]:
    with db.engine.connect() as connection:
        query = sa.text("SELECT id, leg_of FROM schedules ORDER BY id")
        return [(row.id, row.leg_of) for row in connection.execute(query)]


def head_revision() -> str | None:
    """The newest migration (0009 or any made after it): the bot upgrades to it at start."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_upgrade_keeps_every_row_and_matches_the_models(database_url: str) -> None:
    db = _old_database(database_url)
    assert current_revision(db) == "0008"
    upgrade(db)
    assert current_revision(db) == head_revision()
    for name, rows in ROWS.items():
        assert _rows(db, name) == rows, name
    assert _leg_of(db) == [(1, None), (2, None)]
    with db.engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT count(*) FROM flip_policy")) == 0
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    db.dispose()


async def test_two_exchange_bot_opens_on_the_old_database(
    database_url: str, tmp_path: Path, clock: Clock
) -> None:
    _old_database(database_url).dispose()
    settings = make_settings(tmp_path, exchanges="binance,okx", database_url=database_url)
    accounts = open_accounts(settings, clock=clock)  # migrates on start, as `dcabot run` does
    try:
        assert current_revision(accounts.db) == head_revision()
        binance, okx = accounts.on("binance"), accounts.on("okx")
        views = list_schedules(accounts.default)
        assert [(v.id, v.exchange, v.amount, v.paused) for v in views] == [
            (1, "binance", Decimal(100), False), (2, "binance", Decimal("25.55"), True)
        ]
        assert all(v.leg_of is None and v.group == v.id for v in views)
        old, new = await reserve_view(binance), await reserve_view(okx)
        assert (old.balance, [e.amount for e in old.recent]) == (
            Decimal("69.5"), [Decimal("-30.5"), Decimal(100)]
        )
        assert old.quote.balance == Decimal("9869.53047")  # binance's paper money, untouched
        assert (new.balance, new.recent, new.quote.balance) == (Decimal(0), (), Decimal(10000))
        kept = strategy_settings.current(binance)
        assert (kept.sell_percent, kept.order_cap, kept.version) == (Decimal(30), Decimal(250), 3)
        fresh = strategy_settings.current(okx)
        assert (fresh.sell_percent, fresh.order_cap, fresh.version) == (
            DEFAULT_SELL_PERCENT, None, 0
        )
        assert flip_policy.current(binance) == flip_policy.AUTO == "auto"
    finally:
        await accounts.close()
        accounts.db.dispose()


def test_downgrade_to_0008_keeps_the_schedules(database_url: str) -> None:
    db = _old_database(database_url)
    upgrade(db)
    with db.engine.begin() as connection:
        config = alembic_config(db)
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    assert current_revision(db) == "0008"
    assert not sa.inspect(db.engine).has_table("flip_policy")
    assert "leg_of" not in {c["name"] for c in sa.inspect(db.engine).get_columns("schedules")}
    for name, rows in ROWS.items():
        assert _rows(db, name) == rows, name
    db.dispose()
