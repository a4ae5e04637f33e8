"""Looking an order up by its client order id, and what the answer proves.

* The order is found and final: its fill (from its trades when the order does not carry the
  fees), or "ended with nothing filled".
* Binance -2026 ORDER_ARCHIVED: "canceled or expired with no executed qty over 90 days ago",
  by Binance's own definition an order that ended with nothing filled.
* Not found (Binance -2013, OKX 51603): proof of nothing by itself, because a request can land
  late; the caller decides once the request's deadline has passed. OKX forgets orders after a
  while but keeps their fills, which carry the client order id, so a "not found" there is
  checked against the account's recent fills first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from bot.exchanges.base import Fill, MarketRules, OrderUncertain
from bot.exchanges.ccxt_calls import CcxtCalls
from bot.exchanges.ccxt_errors import exchange_reason, is_not_found
from bot.exchanges.ccxt_orders import fill_from_order, is_final, needs_trades

ARCHIVED = "-2026"  # Binance: ended with nothing executed, archived
TRADE_HISTORY_LIMIT = 100


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


class OrderLookup:
    def __init__(self, calls: CcxtCalls) -> None:
        self.calls = calls

    async def look_up(self, ticket: OrderTicket) -> LookUp:
        """One look-up; raises when the exchange does not answer (never proof of absence)."""
        client, symbol = self.calls.client, ticket.symbol
        try:
            order = await client.fetch_order(
                None, symbol, {"clientOrderId": ticket.client_order_id}
            )
        except Exception as exc:
            if ARCHIVED in exchange_reason(exc):
                return LookUp(Seen.ENDED, status="archived (ended with nothing filled)")
            if is_not_found(exc):
                return await self._in_trade_history(ticket)
            raise
        status = str(order.get("status") or "")
        if not is_final(order):
            return LookUp(Seen.PENDING, status=status)
        trades = None
        if needs_trades(order) and client.has.get("fetchOrderTrades"):
            trades = await client.fetch_order_trades(order["id"], symbol)
        fill = self.fill(ticket, order, trades)
        return LookUp(Seen.FILLED, fill, status) if fill else LookUp(Seen.ENDED, None, status)

    async def _in_trade_history(self, ticket: OrderTicket) -> LookUp:
        """OKX's fills carry the client order id: an order it forgot may still have them."""
        if self.calls.client.id != "okx":
            return LookUp(Seen.ABSENT)
        trades: Sequence[Mapping[str, Any]] = await self.calls.client.fetch_my_trades(
            ticket.symbol, None, TRADE_HISTORY_LIMIT
        )
        mine = [
            t for t in trades if (t.get("info") or {}).get("clOrdId") == ticket.client_order_id
        ]
        if not mine:
            return LookUp(Seen.ABSENT)
        first = mine[0]
        order = {"side": first.get("side"), "id": first.get("order"), "status": "closed"}
        fill = self.fill(ticket, order, mine)
        return LookUp(Seen.FILLED, fill, "found in the trade history") if fill else LookUp(
            Seen.ABSENT
        )

    def fill(
        self, ticket: OrderTicket, order: Mapping[str, Any], trades: Any
    ) -> Fill | None:
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
