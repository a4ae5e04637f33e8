"""Storage on SQLite and PostgreSQL: migration from empty, exact amounts, UTC times, ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from storage import ledger, outbox
from storage.db import Database
from storage.migrate import current_revision, upgrade
from storage.models import Base, Order, OutboxAlert, ReserveEntry, StrategySettings

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TABLES = {
    "orders",
    "reserve_ledger",
    "strategy_settings",
    "schedules",
    "alert_outbox",
    "processed_updates",
    "paper_balances",
    "paper_fills",
    "reserve_accounts",
    "schedule_runs",
    "flip_events",
    "alert_mutes",
    "alert_channels",
    "exchange_credentials",
}


def test_migration_from_empty_creates_every_table_as_the_models_say(database_url: str) -> None:
    db = Database(database_url)
    assert not TABLES & set(inspect(db.engine).get_table_names())
    upgrade(db)
    assert set(inspect(db.engine).get_table_names()) >= TABLES
    assert current_revision(db) is not None
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    upgrade(db)  # running it again at the next start changes nothing
    db.dispose()


@pytest.mark.parametrize(
    "value",
    [
        Decimal("0.000000000000000001"),
        Decimal("12345678901234567890.123456789012345678"),
        Decimal("49.6254487"),
        Decimal("-3.5"),
        Decimal("100"),
    ],
)
def test_amounts_round_trip_exactly(db: Database, value: Decimal) -> None:
    with db.transaction() as session:
        session.add(ReserveEntry(exchange="binance", mode="paper", amount=value, reason="test",
                                 created_at=NOW))
    with db.transaction() as session:
        stored = session.scalars(select(ReserveEntry.amount)).one()
    assert stored == value
    assert str(stored) == str(value)  # same digits, no trailing zeros from NUMERIC(38, 18)


def test_a_float_amount_is_refused(db: Database) -> None:
    with pytest.raises(Exception, match="Decimal"), db.transaction() as session:
        ledger.append(session, exchange="binance", mode="paper", amount=0.1, reason="test", now=NOW)  # type: ignore[arg-type]
    with db.transaction() as session:
        assert ledger.balance(session, "binance", "paper") == 0


def test_times_come_back_aware_in_utc(db: Database) -> None:
    bangkok = timezone(timedelta(hours=7))
    with db.transaction() as session:
        outbox.enqueue(
            session,
            kind="test",
            payload={"a": Decimal("1.5")},
            now=datetime(2026, 11, 21, 19, 0, tzinfo=bangkok),
        )
    with db.transaction() as session:
        alert = session.scalars(select(OutboxAlert)).one()
        assert alert.created_at == datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
        assert alert.created_at.tzinfo is not None
        assert outbox.payload_of(alert) == {"a": "1.5"}


def test_reserve_balance_is_the_sum_per_exchange(db: Database) -> None:
    with db.transaction() as session:
        for amount, exchange in [
            ("100", "binance"),
            ("0.1", "binance"),
            ("-30.05", "binance"),
            ("7", "okx"),
        ]:
            ledger.append(session, exchange=exchange, mode="paper", amount=Decimal(amount),
                          reason="t", now=NOW)
    with db.transaction() as session:
        assert ledger.balance(session, "binance", "paper") == Decimal("70.05")
        assert ledger.ledger_sum(session, "binance", "paper") == Decimal("70.05")
        assert ledger.balance(session, "okx", "paper") == Decimal("7")
        with pytest.raises(ledger.ReserveTooSmall):
            ledger.append(session, exchange="okx", mode="paper", amount=Decimal("-7.01"),
                          reason="t", now=NOW)
        assert [e.amount for e in ledger.latest(session, "binance", "paper", 2)] == [
            Decimal("-30.05"),
            Decimal("0.1"),
        ]


def test_a_client_order_id_is_unique(db: Database) -> None:
    def order() -> Order:
        return Order(
            client_order_id="dcbbn1",
            cause="buy_now",
            side="buy",
            symbol="BTC/USDT",
            exchange="binance",
            mode="paper",
            status="sending",
            created_at=NOW,
            updated_at=NOW,
        )

    with db.transaction() as session:
        session.add(order())
    with pytest.raises(Exception, match=r"(?i)unique"), db.transaction() as session:
        session.add(order())
    with db.transaction() as session:
        assert len(session.scalars(select(Order)).all()) == 1


def test_strategy_settings_refuse_a_stale_write(db: Database) -> None:
    """An edit based on what someone read before another edit landed fails loudly."""
    from sqlalchemy.orm.exc import StaleDataError

    with db.transaction() as session:
        session.add(StrategySettings(exchange="binance", cdc_enabled=True,
                                     sell_percent=Decimal(50), updated_at=NOW))
    with db.transaction() as session:
        seen_by_them = session.scalars(select(StrategySettings)).one()
    with db.transaction() as session:
        session.scalars(select(StrategySettings)).one().sell_percent = Decimal(30)
    seen_by_them.sell_percent = Decimal(70)
    with pytest.raises(StaleDataError), db.transaction() as session:
        session.merge(seen_by_them)
    with db.transaction() as session:
        row = session.scalars(select(StrategySettings)).one()
        assert (row.sell_percent, row.version) == (Decimal(30), 2)
