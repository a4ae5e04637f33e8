"""Sending one market order so that an order the exchange accepted is reported exactly once.

The rules, in the order a request can fail:

* Rate limited (429/418) or clock skew: the exchange refused it at the door. Back off (exponential,
  with jitter) and send again with the same client order id.
* Timeout, dropped connection, 5xx, unreadable answer: the order may exist. Look it up by client
  order id, waiting a little before each look-up (an order can land after its request timed
  out). Found: that is the fill. Still absent at the last look-up: send again. A look-up that
  cannot be answered: stop and raise `OrderUncertain`; the engine keeps the intent `sending`
  and start-up reconciliation settles it before anything is sent for that cause again.
* "Duplicate client order id": the order exists; look it up.
* A business refusal (balance, filters, key): nothing was placed, unless an earlier attempt was
  unclear, in which case the outcome is still unknown (`OrderUncertain`).

Real exchanges refuse a reused client order id only while the first order is open, so a market
order sent twice with one id can fill twice: nothing here relies on the exchange to deduplicate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from bot.exchanges.base import (
    BelowMinimum,
    ExchangeError,
    ExchangeUnavailable,
    Fill,
    InsufficientFunds,
    MarketRules,
    OrderRejected,
    OrderUncertain,
    UnknownMarket,
)
from bot.exchanges.ccxt_calls import CcxtCalls
from bot.exchanges.ccxt_errors import (
    Outcome,
    classify,
    exchange_reason,
    is_authentication,
    is_duplicate_client_id,
    is_insufficient_funds,
    is_not_found,
    is_rate_limit,
    is_unknown_symbol,
)
from bot.exchanges.ccxt_orders import fill_from_order, is_final, needs_trades
from bot.exchanges.quantize import fmt_plain

SendOrder = Callable[[], Awaitable[Mapping[str, Any]]]
MINIMUM_RULES = ("NOTIONAL", "LOT_SIZE", "51020")  # Binance filters, OKX "below minimum amount"


class Seen(Enum):
    """What one look-up by client order id found."""

    FILLED = "filled"
    ENDED = "ended with nothing filled"
    PENDING = "still executing"
    ABSENT = "not found"
    UNANSWERED = "not answered"


@dataclass(frozen=True, slots=True)
class OrderTicket:
    """The order being placed, as the flow needs to describe and look it up."""

    rules: MarketRules
    side: str
    client_order_id: str
    description: str  # "buy of BTC/USDT for 50 USDT"

    @property
    def symbol(self) -> str:
        return self.rules.symbol


@dataclass(frozen=True, slots=True)
class LookUp:
    seen: Seen
    fill: Fill | None = None
    status: str = ""


class _SendAgain(Exception):
    """This attempt placed nothing (refused at the door, or absent after the look-ups)."""


class _Ended(Exception):
    """The order with our client id exists and ended with nothing filled: a definite answer."""

    def __init__(self, error: OrderRejected) -> None:
        super().__init__(str(error))
        self.error = error


class OrderFlow:
    """Places orders through one exchange's `CcxtCalls`."""

    def __init__(self, calls: CcxtCalls) -> None:
        self.calls = calls

    async def place(self, ticket: OrderTicket, send: SendOrder) -> Fill:
        """Send until the exchange's answer is known; see the module docstring for the rules."""
        unclear: list[str] = []  # reasons an attempt may have placed the order
        policy = self.calls.policy
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.send_attempts),
            wait=policy.backoff(),
            retry=retry_if_exception_type(_SendAgain),
            reraise=True,
            sleep=self.calls.sleep,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.calls.breaker.refuse_if_open()
                    return await self._attempt(ticket, send, unclear)
        except _Ended as ended:
            raise ended.error from None
        except (_SendAgain, ExchangeUnavailable, OrderRejected) as exc:
            if unclear:
                raise self._uncertain(ticket, f"{unclear[0]}, then {exc}") from None
            if isinstance(exc, _SendAgain):
                raise ExchangeUnavailable(
                    f"{self.calls.where} would not take the {ticket.description} after "
                    f"{policy.send_attempts} tries ({exc}); nothing was placed"
                ) from None
            raise
        raise AssertionError("tenacity ended without an outcome")  # pragma: no cover

    async def find(self, ticket: OrderTicket) -> Fill | None:
        """The protocol's `find_order`: one look-up, with the read retries."""
        found = await self.calls.read(
            f"look-up of order {ticket.client_order_id}", lambda: self._look_up(ticket)
        )
        if found.seen is Seen.PENDING:
            raise OrderUncertain(
                f"{self.calls.where}: order {ticket.client_order_id} on {ticket.symbol} is still "
                f"{found.status or 'open'}; it will be looked up again"
            )
        return found.fill

    async def _attempt(self, ticket: OrderTicket, send: SendOrder, unclear: list[str]) -> Fill:
        log, cid = self.calls.log, ticket.client_order_id
        try:
            answer = await self.calls.once(f"{ticket.side} order", send)
        except Exception as exc:
            reason = exchange_reason(exc)
            if is_duplicate_client_id(exc):
                log.warning(
                    "%s %s: client id already used (%s); looking it up", ticket.side, cid, reason
                )
                return await self._settle_unclear(ticket, reason, unclear, immediate=True)
            outcome = classify(exc)
            if outcome is Outcome.NOT_PROCESSED:
                kind = "rate limited" if is_rate_limit(exc) else "not processed"
                log.warning("%s %s %s (%s); backing off", ticket.side, cid, kind, reason)
                raise _SendAgain(f"{kind}: {reason}") from None
            if outcome is Outcome.UNKNOWN:
                log.warning(
                    "%s %s: outcome unknown (%s); looking it up before sending again",
                    ticket.side,
                    cid,
                    reason,
                )
                return await self._settle_unclear(ticket, reason, unclear, immediate=False)
            raise self._refused(ticket, exc, reason) from None
        return await self._settle_answer(ticket, answer, unclear)

    async def _settle_unclear(
        self, ticket: OrderTicket, reason: str, unclear: list[str], *, immediate: bool
    ) -> Fill:
        unclear.append(reason)
        found = await self._watch(ticket, immediate=immediate)
        if found.fill is not None:
            return found.fill
        if found.seen is Seen.ABSENT:
            self.calls.log.warning(
                "%s %s still absent after %d look-ups; sending it again",
                ticket.side,
                ticket.client_order_id,
                len(self.calls.policy.lookup_delays_s),
            )
            raise _SendAgain(f"{reason}; the order was not found afterwards")
        if found.seen is Seen.ENDED:
            raise self._ended(ticket, found.status)
        raise self._uncertain(ticket, f"{reason}; the look-up was {found.seen.value}")

    async def _settle_answer(
        self, ticket: OrderTicket, answer: Mapping[str, Any], unclear: list[str]
    ) -> Fill:
        """The order was accepted: its fill, from the answer or (OKX, no fills in it) a look-up."""
        if is_final(answer) and not needs_trades(answer):
            fill = self._fill(ticket, answer, None)
            if fill is None:
                raise self._ended(ticket, str(answer.get("status")))
            return fill
        found = await self._watch(ticket, immediate=True)
        if found.fill is not None:
            return found.fill
        if found.seen is Seen.ENDED:
            raise self._ended(ticket, found.status)
        unclear.append("accepted")
        raise self._uncertain(ticket, f"accepted, but its fill is {found.seen.value}")

    async def _watch(self, ticket: OrderTicket, *, immediate: bool) -> LookUp:
        """Look the order up after each wait; the last answer stands unless one finds it."""
        delays = ((0.0,) if immediate else ()) + self.calls.policy.lookup_delays_s
        last = LookUp(Seen.UNANSWERED)
        for delay in delays:
            if delay > 0:
                await self.calls.sleep(delay)
            try:
                last = await self.calls.once(
                    f"look-up of {ticket.client_order_id}", lambda: self._look_up(ticket)
                )
            except Exception as exc:  # not answered: never proof of absence
                self.calls.log.warning(
                    "look-up of %s failed (%s)", ticket.client_order_id, exchange_reason(exc)
                )
                last = LookUp(Seen.UNANSWERED)
                continue
            if last.seen in (Seen.FILLED, Seen.ENDED):
                return last
        return last

    async def _look_up(self, ticket: OrderTicket) -> LookUp:
        client, symbol = self.calls.client, ticket.symbol
        try:
            order = await client.fetch_order(
                None, symbol, {"clientOrderId": ticket.client_order_id}
            )
        except Exception as exc:
            if is_not_found(exc):
                return LookUp(Seen.ABSENT)
            raise
        status = str(order.get("status") or "")
        if not is_final(order):
            return LookUp(Seen.PENDING, status=status)
        trades = None
        if needs_trades(order) and client.has.get("fetchOrderTrades"):
            trades = await client.fetch_order_trades(order["id"], symbol)
        fill = self._fill(ticket, order, trades)
        return LookUp(Seen.FILLED, fill, status) if fill else LookUp(Seen.ENDED, None, status)

    def _fill(self, ticket: OrderTicket, order: Mapping[str, Any], trades: Any) -> Fill | None:
        rules = ticket.rules
        fill = fill_from_order(
            order,
            client_order_id=ticket.client_order_id,
            symbol=rules.symbol,
            base=rules.base,
            quote=rules.quote,
            trades=trades,
        )
        if fill is not None and ticket.side and fill.side != ticket.side:
            raise OrderUncertain(
                f"{self.calls.where}: client order id {ticket.client_order_id} belongs to a "
                f"{fill.side} order, not this {ticket.side}"
            )
        return fill

    def _refused(self, ticket: OrderTicket, exc: BaseException, reason: str) -> ExchangeError:
        where = self.calls.where
        if is_insufficient_funds(exc):
            return InsufficientFunds(f"{where} refused the {ticket.description}: {reason}")
        if is_unknown_symbol(exc):
            return UnknownMarket(f"{where}: {reason}")
        if is_authentication(exc):
            return ExchangeUnavailable(
                f"{where} refused the API key ({reason}); nothing was placed. Check the key's "
                f"trade permission and IP whitelist, then `dcabot keys add {self.calls.client.id}`"
            )
        if any(rule in reason for rule in MINIMUM_RULES):
            rules = ticket.rules
            return BelowMinimum(
                f"{where} refused the {ticket.description} as too small ({reason}); it needs at "
                f"least {fmt_plain(rules.min_cost)} {rules.quote} and "
                f"{fmt_plain(rules.min_amount)} {rules.base} per {rules.symbol} order"
            )
        return OrderRejected(f"{where} refused the {ticket.description}: {reason}")

    def _ended(self, ticket: OrderTicket, status: str) -> _Ended:
        return _Ended(
            OrderRejected(
                f"{self.calls.where} ended the {ticket.description} as {status} with nothing filled"
            )
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
