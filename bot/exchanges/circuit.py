"""A circuit breaker per exchange: stop trading after repeated failures, resume after a probe.

An exchange that keeps timing out or answering 5xx/429 is better left alone for a while than
hammered with orders whose outcome is unclear each time. After `threshold` consecutive transport
failures the breaker opens: new operations are refused at once with `ExchangeUnavailable` saying
until when. After the cool-down the next operation first runs a cheap probe (server time or a
ticker); if it answers the breaker closes, else it stays open for another cool-down.

The breaker knows nothing about storage or chat: it reports each open/close to a listener
(`on_change(open, exchange, reason)`, awaited by `tell` once the request that moved it is over),
which the engine wires to an urgent outbox alert. Lookups
that settle an order already in flight are never blocked by it (see `order_flow`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.exchanges.base import ExchangeUnavailable

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CircuitListener = Callable[[bool, str, str], Awaitable[None]]
Probe = Callable[[], Awaitable[object]]

CLOSED = "closed"
OPEN = "open"


@dataclass(frozen=True, slots=True)
class CircuitState:
    """What `/health` shows: whether trading is paused on this exchange, why and until when."""

    exchange: str
    mode: str
    state: str
    consecutive_failures: int
    threshold: int
    opened_at: datetime | None
    retry_at: datetime | None
    last_failure: str | None

    @property
    def is_open(self) -> bool:
        return self.state == OPEN


class CircuitBreaker:
    """Counts consecutive transport failures of one exchange and gates new operations."""

    def __init__(
        self,
        exchange: str,
        mode: str,
        *,
        title: str,
        threshold: int,
        cooldown: timedelta,
        clock: Clock,
        on_change: CircuitListener | None = None,
    ) -> None:
        if threshold < 1:
            raise ValueError("the circuit breaker needs a threshold of at least 1 failure")
        self.exchange = exchange
        self.mode = mode
        self.title = title
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self.on_change = on_change
        self._failures = 0
        self._opened_at: datetime | None = None
        self._retry_at: datetime | None = None
        self._last_failure: str | None = None
        self._untold: list[tuple[bool, str]] = []  # opened/closed, for `tell`

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def state(self) -> CircuitState:
        return CircuitState(
            exchange=self.exchange,
            mode=self.mode,
            state=OPEN if self.is_open else CLOSED,
            consecutive_failures=self._failures,
            threshold=self.threshold,
            opened_at=self._opened_at,
            retry_at=self._retry_at,
            last_failure=self._last_failure,
        )

    def record_success(self) -> None:
        """The exchange answered (even with a refusal): its transport works."""
        self._failures = 0
        if self.is_open:
            self._opened_at = self._retry_at = None
            log.warning(
                "[%s %s] circuit breaker closed: the exchange answers again",
                self.mode,
                self.exchange,
            )
            self._notify(False, f"{self.title} answers again; trading resumes")

    def record_failure(self, reason: str) -> None:
        """A request timed out, was dropped, rate limited or answered 5xx."""
        self._failures += 1
        self._last_failure = reason
        if self.is_open:
            self._retry_at = self.clock() + self.cooldown  # a failed probe waits another round
            return
        if self._failures >= self.threshold:
            now = self.clock()
            self._opened_at, self._retry_at = now, now + self.cooldown
            log.error(
                "[%s %s] circuit breaker open after %d failures in a row (%s); until %s",
                self.mode,
                self.exchange,
                self._failures,
                reason,
                self._until(),
            )
            self._notify(True, self._refusal())

    async def admit(self, probe: Probe) -> None:
        """Let a new operation through, probing first once the cool-down is over.

        Raises `ExchangeUnavailable` while the breaker is open. The probe's own request is
        counted by the caller's accounting (`record_success` closes the breaker).
        """
        if not self.is_open:
            return
        assert self._retry_at is not None
        if self.clock() < self._retry_at:
            raise ExchangeUnavailable(self._refusal())
        try:
            await probe()
        except Exception:  # any failure keeps it open; the reason was recorded by the caller
            if self.is_open:
                self._retry_at = self.clock() + self.cooldown
            raise ExchangeUnavailable(self._refusal()) from None
        if self.is_open:  # the probe went through something that did not record success
            self.record_success()
        await self.tell()

    def refuse_if_open(self) -> None:
        """Between retries: give up at once once the breaker has opened."""
        if self.is_open:
            raise ExchangeUnavailable(self._refusal())

    def _until(self) -> str:
        if self._retry_at is None:
            return "further notice"
        return f"{self._retry_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"

    def _refusal(self) -> str:
        return (
            f"trading on {self.title} ({self.mode}) is paused: the circuit breaker is open after "
            f"{self._failures} failed requests in a row ({self._last_failure}); it tries again "
            f"at {self._until()}"
        )

    def _notify(self, opened: bool, reason: str) -> None:
        if self.on_change is not None:
            self._untold.append((opened, reason))

    async def tell(self) -> None:
        """Give the listener every open and close since the last call, in order. The state
        changes at once (`record_*` are plain calls); the listener writes, so it is awaited."""
        while self._untold and self.on_change is not None:
            opened, reason = self._untold.pop(0)
            try:
                await self.on_change(opened, self.exchange, reason)
            except Exception:  # an alert that cannot be written must not stop the exchange calls
                log.exception("[%s %s] circuit breaker listener failed", self.mode, self.exchange)
