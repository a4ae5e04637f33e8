"""Building the real ccxt adapter against the fake exchange, fast: short timeouts, no ccxt rate
limiter, millisecond backoffs and look-up waits (all constructor options, nothing patched)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.engine.context import Engine
from bot.exchanges.ccxt_calls import RetryPolicy
from bot.exchanges.ccxt_exchange import CcxtExchange
from bot.exchanges.circuit import CircuitListener
from storage.credentials import ApiCredentials
from storage.db import Database
from storage.migrate import upgrade
from tests.conftest import Clock, make_settings
from tests.fakes.exchange import FakeExchange

TIMEOUT_S = 0.5
FAST_CLIENT = {"enableRateLimit": False, "timeout_on_exit": 0}
FAST_RETRY = RetryPolicy(
    read_attempts=3,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    jitter_s=0.01,
    send_attempts=3,
    lookup_delays_s=(0.05, 0.1, 0.2),
    recv_window_s=0.5,  # the exchange acts on an order request within 0.5 s of its timestamp
    settle_margin_s=0.3,  # so "not found" proves "never placed" 0.8 s after a send
    max_pause_wait_s=2.0,
)
DEADLINE_MS = int((FAST_RETRY.recv_window_s + FAST_RETRY.settle_margin_s) * 1000)


def keys_of(fake: FakeExchange, **wrong: str) -> ApiCredentials:
    values = {
        "api_key": fake.api_key,
        "secret": fake.secret,
        "passphrase": fake.passphrase if fake.exchange_id == "okx" else None,
    }
    values.update(wrong)
    return ApiCredentials(fake.exchange_id, **values)  # type: ignore[arg-type]


def adapter(
    fake: FakeExchange,
    clock: Clock,
    *,
    credentials: ApiCredentials | None = None,
    keyless: bool = False,
    retry: RetryPolicy = FAST_RETRY,
    on_circuit_change: CircuitListener | None = None,
    circuit_failures: int = 5,
    circuit_cooldown: timedelta = timedelta(minutes=2),
    timeout_s: float = TIMEOUT_S,
    mode: str = "live",
) -> CcxtExchange:
    """The adapter with the fake's keys (or `credentials`, or none), pointed at the fake."""
    keys = None if keyless else credentials or keys_of(fake)
    return CcxtExchange(
        fake.exchange_id,
        mode,
        clock=clock,
        credentials=keys,
        base_url=fake.url,
        timeout_s=timeout_s,
        retry=retry,
        client_config=FAST_CLIENT,
        on_circuit_change=on_circuit_change,
        circuit_failures=circuit_failures,
        circuit_cooldown=circuit_cooldown,
    )


def sqlite_database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'exchange.db'}")
    upgrade(db)
    return db


def settings_for(tmp_path: Path, fake: FakeExchange, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "exchange": fake.exchange_id,
        "mode": "live",
        f"{fake.exchange_id}_api_url": fake.url,
        "request_timeout_s": TIMEOUT_S,
    }
    values.update(overrides)
    return make_settings(tmp_path, **values)


@contextmanager
def running(exchange_id: str, **options: Any) -> Iterator[FakeExchange]:
    """A started fake whose own bugs fail the test (they must not pass for exchange behaviour)."""
    options.setdefault("balances", {"USDT": "1000"})
    with FakeExchange(exchange_id, **options) as fake:
        yield fake
    assert fake.errors == []


def engine_with(
    tmp_path: Path, db: Database, fake: FakeExchange, exchange: CcxtExchange, clock: Clock
) -> Engine:
    return Engine(settings=settings_for(tmp_path, fake), db=db, exchange=exchange, clock=clock)
