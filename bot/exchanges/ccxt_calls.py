"""Every request the adapter makes to ccxt: tagged in the log, counted by the breaker, timed for
the request observers (`request_observers`: metrics), and retried (reads only) with exponential
backoff and jitter.

ccxt itself never retries (`maxRetriesOnFailure: 0`, see `endpoints`) and ignores Retry-After, so
backing off is done here, with tenacity. Orders are not retried by this layer: a failed order
request may have been carried out, and `order_flow` looks it up before anything is sent again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from bot.exchanges.base import ExchangeError, ExchangeUnavailable, UnknownMarket
from bot.exchanges.ccxt_errors import (
    classify,
    exchange_reason,
    is_authentication,
    is_ccxt_error,
    is_clock_refusal,
    is_transport_failure,
    is_unknown_symbol,
)
from bot.exchanges.circuit import CircuitBreaker
from bot.exchanges.rate_gate import RateGate
from bot.exchanges.request_observers import timed

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard the adapter tries before giving up, and how long an order request stays valid.

    `recv_window_s` is the window an order request carries (Binance `recvWindow`, OKX
    `expTime`): the exchange acts on it only within that time of sending; `settle_margin_s`
    is added for the matching engine (Binance answers within 10 s or says "execution status
    unknown"). An order whose request failed in an unclear way is looked up after each of
    `lookup_delays_s` (the last one repeating) until that deadline has passed: only then does
    "not found" prove it was never placed (see `order_flow`).
    """

    read_attempts: int = 4
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 10.0
    jitter_s: float = 0.5
    send_attempts: int = 3
    lookup_delays_s: tuple[float, ...] = (1.0, 2.0, 4.0)
    recv_window_s: float = 5.0
    settle_margin_s: float = 10.0
    max_pause_wait_s: float = 30.0  # a 429's Retry-After up to this is waited out, not failed

    def backoff(self) -> wait_base:
        """Exponential from `backoff_initial_s`, capped, plus up to `jitter_s` at random so
        that several workers do not retry in step."""
        exponential = wait_exponential(multiplier=self.backoff_initial_s, max=self.backoff_max_s)
        return exponential + wait_random(0, self.jitter_s)


class ExchangeLog(logging.LoggerAdapter[logging.Logger]):
    """Log lines that always say the mode and the exchange: `[live binance] ...`."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        extra = self.extra or {}
        return f"[{extra.get('mode')} {extra.get('exchange')}] {msg}", kwargs


class CcxtCalls:
    """One ccxt client's requests, accounted for by the circuit breaker."""

    def __init__(
        self,
        client: Any,
        breaker: CircuitBreaker,
        policy: RetryPolicy,
        log: ExchangeLog,
        *,
        title: str,
        mode: str,
        gate: RateGate,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.gate = gate
        self.breaker = breaker
        # set by the adapter: re-measure the clock after a timestamp refusal (-1021, 50102)
        self.resync: Callable[[], Awaitable[object]] | None = None
        self._resyncing = False
        self.policy = policy
        self.log = log
        self.title = title
        self.mode = mode
        self.sleep = sleep

    @property
    def where(self) -> str:
        """How messages name the venue: "Binance (testnet)"."""
        return f"{self.title} ({self.mode})"

    async def once(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """One request; its outcome tells the breaker whether the exchange is answering.
        Nothing is sent while the exchange asked to wait (`RateGate`)."""
        await self.gate.check()
        exchange = str(getattr(self.client, "id", "") or self.title.lower())
        try:
            result = await timed(exchange, self.mode, what, call)
        except Exception as exc:
            if is_transport_failure(exc):
                self.breaker.record_failure(f"{what}: {exchange_reason(exc)}")
            elif is_ccxt_error(exc):  # a business answer: the exchange is up
                self.breaker.record_success()
            await self.tell()
            if is_clock_refusal(exc):
                await self._resync_once()
            raise
        self.breaker.record_success()
        await self.tell()
        return result

    async def tell(self) -> None:
        """What the request changed, to the listeners (they write: pauses, breaker alerts)."""
        await self.gate.tell()
        await self.breaker.tell()

    async def _resync_once(self) -> None:
        """After a timestamp refusal: measure the clock again (the caller's retry then signs
        with the corrected time). Never from inside the sync itself."""
        if self.resync is None or self._resyncing:
            return
        self._resyncing = True
        try:
            await self.resync()
        except Exception as exc:  # the retry will fail the same way and say so
            self.log.warning("could not re-sync the clock: %s", exchange_reason(exc))
        finally:
            self._resyncing = False

    async def read(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """A request without side effects, retried while it fails in transit.

        Raises our own errors, with messages fit for chat: `UnknownMarket`, or
        `ExchangeUnavailable` (unreachable, rate limited, key refused, breaker open).
        """
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.policy.read_attempts),
            wait=self.policy.backoff(),
            retry=retry_if_exception(is_transport_failure),
            reraise=True,
            sleep=self.sleep,
            before_sleep=self._log_retry(what),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    self.breaker.refuse_if_open()
                    return await self.once(what, call)
        except Exception as exc:
            if not is_ccxt_error(exc):  # ours (breaker open, ...) or a bug: as it is
                raise
            raise self.translate(what, exc) from None
        raise AssertionError("tenacity ended without an outcome")  # pragma: no cover

    def translate(self, what: str, exc: BaseException) -> ExchangeError:
        """A ccxt failure of a read as one of our errors, naming the exchange and the rule."""
        reason = exchange_reason(exc)
        if is_unknown_symbol(exc):
            return UnknownMarket(f"{self.where}: {reason}")
        if is_authentication(exc):
            return ExchangeUnavailable(
                f"{self.where} refused the API key for {what} ({reason}); check the key, its "
                f"permissions and IP whitelist, then `dcabot keys add {self.client.id}`"
            )
        if is_transport_failure(exc):
            return ExchangeUnavailable(
                f"{self.where} did not answer {what} after {self.policy.read_attempts} tries: "
                f"{reason}"
            )
        return ExchangeUnavailable(f"{self.where} refused {what}: {reason}")

    def _log_retry(self, what: str) -> Callable[[RetryCallState], None]:
        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            self.log.warning(
                "%s failed (%s, %s); try %d of %d in %.1f s",
                what,
                classify(error).value if error else "?",
                exchange_reason(error) if error else "?",
                state.attempt_number + 1,
                self.policy.read_attempts,
                wait,
            )

        return before_sleep
