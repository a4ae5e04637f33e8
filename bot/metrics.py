"""`GET /metrics`: the bot's figures in Prometheus' text format (prometheus-client).

Each app has its own `CollectorRegistry` (never the library's global one), holding

* `BotCollector`, read at each scrape: orders, schedule runs, alerts and the pauses the
  exchanges asked for, counted in the database (`storage.monitoring`), so every process
  reports the same figures whichever one is scraped; and this process's own parts: its
  scheduler (leader or standby, each job's last success), its exchange circuit breaker and the
  alert channels' states;
* the exchange requests this process made (a latency histogram, an error counter by kind),
  fed by the exchange layer's request observers (`bot.exchanges.request_observers`).

The scrape runs on one of the database's threads (`Database.run`): the database is never read
on the event loop. With `DCABOT_METRICS_TOKEN` set, `/metrics` asks everyone for
`Authorization: Bearer <it>` (401 without); unset, it answers loopback callers that no proxy
relayed and refuses others (403), as `/health` keeps its details.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot import __version__
from bot.exchanges.request_observers import (
    RequestSeen,
    add_request_observer,
    remove_request_observer,
)
from bot.notify.channel_state import DOWN, EXHAUSTED, OK, RATE_LIMITED
from bot.notify.health import alert_health, configured_channels
from bot.web_access import sees_details
from storage import monitoring

if TYPE_CHECKING:
    from bot.running import Runtime

log = logging.getLogger(__name__)
CHANNEL_STATES = (OK, RATE_LIMITED, EXHAUSTED, DOWN)
SCHEDULER_ROLES = ("leader", "starting", "standby", "off")
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _seconds(moment: datetime) -> float:
    return moment.timestamp()


def _gauge(name: str, documentation: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


class BotCollector:
    """The figures read at scrape time; nothing until the app has started its runtime.

    This process's parts are read on the event loop just before the scrape (`read_process`:
    the leader lock's state is the loop thread's), the database in the scrape's thread."""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        self.process: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        info = _gauge("dcabot_info", "The running dcabot: its version (always 1)", ["version"])
        info.add_metric([__version__], 1)
        yield info
        runtime = self.runtime
        if runtime is None:
            return
        yield from self.process
        yield from self._database(runtime)

    def read_process(self) -> None:
        """This process's scheduler and circuit breaker (in memory), for the next scrape."""
        runtime = self.runtime
        self.process = list(self._process(runtime)) if runtime is not None else []

    def _process(self, runtime: Runtime) -> Iterator[Metric]:
        scheduler = runtime.scheduler
        role = scheduler.role if scheduler is not None else "off"
        roles = _gauge(
            "dcabot_scheduler_role",
            "This process's scheduler: 1 for its role (leader schedules; standby waits for the "
            "leader lock; starting reconciles; off: a web-only process)",
            ["role"],
        )
        for name in SCHEDULER_ROLES:
            roles.add_metric([name], 1 if name == role else 0)
        yield roles
        leader = _gauge("dcabot_scheduler_leader", "1 if this process runs the scheduler's jobs")
        leader.add_metric([], 1 if role == "leader" else 0)
        yield leader
        if scheduler is not None:
            done = {job: h.last_ok for job, h in list(scheduler.jobs.items()) if h.last_ok}
            if done:
                tick = _gauge(
                    "dcabot_scheduler_last_tick_timestamp_seconds",
                    "When this process's scheduler last finished a job (Unix time)",
                )
                tick.add_metric([], max(_seconds(moment) for moment in done.values()))
                yield tick
                jobs = _gauge(
                    "dcabot_scheduler_job_last_success_timestamp_seconds",
                    "When each scheduler job last succeeded in this process (Unix time)",
                    ["job"],
                )
                for job, moment in sorted(done.items()):
                    jobs.add_metric([job], _seconds(moment))
                yield jobs
        states = [
            circuit_state()
            for engine in runtime.services.accounts
            if callable(circuit_state := getattr(engine.exchange, "circuit_state", None))
        ]
        if states:
            is_open = _gauge(
                "dcabot_exchange_circuit_open",
                "1 while this process's circuit breaker keeps trading paused on the exchange",
                ["exchange", "mode"],
            )
            failures = _gauge(
                "dcabot_exchange_circuit_consecutive_failures",
                "Failed exchange requests in a row, as this process's circuit breaker counts",
                ["exchange", "mode"],
            )
            for state in states:
                labels = [state.exchange, state.mode]
                is_open.add_metric(labels, 1 if state.is_open else 0)
                failures.add_metric(labels, state.consecutive_failures)
            yield is_open
            yield failures

    def _database(self, runtime: Runtime) -> Iterator[Metric]:
        engine = runtime.services.engine
        now = engine.clock()
        up = _gauge("dcabot_database_up", "1 if the database answered this scrape")
        try:
            with engine.db.transaction() as session:
                orders = monitoring.order_counts(session)
                runs = monitoring.run_counts(session)
                alerts = monitoring.alert_counts(session)
                pauses = monitoring.exchange_pauses(session)
            health = alert_health(engine.db, configured_channels(engine.settings), now)
        except Exception as exc:  # the scrape still answers, saying the database did not
            log.warning("metrics: the database did not answer: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        family = _gauge(
            "dcabot_orders",
            "Orders in the database by exchange, mode, cause and status",
            ["exchange", "mode", "cause", "status"],
        )
        for exchange, mode, cause, status, count in orders:
            family.add_metric([exchange, mode, cause, status], count)
        yield family
        family = _gauge(
            "dcabot_schedule_runs",
            "Scheduled runs by outcome: bought, reserve, skipped, failed, missed, or "
            "started/retrying while not finished",
            ["outcome"],
        )
        for outcome, count in runs:
            family.add_metric([outcome], count)
        yield family
        family = _gauge(
            "dcabot_alerts",
            "Alerts in the outbox by status: pending and sending are queued; an alert for "
            "everyone is routed into one row per person",
            ["status"],
        )
        for status, count in alerts:
            family.add_metric([status], count)
        yield family
        oldest = _gauge(
            "dcabot_alerts_oldest_undelivered_age_seconds",
            "Age of the oldest alert not delivered yet (0 when none waits)",
        )
        age = (now - health.oldest).total_seconds() if health.oldest is not None else 0.0
        oldest.add_metric([], max(0.0, age))
        yield oldest
        family = _gauge(
            "dcabot_alert_channel_state",
            "Each alert channel's state as the dispatchers know it (1 for the current one)",
            ["channel", "state"],
        )
        for channel in health.channels:
            for state in CHANNEL_STATES:
                family.add_metric([channel.channel, state], 1 if channel.state == state else 0)
        yield family
        paused = _gauge(
            "dcabot_exchange_paused",
            "1 while an exchange's Retry-After or ban pauses every request to it",
            ["exchange", "mode"],
        )
        until = _gauge(
            "dcabot_exchange_paused_until_timestamp_seconds",
            "When a running exchange pause ends (Unix time)",
            ["exchange", "mode"],
        )
        for pause in pauses:
            active = pause.paused_until is not None and pause.paused_until > now
            paused.add_metric([pause.exchange, pause.mode], 1 if active else 0)
            if active and pause.paused_until is not None:
                until.add_metric([pause.exchange, pause.mode], _seconds(pause.paused_until))
        yield paused
        yield until


