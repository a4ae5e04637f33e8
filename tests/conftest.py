"""Shared fixtures: both databases, a controllable clock, settings isolated from the machine.

PostgreSQL tests use `DCABOT_TEST_PG_URL` (default: the local server, database `test`); each test
gets its own schema, dropped afterwards. Outside CI they skip with the reason when the server is
unreachable; in CI (`CI=true`) an unreachable server is an error, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.config import Settings, load_settings
from storage import orders
from storage.db import Database, normalise_url
from storage.migrate import upgrade
from tests import loop_guard

PG_URL = normalise_url(
    os.environ.get("DCABOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_error() -> str | None:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


_PG_ERROR = _postgres_error()


def require_postgres() -> None:
    if _PG_ERROR is None:
        return
    if IN_CI:
        pytest.fail(f"PostgreSQL at {PG_URL} is unreachable in CI: {_PG_ERROR}")
    pytest.skip(f"PostgreSQL at {PG_URL} is unreachable ({_PG_ERROR}); CI runs these")


loop_guard.install()


@pytest.fixture(autouse=True)
def no_database_work_on_the_loop() -> Iterator[None]:
    """Fails a test whose product coroutines ran SQL on the event loop (tests/loop_guard.py);
    blocking database work belongs in `Database.run` (docs/design.md)."""
    loop_guard.take()
    yield
    found = loop_guard.take()
    if found:
        lines = sorted({str(v) for v in found})
        pytest.fail("database work on the event loop:\n" + "\n".join(lines), pytrace=False)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections live in a fresh, private schema."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dcabot.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 21, 9, 30, tzinfo=UTC))


@pytest.fixture(autouse=True)
def isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test reads the developer's own DCABOT_*, chat tokens or DATABASE_URL, nor creates a
    master key in their config directory (the key file's default is under XDG_CONFIG_HOME)."""
    for name in list(os.environ):
        if name.startswith(("DCABOT_", "TELEGRAM_", "LINE_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings with test defaults (simulated prices, data in tmp_path), no `.env` read."""
    values: dict[str, Any] = {"data_dir": tmp_path / "data", "price_source": "simulated"}
    values.update(overrides)
    return load_settings(_env_file=None, **values)


def write_buy_intent(
    db: Database,
    client_order_id: str,
    cause_key: str,
    *,
    exchange: str,
    mode: str,
    now: datetime,
    quote: Decimal = Decimal(50),
) -> None:
    """An order intent as the engine writes it before sending: the state a crash leaves."""
    with db.transaction() as session:
        orders.write_intent(
            session,
            client_order_id=client_order_id,
            cause="buy_now",
            cause_key=cause_key,
            side="buy",
            symbol="BTC/USDT",
            exchange=exchange,
            mode=mode,
            requested_quote=quote,
            requested_base=None,
            requested_by="test",
            now=now,
        )
