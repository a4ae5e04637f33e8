"""`GET /metrics` as Prometheus scrapes it: a session against the real app (a real SQLite file,
the paper exchange pricing from a fake Binance over HTTP, the fake Telegram), scraped before and
after, and every figure moved by exactly what happened; then the token and the loopback rule."""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import Settings
from bot.exchanges.request_observers import add_request_observer, remove_request_observer
from bot.metrics import AppMetrics
from tests.app_harness import TG_ADMIN, World, chat_settings, line, running_world, tg
from tests.conftest import Clock
from tests.exchange_harness import FAST_RETRY, adapter
from tests.fakes.exchange import FakeExchange, Fault
from tests.fakes.line_api import FakeLineAPI
from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

__all__ = ["line", "tg"]  # fixtures
TOKEN = "metrics-token-0123456789abcdef"
GONE = 444  # a person whose Telegram chat is gone ("chat not found"): their alerts fail
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient, token: str = TOKEN) -> Samples:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def wait_for(client: TestClient, name: str, wanted: float, **labels: str) -> Samples:
    deadline = time.monotonic() + 15
    while True:
        samples = scrape(client)
        if value(samples, name, **labels) == wanted:
            return samples
        assert time.monotonic() < deadline, [(k, v) for k, v in samples.items() if k[0] == name]
        time.sleep(0.05)


def confirm(world: World, ask: SentMessage) -> None:
    data = ask.reply_markup["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index]
    world.telegram_taps(data, ask)


@pytest.fixture
def exchange() -> Iterator[FakeExchange]:
    with FakeExchange("binance", balances={"USDT": "1000"}) as fake:
        yield fake


def session_settings(
    tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, exchange: FakeExchange
) -> Settings:
    return chat_settings(
        tmp_path,
        tg,
        line,
        metrics_token=TOKEN,
        alert_routes=f"owner=telegram:{TG_ADMIN};gone=telegram:{GONE}",
        price_source="exchange",  # prices over HTTP from the fake Binance: requests to count
        binance_api_url=exchange.url,
        request_timeout_s=5,
    )


def fire_schedule_job(world: World, schedule_id: int) -> None:
    """Make the real scheduler run the schedule's job now (its due time is the test clock's)."""
    scheduler = world.chat.runtime.scheduler
    assert scheduler is not None
    job = scheduler.scheduler.get_job(f"schedule-{schedule_id}")
    assert job is not None
    job.modify(next_run_time=datetime.now(UTC))


def test_a_session_moves_every_figure_by_exactly_what_happened(
    tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, clock: Clock, exchange: FakeExchange
) -> None:
    settings = session_settings(tmp_path, tg, line, exchange)
    # The leader process: scheduler on, alerts left in the outbox (no dispatcher).
    with running_world(settings, tg, line, clock, schedule=True) as w:
        before = wait_for(w.client, "dcabot_scheduler_leader", 1)
        assert value(before, "dcabot_scheduler_role", role="leader") == 1
        assert value(before, "dcabot_database_up") == 1
        assert value(before, "dcabot_exchange_paused", exchange="binance", mode="paper") == 0

        exchange.inject("/api/v3/ticker/24hr", Fault.server_error(503))
        [refused] = w.telegram_says("/buy 50")  # the price cannot be read: nothing is bought
        assert refused.reply_markup is None, refused.text
        [ask] = w.telegram_says("/buy 50")
        confirm(w, ask)
        [added] = w.telegram_says("/schedule add daily 09:00 25 plain")
        assert "#1" in (added.text or ""), added.text
        fire_schedule_job(w, 1)  # due today 09:00; the test clock says 09:30
        wait_for(w.client, "dcabot_schedule_runs", 1, outcome="bought")
        clock.advance(seconds=90)
        after = scrape(w.client)

    paper = {"exchange": "binance", "mode": "paper"}
    assert moved(before, after, "dcabot_orders", cause="buy_now", status="filled", **paper) == 1
    assert moved(before, after, "dcabot_orders", cause="schedule", status="filled", **paper) == 1
    assert sum(v for (name, _), v in after.items() if name == "dcabot_orders") == 2
    assert moved(before, after, "dcabot_schedule_runs", outcome="bought") == 1
    assert sum(v for (name, _), v in after.items() if name == "dcabot_schedule_runs") == 1
    # four alerts wait for delivery: the buy's fill, the schedule added, the trend the run read
    # first (a flip to up) and the run's fill, all written at the test clock's 09:30:00, which
    # has since moved 90 s on
    assert moved(before, after, "dcabot_alerts", status="pending") == 4
    assert value(after, "dcabot_alerts_oldest_undelivered_age_seconds") == 90
    # the job's success, on the test clock
    tick = value(after, "dcabot_scheduler_last_tick_timestamp_seconds")
    assert tick == datetime(2026, 11, 21, 9, 30, tzinfo=UTC).timestamp()
    assert value(after, "dcabot_scheduler_job_last_success_timestamp_seconds", job="schedule-1")
    # requests to the fake Binance (market list, tickers), one of them answered 503
    public = {"exchange": "binance", "mode": "public"}
    errors = moved(before, after, "dcabot_exchange_request_errors_total", kind="unavailable",
                   **public)
    assert errors == 1
    requests = moved(before, after, "dcabot_exchange_request_duration_seconds_count", **public)
    assert requests == len(exchange.requests) >= 3  # each one the fake saw, timed once
    assert value(after, "dcabot_exchange_circuit_open", **paper) == 0  # paper: no breaker

    # Another process on the same database, web only, with the dispatcher: it sees the
    # figures the leader wrote, and delivers the alerts (the gone chat's fail).
    tg.bad_request_next("sendMessage", "chat not found", times=6, chat_id=GONE)
    with running_world(settings, tg, line, clock, dispatch=True) as w2:
        seen = scrape(w2.client)
        assert value(seen, "dcabot_scheduler_role", role="off") == 1
        assert value(seen, "dcabot_scheduler_leader") == 0
        assert value(seen, "dcabot_orders", cause="buy_now", status="filled", **paper) == 1
        assert value(seen, "dcabot_schedule_runs", outcome="bought") == 1
        done = wait_for(w2.client, "dcabot_alerts", 6, status="failed")
        done = wait_for(w2.client, "dcabot_alerts", 6, status="delivered")
    # the four, and the leader's own notices (it started leading, it was shut down): each
    # alert for everyone becomes one row per person
    assert moved(after, done, "dcabot_alerts", status="routed") == 6
    assert value(done, "dcabot_alerts", status="pending") == 0
    assert value(done, "dcabot_alerts", status="sending") == 0
    assert value(done, "dcabot_alerts_oldest_undelivered_age_seconds") == 0
    assert value(done, "dcabot_alert_channel_state", channel="telegram", state="ok") == 1
    assert len([m for m in tg.messages(TG_ADMIN) if m.text and "Bought" in m.text]) >= 2


def test_the_token_is_asked_of_everyone_when_set(
    tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, clock: Clock
) -> None:
    settings = chat_settings(tmp_path, tg, line, metrics_token=TOKEN)
    with running_world(settings, tg, line, clock) as w:  # a loopback client, too
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                        {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}):
            refused = w.client.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert TOKEN not in refused.text and "dcabot_" not in refused.text
        answer = w.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        families = {f.name: f for f in text_string_to_metric_families(answer.text)}
        assert families["dcabot_orders"].documentation  # every family says what it is
        assert all(name.startswith("dcabot_") for name in families)
        assert [s.labels for s in families["dcabot_info"].samples] == [{"version": "0.1.0"}]


