"""Binance's account and order endpoints for the fake (see exchange_binance): the balance, MARKET
orders by quantity or quote amount, order look-up, all orders and the account's trades.

A market order that runs out of liquidity ends EXPIRED with what it executed (faqs/
market_orders_faq.md), with `expiryReason` (rest-api.md, "Conditional fields in Order Responses").
An archived order's look-up answers -2026 ORDER_ARCHIVED; its trades stay in myTrades.

A LIMIT order placed by hand (FakeExchange.rest_by_hand) rests with `status` NEW or
PARTIALLY_FILLED (enums.md "Order status"), `executedQty` / `cummulativeQuoteQty` what executed so
far, until it is FILLED; it is listed by openOrders meanwhile, and what it may still spend shows as
`locked` in the account. myTrades lists each of its trades as it happens.
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .exchange_core import Fault, Response, floor_to_step, is_multiple, to_decimal
from .exchange_ledger import EIGHT_PLACES, Execution, FakeOrder, FakeTrade

CLIENT_ID = re.compile(r"^[a-zA-Z0-9-_]{1,36}$")
ILLEGAL = "Illegal characters found in parameter '{}'; legal range is '{}'."
DECIMAL_RANGE = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
DAY_MS = 86_400_000
MESSAGES = {
    -1003: "Too many requests queued.",
    -1007: "Timeout waiting for response from backend server. Send status unknown; "
    "execution status unknown.",
    -1013: "Filter failure: NOTIONAL",
    -1021: "Timestamp for this request is outside of the recvWindow.",
    -1022: "Signature for this request is not valid.",
    -1121: "Invalid symbol.",
    -1127: "More than 24 hours between startTime and endTime.",
    -1128: "Combination of optional parameters invalid.",
    -2010: "Account has insufficient balance for requested action.",
    -2013: "Order does not exist.",
    -2014: "API-key format invalid.",
    -2015: "Invalid API-key, IP, or permissions for action.",
    -2026: "Order was canceled or expired with no executed qty over 90 days ago and has been "
    "archived.",
}


def error(code: int, msg: str | None = None, status: int = 400) -> Response:
    return Response(
        status, {"code": code, "msg": msg or MESSAGES.get(code, "Rejected by the fake.")}
    )


def missing(name: str) -> Response:
    return error(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def f8(value: Decimal) -> str:
    return f"{value:.8f}"


class BinanceTrading:
    """The account half of BinanceVenue."""

    name = "binance"
    ledger: Any
    settings: Any
    symbols: dict[str, dict[str, Any]]

    if TYPE_CHECKING:  # provided by Venue and the venue class

        def now(self) -> int: ...

        def _filter(self, symbol: str, kind: str) -> dict[str, Any]: ...

        def is_duplicate(self, market: str | None, client_id: str) -> bool: ...

    def _account(self) -> Response:
        with self.ledger.lock:
            free, locked = self.ledger.balances, self.ledger.locked
            balances = [
                {
                    "asset": a,
                    "free": f8(free.get(a, Decimal(0))),
                    "locked": f8(locked.get(a, Decimal(0))),
                }
                for a in sorted(free.keys() | locked.keys())
            ]
        return Response(
            200,
            {
                "makerCommission": 10,
                "takerCommission": 10,
                "canTrade": True,
                "canWithdraw": True,
                "canDeposit": True,
                "updateTime": self.now(),
                "accountType": "SPOT",
                "balances": balances,
                "permissions": ["SPOT"],
                "uid": 1,
            },
        )

    def _place(self, params: dict[str, str], fault: Fault | None) -> Response:
        for name in ("symbol", "side", "type"):
            if not params.get(name):
                return missing(name)
        symbol, side = params["symbol"], params["side"]
        if side not in ("BUY", "SELL"):
            return error(-1117, "Invalid side.")
        if params["type"] != "MARKET":
            return error(-1116, "Invalid orderType. (The fake fills MARKET orders only.)")
        client_id = params.get("newClientOrderId") or f"fake{self.ledger.next_order_id()}"
        if not CLIENT_ID.match(client_id):
            return error(-1100, ILLEGAL.format("newClientOrderId", CLIENT_ID.pattern))
        raw_qty, raw_quote = params.get("quantity"), params.get("quoteOrderQty")
        if raw_qty is not None and raw_quote is not None:
            return error(-1106, "Parameter 'quoteOrderQty' sent when not required.")
        if raw_qty is None and raw_quote is None:
            return error(
                -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
            )
        amount = to_decimal(raw_qty or raw_quote)
        if amount is None or amount <= 0:
            name = "quantity" if raw_qty is not None else "quoteOrderQty"
            return error(-1100, ILLEGAL.format(name, DECIMAL_RANGE))
        with self.ledger.lock:
            if self.is_duplicate(symbol, client_id):
                return error(-2010, "Duplicate order sent.")
            price = self.ledger.prices.get(symbol)
            if price is None:
                return error(-1000, f"The fake has no price for {symbol}: call set_price().")
            step = Decimal(self._filter(symbol, "LOT_SIZE").get("stepSize", "0"))
            qty = amount if raw_qty is not None else floor_to_step(amount / price, step)
            refused = self._check_filters(symbol, qty, price, step)
            return refused or self._fill(symbol, side, qty, price, step, client_id, params, fault)

    def limit_order(
        self, market: str, side: str, qty: Decimal, price: Decimal, client_id: str | None
    ) -> Execution:
        """Binance's app names its orders "web_" and 32 hex digits (the fake's choice of form)."""
        info = self.symbols[market]
        step = Decimal(self._filter(market, "LOT_SIZE").get("stepSize", "0"))
        tick = Decimal(self._filter(market, "PRICE_FILTER").get("tickSize", "0"))
        if not is_multiple(qty, step) or not is_multiple(price, tick) or price <= 0:
            raise ValueError(f"{market}: quantity in steps of {step}, price in ticks of {tick}")
        client_id = client_id or f"web_{secrets.token_hex(16)}"
        params = {"symbol": market, "side": side.upper(), "type": "LIMIT", "timeInForce": "GTC",
                  "quantity": f8(qty), "price": f8(price), "newClientOrderId": client_id}
        return Execution(
            self.name,
            str(self.ledger.next_order_id()),
            client_id,
            market,
            info["baseAsset"],
            info["quoteAsset"],
            side,
            qty,
            price,
            step,
            Decimal(1),
            EIGHT_PLACES,
            self.now(),
            params,
        )

    def _check_filters(
        self, symbol: str, qty: Decimal, price: Decimal, step: Decimal
    ) -> Response | None:
        notional = qty * price
        current, legacy = self._filter(symbol, "NOTIONAL"), self._filter(symbol, "MIN_NOTIONAL")
        if current and (
            (current.get("applyMinToMarket") and notional < Decimal(current["minNotional"]))
            or (current.get("applyMaxToMarket") and notional > Decimal(current["maxNotional"]))
        ):
            return error(-1013, "Filter failure: NOTIONAL")
        if legacy and legacy.get("applyToMarket") and notional < Decimal(legacy["minNotional"]):
            return error(-1013, "Filter failure: MIN_NOTIONAL")
        lot = self._filter(symbol, "LOT_SIZE")
        if not is_multiple(qty, step) or not Decimal(lot["minQty"]) <= qty <= Decimal(
            lot["maxQty"]
        ):
            return error(-1013, "Filter failure: LOT_SIZE")
        market_max = Decimal(self._filter(symbol, "MARKET_LOT_SIZE").get("maxQty", "0"))
        if 0 < market_max < qty:
            return error(-1013, "Filter failure: MARKET_LOT_SIZE")
        return None

    def _fill(
        self,
        symbol: str,
        side: str,
        qty: Decimal,
        price: Decimal,
        step: Decimal,
        client_id: str,
        params: dict[str, str],
        fault: Fault | None,
    ) -> Response:
        info = self.symbols[symbol]
        base, quote = info["baseAsset"], info["quoteAsset"]
        cost = (qty * price).quantize(EIGHT_PLACES)
        spend_asset, spend = (quote, cost) if side == "BUY" else (base, qty)
        if self.ledger.free(spend_asset) < spend:  # refused unless the whole order is covered
            return error(-2010)
        fraction = fault.fraction if fault and fault.fraction is not None else Decimal(1)
        order = self.ledger.execute(
            Execution(
                self.name,
                str(self.ledger.next_order_id()),
                client_id,
                symbol,
                base,
                quote,
                side.lower(),
                qty,
                price,
                step,
                fraction,
                EIGHT_PLACES,
                self.now(),
                params,
            )
        )
        body = {**self._order_body(order), "transactTime": order.created_ms}
        kind = params.get("newOrderRespType", "FULL")
        if kind == "ACK":
            keys = ("symbol", "orderId", "orderListId", "clientOrderId", "transactTime")
            body = {k: body[k] for k in keys}
        elif kind == "FULL":
            body["fills"] = [
                {
                    "price": f8(t.price),
                    "qty": f8(t.qty),
                    "commission": f8(t.commission),
                    "commissionAsset": t.commission_asset,
                    "tradeId": t.trade_id,
                }
                for t in order.trades
            ]
        return Response(200, body)

    def _order_body(self, order: FakeOrder) -> dict[str, Any]:
        body = {
            "symbol": order.symbol,
            "orderId": int(order.order_id),
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "price": f8(order.price) if order.order_type == "limit" else "0.00000000",
            "origQty": f8(order.requested),
            "executedQty": f8(order.amount),
            "cummulativeQuoteQty": f8(order.cost),
            "origQuoteOrderQty": order.params.get("quoteOrderQty", "0.00000000"),
            "status": order.status.upper(),
            "timeInForce": "GTC",
            "type": order.order_type.upper(),
            "side": order.side.upper(),
            "time": order.created_ms,
            "updateTime": order.updated_ms,
            "workingTime": order.created_ms,
            "isWorking": True,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
        if order.status == "expired":
            body["expiryReason"] = "INSUFFICIENT_LIQUIDITY"
        return body

    def _query_order(self, params: dict[str, str]) -> Response:
        """By orderId (then checked against origClientOrderId), else by origClientOrderId."""
        symbol, client_id, order_id = (
            params.get("symbol"),
            params.get("origClientOrderId"),
            params.get("orderId"),
        )
        if not symbol:
            return missing("symbol")
        if client_id is None and order_id is None:
            return error(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        if order_id is not None:
            order = self.ledger.find(symbol, client_id=None, order_id=order_id)
            if order is not None and client_id is not None and order.client_order_id != client_id:
                order = None
        else:
            order = self.ledger.find(symbol, client_id=client_id, order_id=None)
        if order is None:
            return error(-2013)
        if order.order_id in self.ledger.archived:
            return error(-2026)
        return Response(200, self._order_body(order))

    def _orders_of(self, symbol: str) -> list[FakeOrder]:
        with self.ledger.lock:
            return [o for o in self.ledger.orders if o.symbol == symbol]

    def _open_orders(self, params: dict[str, str]) -> Response:
        """Resting orders, of `symbol` or of every symbol (market orders never rest)."""
        symbol = params.get("symbol")
        with self.ledger.lock:
            found = [o for o in self.ledger.orders if symbol in (None, o.symbol) and o.resting]
        return Response(200, [self._order_body(o) for o in found])

    def _all_orders(self, params: dict[str, str]) -> Response:
        if not params.get("symbol"):
            return missing("symbol")
        orders = self._orders_of(params["symbol"])
        live = [o for o in orders if o.order_id not in self.ledger.archived]
        return Response(200, [self._order_body(o) for o in live])

    def _my_trades(self, params: dict[str, str]) -> Response:
        """rest-api.md "Account trade list": the supported parameter combinations, at most 24 h
        between startTime and endTime, limit 500 (max 1000), oldest first."""
        symbol = params.get("symbol")
        if not symbol:
            return missing("symbol")
        given = {k for k in ("orderId", "startTime", "endTime", "fromId") if params.get(k)}
        allowed = ({"orderId", "fromId"}, {"startTime", "endTime"})
        if len(given) > 1 and not any(given <= combo for combo in allowed):
            return error(-1128)
        start, end = _int(params.get("startTime")), _int(params.get("endTime"))
        if start is not None and end is not None and end - start > DAY_MS:
            return error(-1127)
        limit = min(_int(params.get("limit")) or 500, 1000)
        order_id, from_id = params.get("orderId"), _int(params.get("fromId"))
        rows = [
            (order, trade)
            for order in self._orders_of(symbol)
            for trade in order.trades
            if (order_id is None or order.order_id == order_id)
            and (from_id is None or trade.trade_id >= from_id)
            and (start is None or trade.time_ms >= start)
            and (end is None or trade.time_ms <= end)
        ]
        rows.sort(key=lambda row: row[1].trade_id)
        # with startTime or fromId: the oldest from there; otherwise the most recent
        rows = rows[:limit] if start is not None or from_id is not None else rows[-limit:]
        return Response(200, [_trade_row(o, t) for o, t in rows])


def _trade_row(order: FakeOrder, trade: FakeTrade) -> dict[str, Any]:
    return {
        "symbol": order.symbol,
        "id": trade.trade_id,
        "orderId": int(order.order_id),
        "orderListId": -1,
        "price": f8(trade.price),
        "qty": f8(trade.qty),
        "quoteQty": f8(trade.quote_qty),
        "commission": f8(trade.commission),
        "commissionAsset": trade.commission_asset,
        "time": trade.time_ms,
        "isBuyer": order.side == "buy",
        "isMaker": trade.maker,
        "isBestMatch": True,
    }


def _int(text: str | None) -> int | None:
    return int(text) if text and text.lstrip("-").isdigit() else None
