"""The account's own trade list, read page by page from where the last sync stopped.

Binance (`GET /api/v3/myTrades`) is read oldest first from a trade id (`fromId`), 1000 a page;
OKX (`GET /api/v5/trade/fills-history`, the last 3 months) newest first from a time (`begin`),
100 a page, going back by `billId` (`after`). Trades are summed per order into a `Fill`; an
order whose last trade is younger than an order request's deadline window (`recvWindow` plus the
settling margin, 15 s) may still be filling and waits for the next sync, so a sync never books
half an order. The cursor returned is where the next one starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.exchanges.base import Fill, MarketRules
from bot.exchanges.ccxt_calls import CcxtCalls
from bot.exchanges.ccxt_orders import fill_from_order, is_final

BINANCE_PAGE, OKX_PAGE, OTHER_PAGE = 1000, 100, 500
MAX_PAGES = 200  # 200,000 Binance trades in one sync at most; the next sync goes on


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    """One order as the trade list shows it: its trades summed; the client id when listed."""

    fill: Fill
    at: datetime  # its last trade
    first_key: int = 0  # where its first trade stands in the list (a cursor before it re-reads it)


@dataclass(frozen=True, slots=True)
class TradePage:
    orders: tuple[ExchangeOrder, ...]
    cursor: str  # where the next sync starts ("" when nothing was ever read)


Trade = Mapping[str, Any]


async def _binance(calls: CcxtCalls, symbol: str, cursor: str) -> list[Trade]:
    found: list[Trade] = []
    from_id = int(cursor) + 1 if cursor else 0
    for _ in range(MAX_PAGES):
        params = {"fromId": from_id}

        async def page_from(params: dict[str, Any] = params) -> Sequence[Trade]:
            rows: Sequence[Trade] = await calls.client.fetch_my_trades(
                symbol, None, BINANCE_PAGE, params)
            return rows

        page = await calls.read(f"{symbol} trades", page_from)
        found += page
        if len(page) < BINANCE_PAGE:
            break
        from_id = max(int(t["id"]) for t in page) + 1
    return found


async def _okx(calls: CcxtCalls, symbol: str, cursor: str) -> list[Trade]:
    found: list[Trade] = []
    since = int(cursor) + 1 if cursor else None
    extra: dict[str, Any] = {}
    for _ in range(MAX_PAGES):
        params = dict(extra)

        async def page_before(params: dict[str, Any] = params) -> Sequence[Trade]:
            rows: Sequence[Trade] = await calls.client.fetch_my_trades(
                symbol, since, OKX_PAGE, params)
            return rows

        page = await calls.read(f"{symbol} fills", page_before)
        found += page
        if len(page) < OKX_PAGE:
            break
        extra = {"after": min(int((t.get("info") or {}).get("billId", 0)) for t in page)}
    return found


def _key(exchange: str, trade: Trade) -> int:
    """Where a trade stands in the list: Binance's trade id, else its time (ms)."""
    return int(trade["id"]) if exchange == "binance" else int(trade["timestamp"])


def _client_id(trades: Sequence[Trade]) -> str:
    for trade in trades:
        info = trade.get("info") or {}
        listed = info.get("clOrdId") or info.get("clientOrderId") or trade.get("clientOrderId")
        if listed:
            return str(listed)
    return ""


async def read_trade_history(calls: CcxtCalls, rules: MarketRules, cursor: str,
                             now_ms: int) -> TradePage:
    exchange = calls.client.id
    if exchange == "binance":
        trades = await _binance(calls, rules.symbol, cursor)
    elif exchange == "okx":
        trades = await _okx(calls, rules.symbol, cursor)
    else:
        since = int(cursor) + 1 if cursor else None
        trades = await calls.read(f"{rules.symbol} trades", lambda: calls.client.fetch_my_trades(
            rules.symbol, since, OTHER_PAGE))
    by_order: dict[str, list[Trade]] = {}
    for trade in trades:
        by_order.setdefault(str(trade.get("order") or trade.get("id")), []).append(trade)
    policy = calls.policy
    settle_ms = int((policy.recv_window_s + policy.settle_margin_s) * 1000)
    filling = [rows for rows in by_order.values()
               if max(int(t["timestamp"]) for t in rows) > now_ms - settle_ms]
    # nothing at or past the first trade of an order still filling is booked yet
    cut = min((_key(exchange, t) for rows in filling for t in rows), default=None)
    booked = {oid: rows for oid, rows in by_order.items()
              if cut is None or max(_key(exchange, t) for t in rows) < cut}
    orders = []
    for order_id, rows in booked.items():
        rows.sort(key=lambda t: _key(exchange, t))
        order = {"side": rows[0].get("side"), "id": order_id, "status": "closed"}
        fill = fill_from_order(order, client_order_id=_client_id(rows), symbol=rules.symbol,
                               base=rules.base, quote=rules.quote, trades=list(rows))
        if fill is not None:
            at = datetime.fromtimestamp(int(rows[-1]["timestamp"]) / 1000, UTC)
            orders.append(ExchangeOrder(fill, at, _key(exchange, rows[0])))
    keys = [_key(exchange, t) for rows in booked.values() for t in rows]
    orders.sort(key=lambda o: o.at)
    return TradePage(tuple(orders), str(max(keys)) if keys else cursor)


async def read_order_status(calls: CcxtCalls, symbol: str, exchange_order_id: str
                            ) -> tuple[str, bool]:
    """An order the trade list names by its exchange id: its client order id, and whether it
    is done executing (a resting order may fill more later)."""
    order = await calls.read(f"order {exchange_order_id}",
                             lambda: calls.client.fetch_order(exchange_order_id, symbol))
    return str(order.get("clientOrderId") or ""), is_final(order)
