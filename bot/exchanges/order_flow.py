"""Sending one market order so that an order the exchange accepted is reported exactly once.

Every request carries a deadline the exchange itself enforces: Binance processes a signed request
only while `serverTime - timestamp <= recvWindow` (rest-api.md, "Timing security": checked on
arrival and again before the matching engine), OKX not after the `expTime` header. The flow sends
with a short window and computes, on the exchange's clock (ours corrected by the measured offset),
the time after which the request can no longer be acted on: `deadline = send + window + margin`
(the margin covers the matching engine's own 10 s). Before each send the caller is told that
deadline (`on_attempt`, awaited: the engine writes it on the order row, so a restart knows it).

The rules, in the order a request can fail:

* Refused at the door (429/418, a clock outside the window): nothing was placed. Send again
  after a backoff (the rate gate makes it wait what the exchange asked); after -1021 / 50102 the
  clock is synced with the exchange first, once.
* Timeout, dropped connection, 5xx, unreadable answer: the order may exist. Look it up by client
  order id until the deadline has passed on the exchange's clock; found: that is the fill; still
  absent once the deadline is past: it was never placed, and only then is it sent again. A
  look-up that cannot be answered keeps it unknown: `OrderUncertain`, the intent stays `sending`
  and reconciliation settles it before anything is sent for that cause again.
* "Duplicate client order id": the order exists; look it up.
* A business refusal (balance, filters, key): nothing was placed (`refusals` words it).

Real exchanges refuse a reused client order id only while the first order is open, so a market
order sent twice with one id can fill twice: nothing here relies on the exchange to deduplicate.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.exchanges.base import (
    ExchangeError,
    ExchangeUnavailable,
    Fill,
    OrderRejected,
    OrderUncertain,
    UnknownMarket,
)
from bot.exchanges.ccxt_calls import CcxtCalls
from bot.exchanges.ccxt_client import ORDER_DEADLINE_MS
from bot.exchanges.ccxt_errors import (
    Outcome,
    classify,
    exchange_reason,
    is_authentication,
    is_clock_refusal,
    is_duplicate_client_id,
    is_insufficient_funds,
    is_rate_limit,
    is_unknown_symbol,
)
from bot.exchanges.ccxt_orders import is_final, needs_trades
from bot.exchanges.order_lookup import LookUp, OrderLookup, OrderTicket, Seen
from bot.exchanges.refusals import insufficient, refusal

SendOrder = Callable[[], Awaitable[Mapping[str, Any]]]
ServerNow = Callable[[], datetime]
Resync = Callable[[], Awaitable[object]]
OnAttempt = Callable[[datetime], Awaitable[None]]

__all__ = ["LookUp", "OrderFlow", "OrderTicket", "Seen"]


class OrderFlow:
    """Places orders through one exchange's `CcxtCalls`."""

    def __init__(self, calls: CcxtCalls, server_now: ServerNow, resync: Resync) -> None:
        self.calls = calls
        self.server_now = server_now
        self.resync = resync
        self.lookup = OrderLookup(calls)

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.calls.policy.recv_window_s)

    @property
    def margin(self) -> timedelta:
        return timedelta(seconds=self.calls.policy.settle_margin_s)

    async def place(
        self,
        ticket: OrderTicket,
        send: SendOrder,
        *,
        size: tuple[Decimal | None, Decimal | None] = (None, None),
        on_attempt: OnAttempt | None = None,
    ) -> Fill:
        """Send until the exchange's answer is known; see the module docstring for the rules.
        `size` is the order's (base amount, value) when known, for the refusal's wording."""
        policy, last, resynced = self.calls.policy, "", False
        for attempt in range(1, policy.send_attempts + 1):
            if attempt > 1:
                self.calls.breaker.refuse_if_open()
                await self.calls.sleep(self._backoff(attempt))
                await self._wait_out_a_short_pause()
            sent_at = self.server_now()
            deadline = sent_at + self.window + self.margin
            if on_attempt is not None:
                await on_attempt(deadline)
            expires = ORDER_DEADLINE_MS.set(int((sent_at + self.window).timestamp() * 1000))
            try:
                answer = await self.calls.once(f"{ticket.side} order", send)
            except ExchangeUnavailable:
                raise  # refused here before sending (rate gate, breaker): nothing was placed
            except Exception as exc:
                reason = exchange_reason(exc)
                if is_duplicate_client_id(exc):
                    return await self._known(ticket, reason, deadline, immediate=True)
                outcome = classify(exc)
                if outcome is Outcome.NOT_PROCESSED:
                    last = f"{'rate limited' if is_rate_limit(exc) else 'not processed'}: {reason}"
                    if is_clock_refusal(exc) and not resynced:
                        resynced = True  # `calls.once` re-synced the clock already
                    self.calls.log.warning(
                        "%s %s %s; sending again", ticket.side, ticket.client_order_id, last
                    )
                    continue
                if outcome is Outcome.UNKNOWN:
                    found = await self._watch(ticket, deadline, immediate=False)
                    if found.seen is Seen.ABSENT:  # the deadline has passed: never placed
                        last = f"{reason}; not placed by the exchange's deadline"
                        continue
                    return self._decided(ticket, found, reason)
                raise self._refused(ticket, exc, reason, size) from None
            finally:
                ORDER_DEADLINE_MS.reset(expires)
            return await self._settle_answer(ticket, answer, deadline)
        raise ExchangeUnavailable(
            f"{self.calls.where} would not take the {ticket.description} after "
            f"{policy.send_attempts} tries ({last}); nothing was placed"
        )

    async def find(self, ticket: OrderTicket) -> Fill | None:
        """One look-up (reads retried): the fill; None when absent (not proof of anything before
        the deadline); `OrderRejected` when the order ended with nothing filled."""
        found = await self.calls.read(
            f"look-up of order {ticket.client_order_id}", lambda: self.lookup.look_up(ticket)
        )
        if found.seen is Seen.PENDING:
            raise OrderUncertain(
                f"{self.calls.where}: order {ticket.client_order_id} on {ticket.symbol} is still "
                f"{found.status or 'open'}; it will be looked up again"
            )
        if found.seen is Seen.ENDED:
            raise self._ended(ticket, found.status)
        return found.fill

    async def _wait_out_a_short_pause(self) -> None:
        """A 429's Retry-After of a few seconds is waited out before sending again; a longer
        pause (a ban) refuses the order at once, saying when trading resumes (`RateGate`)."""
        gate = self.calls.gate
        if gate.paused_until is None:
            return
        left = (gate.paused_until - gate.clock()).total_seconds()
        if 0 < left <= self.calls.policy.max_pause_wait_s:
            await self.calls.sleep(left)

    def _backoff(self, attempt: int) -> float:
        policy = self.calls.policy
        wait: float = min(policy.backoff_initial_s * 2.0 ** (attempt - 2), policy.backoff_max_s)
        return wait + random.uniform(0, policy.jitter_s)

    async def _known(
        self, ticket: OrderTicket, reason: str, deadline: datetime, *, immediate: bool
    ) -> Fill:
        """The order exists (duplicate id): its fill, or why that is not known yet."""
        found = await self._watch(ticket, deadline, immediate=immediate)
        return self._decided(ticket, found, reason)

    def _decided(self, ticket: OrderTicket, found: LookUp, reason: str) -> Fill:
        if found.fill is not None:
            return found.fill
        if found.seen is Seen.ENDED:
            raise self._ended(ticket, found.status)
        raise self._uncertain(ticket, f"{reason}; the look-up was {found.seen.value}")

    async def _settle_answer(
        self, ticket: OrderTicket, answer: Mapping[str, Any], deadline: datetime
    ) -> Fill:
        """The order was accepted: its fill, from the answer or (OKX, no fills in it) a look-up."""
        if is_final(answer) and not needs_trades(answer):
            fill = self.lookup.fill(ticket, answer, None)
            if fill is None:
                raise self._ended(ticket, str(answer.get("status")))
            return fill
        found = await self._watch(ticket, deadline, immediate=True)
        if found.fill is not None:
            return found.fill
        if found.seen is Seen.ENDED:
            raise self._ended(ticket, found.status)
        raise self._uncertain(ticket, f"accepted, but its fill is {found.seen.value}")

    async def _watch(self, ticket: OrderTicket, deadline: datetime, *, immediate: bool) -> LookUp:
        """Look the order up until it is found final, or until a look-up made after the
        deadline (on the exchange's clock) answers; that last answer stands."""
        delays = list(self.calls.policy.lookup_delays_s) or [1.0]
        first, last = immediate, LookUp(Seen.UNANSWERED)
        while True:
            if not first:
                await self.calls.sleep(delays.pop(0) if len(delays) > 1 else delays[0])
            first = False
            after_deadline = self.server_now() > deadline
            try:
                last = await self.calls.once(
                    f"look-up of {ticket.client_order_id}", lambda: self.lookup.look_up(ticket)
                )
            except OrderUncertain:
                raise
            except Exception as exc:  # not answered: never proof of absence
                self.calls.log.warning(
                    "look-up of %s failed (%s)", ticket.client_order_id, exchange_reason(exc)
                )
                last = LookUp(Seen.UNANSWERED)
            if last.seen in (Seen.FILLED, Seen.ENDED) or after_deadline:
                return last

    def _refused(
        self,
        ticket: OrderTicket,
        exc: BaseException,
        reason: str,
        size: tuple[Decimal | None, Decimal | None],
    ) -> ExchangeError:
        where = self.calls.where
        if is_insufficient_funds(exc):
            return insufficient(where, ticket.description, reason)
        if is_unknown_symbol(exc):
            return UnknownMarket(f"{where}: {reason}")
        if is_authentication(exc):
            return ExchangeUnavailable(
                f"{where} refused the API key ({reason}); nothing was placed. Check the key's "
                f"trade permission and IP whitelist, then `dcabot keys add {self.calls.client.id}`"
            )
        amount, cost = size
        return refusal(where, ticket.description, reason, ticket.rules, amount, cost)

    def _ended(self, ticket: OrderTicket, status: str) -> OrderRejected:
        return OrderRejected(
            f"{self.calls.where} ended the {ticket.description} as {status} with nothing filled"
        )

    def _uncertain(self, ticket: OrderTicket, why: str) -> OrderUncertain:
        self.calls.log.error(
            "%s %s: outcome unknown (%s)", ticket.side, ticket.client_order_id, why
        )
        return OrderUncertain(
            f"{self.calls.where} may have placed the {ticket.description} (client order id "
            f"{ticket.client_order_id}): {why}. It is kept open and looked up again before "
            "anything is sent for it"
        )