def test_without_a_token_only_loopback_callers_no_proxy_relayed_may_scrape(
    tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, clock: Clock
) -> None:
    settings = chat_settings(tmp_path, tg, line)
    with running_world(settings, tg, line, clock) as w:
        assert w.client.get("/metrics").status_code == 200
        relayed = w.client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
        assert relayed.status_code == 403 and "DCABOT_METRICS_TOKEN" in relayed.text
        outside: dict[str, Any] = {"client": ("203.0.113.7", 40000)}
        stranger = TestClient(w.client.app, **outside)  # the same running app, from elsewhere
        assert stranger.get("/metrics").status_code == 403


async def test_the_live_adapters_requests_are_timed_and_failures_counted_by_kind(
    clock: Clock, exchange: FakeExchange
) -> None:
    """The ccxt adapter (testnet and live) reports through the same observers: two 503s, then
    the balances; every request the fake saw is timed once."""
    metrics = AppMetrics("")
    add_request_observer(metrics.observe)
    live = adapter(exchange, clock, retry=dataclasses.replace(FAST_RETRY, read_attempts=4))
    try:
        exchange.inject("GET /api/v3/account", Fault.server_error(503), times=2)
        assert (await live.balances())["USDT"] == 1000
    finally:
        remove_request_observer(metrics.observe)
        await live.close()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        for s in family.samples
    }
    binance = {"exchange": "binance", "mode": "live"}
    errors = "dcabot_exchange_request_errors_total"
    assert value(samples, errors, kind="unavailable", **binance) == 2
    assert sum(v for (name, _), v in samples.items() if name == errors) == 2
    timed = value(samples, "dcabot_exchange_request_duration_seconds_count", **binance)
    # one timing per ccxt call: the market list ccxt loads inside the first call is part of it
    assert timed == len(exchange.requests_to("GET /api/v3/account")) == 3