class AppMetrics:
    """One app's registry, its collector, and the exchange request figures of this process."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.registry = CollectorRegistry()
        self.collector = BotCollector()
        self.registry.register(self.collector)
        self.latency = Histogram(
            "dcabot_exchange_request_duration_seconds",
            "How long each request to the exchange took, answered or failed",
            ["exchange", "mode"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "dcabot_exchange_request_errors",
            "Failed requests to the exchange by kind: timeout, network, unavailable, "
            "rate_limited, clock, auth, refused, other",
            ["exchange", "mode", "kind"],
            registry=self.registry,
        )

    def observe(self, seen: RequestSeen) -> None:
        self.latency.labels(seen.exchange, seen.mode).observe(seen.seconds)
        if seen.error_kind is not None:
            self.errors.labels(seen.exchange, seen.mode, seen.error_kind).inc()

    def start(self, runtime: Runtime) -> None:
        self.collector.runtime = runtime
        add_request_observer(self.observe)

    def stop(self) -> None:
        remove_request_observer(self.observe)
        self.collector.runtime = None

    async def endpoint(self, request: Request) -> Response:
        """The scrape, for the token holder (or loopback when no token is set)."""
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        self.collector.read_process()
        runtime = self.collector.runtime
        if runtime is None:  # not started, or stopped: nothing is read from a database
            body = await asyncio.to_thread(encoder, self.registry)
        else:
            body = await runtime.services.engine.db.run(encoder, self.registry)
        return Response(body, headers={"Content-Type": content_type})

    def _refusal(self, request: Request) -> Response | None:
        if self.token:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode("latin-1", "replace"), self.token.encode()
            ):
                return None
            return PlainTextResponse(
                "/metrics needs Authorization: Bearer <DCABOT_METRICS_TOKEN>\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="dcabot metrics"'},
            )

        if sees_details(request, ""):
            return None
        return PlainTextResponse(
            "/metrics answers loopback only; set DCABOT_METRICS_TOKEN to scrape from elsewhere\n",
            status_code=403,
        )

