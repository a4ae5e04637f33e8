"""Enough of Binance's spot REST API (/api/v3) for ccxt: markets, prices, candles, balances,
MARKET orders by quantity or quote amount, order look-up, signed requests and Binance's errors.

Bodies and error codes follow Binance's documentation: errors are HTTP 400 with
`{"code": -1013, "msg": "Filter failure: NOTIONAL"}`, key errors 401, rate limits 429 and 418.
Notional is checked against the current price (Binance uses a 5-minute average).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from .exchange_core import (
    INTERVAL_MS,
    FakeOrder,
    Fault,
    Request,
    Response,
    Venue,
    VenueSettings,
    floor_to_step,
    is_multiple,
    load_json,
    load_json_bytes,
    now_ms,
    select_candles,
    to_decimal,
)

PRIVATE_PATHS = frozenset(
    f"/api/v3/{name}" for name in ("order", "account", "openOrders", "allOrders", "myTrades")
)
CLIENT_ID = re.compile(r"^[a-zA-Z0-9-_]{1,36}$")
ILLEGAL = "Illegal characters found in parameter '{}'; legal range is '{}'."
DECIMAL_RANGE = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
MESSAGES = {
    -1003: "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute.",
    -1013: "Filter failure: NOTIONAL",
    -1021: "Timestamp for this request is outside of the recvWindow.",
    -1022: "Signature for this request is not valid.",
    -1121: "Invalid symbol.",
    -2010: "Account has insufficient balance for requested action.",
    -2013: "Order does not exist.",
    -2014: "API-key format invalid.",
    -2015: "Invalid API-key, IP, or permissions for action.",
}


def _error(code: int, msg: str | None = None, status: int = 400) -> Response:
    return Response(
        status, {"code": code, "msg": msg or MESSAGES.get(code, "Rejected by the fake.")}
    )


def _missing(name: str) -> Response:
    return _error(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def _f8(value: Decimal) -> str:
    return f"{value:.8f}"


class BinanceVenue(Venue):
    name = "binance"
    order_endpoints = frozenset({"POST /api/v3/order"})

    def __init__(self, settings: VenueSettings, exchange_info: Path) -> None:
        super().__init__(settings)
        self._info_path = exchange_info
        self.symbols: dict[str, dict[str, Any]] = {
            s["symbol"]: s for s in load_json(exchange_info)["symbols"]
        }
        for symbol, info in self.symbols.items():
            if info["quoteAsset"] == "USDT":
                self.add_series(
                    symbol,
                    info["baseAsset"],
                    Decimal(self._filter(symbol, "PRICE_FILTER")["tickSize"]),
                )

    def market_id(self, symbol: str) -> str:
        return symbol.replace("/", "")

    def _filter(self, symbol: str, kind: str) -> dict[str, Any]:
        return next((f for f in self.symbols[symbol]["filters"] if f["filterType"] == kind), {})

    def handle(self, request: Request) -> Response:
        if request.path in PRIVATE_PATHS:
            refused = self._authenticate(request)
            if refused is not None:
                return refused
        params = request.form
        if "symbol" in params and params["symbol"] not in self.symbols:
            return _error(-1121)
        routes: dict[str, Callable[[], Response]] = {
            "GET /api/v3/ping": lambda: Response(200, {}),
            "GET /api/v3/time": lambda: Response(200, {"serverTime": now_ms()}),
            "GET /api/v3/exchangeInfo": lambda: self._exchange_info(params),
            "GET /api/v3/ticker/price": lambda: self._tickers(params, self._price_ticker),
            "GET /api/v3/ticker/24hr": lambda: self._tickers(params, self._day_ticker),
            "GET /api/v3/klines": lambda: self._klines(params),
            "GET /api/v3/account": self._account,
            "POST /api/v3/order": lambda: self._place(params),
            "GET /api/v3/order": lambda: self._query_order(params),
            "GET /api/v3/openOrders": lambda: Response(200, []),  # market orders never rest
            "GET /api/v3/allOrders": lambda: self._all_orders(params),
            "GET /api/v3/myTrades": lambda: self._my_trades(params),
        }
        route = routes.get(request.endpoint)
        return route() if route is not None else Response(404, "Not Found")

    def fault_response(self, fault: Fault, request: Request) -> Response:
        retry = {"Retry-After": str(fault.retry_after)}
        if fault.kind == "rate_limited":
            return Response(429, {"code": -1003, "msg": MESSAGES[-1003]}, retry)
        if fault.kind == "ip_banned":
            until = now_ms() + 1000 * (fault.retry_after or 60)
            return Response(
                418,
                {"code": -1003, "msg": f"Way too many requests; IP banned until {until}."},
                retry,
            )
        if fault.kind == "reject":
            return _error(int(fault.code or -1013), fault.message)
        return Response(fault.status or 503, fault.message or "Service Unavailable")

    def _authenticate(self, request: Request) -> Response | None:
        """Binance's order of checks: key, timestamp, signature (HMAC-SHA256 of query + body)."""
        key = request.headers.get("x-mbx-apikey")
        if not key or key != self.settings.api_key:
            return _error(-2015 if key else -2014, status=401)
        params = request.form
        timestamp = params.get("timestamp", "")
        if not timestamp.isdigit():
            return _missing("timestamp")
        window = int(params.get("recvWindow", "5000"))
        if self.settings.check_timestamps and not -1000 <= now_ms() - int(timestamp) <= window:
            return _error(-1021)
        if not params.get("signature"):
            return _missing("signature")
        signed = _without_signature(request.raw_query) + _without_signature(request.body)
        expected = hmac.new(self.secret, signed.encode(), hashlib.sha256).hexdigest()
        return None if hmac.compare_digest(expected, params["signature"]) else _error(-1022)

    # -- market data --------------------------------------------------------------------

    def _exchange_info(self, params: dict[str, str]) -> Response:
        wanted = (
            [params["symbol"]] if "symbol" in params else json.loads(params.get("symbols") or "[]")
        )
        if not wanted:
            return Response(200, load_json_bytes(self._info_path))  # the shared file, verbatim
        if any(symbol not in self.symbols for symbol in wanted):
            return _error(-1121)
        return Response(
            200, {**load_json(self._info_path), "symbols": [self.symbols[s] for s in wanted]}
        )

    def _tickers(self, params: dict[str, str], build: Callable[[str], dict[str, Any]]) -> Response:
        symbol = params.get("symbol")
        if symbol is None:
            return Response(200, [build(s) for s in self.ledger.prices if s in self.symbols])
        if symbol not in self.ledger.prices:
            return _error(-1000, f"The fake has no price for {symbol}: call set_price().")
        return Response(200, build(symbol))

    def _price_ticker(self, symbol: str) -> dict[str, Any]:
        return {"symbol": symbol, "price": _f8(self.ledger.prices[symbol])}

    def _day_ticker(self, symbol: str) -> dict[str, Any]:
        """24 h statistics from the last daily candle, closing at the current price."""
        price, day = self.ledger.prices[symbol], self.candles(symbol, "1d")
        open_, high, low, volume = (
            (Decimal(x) for x in day[-1][1:4] + day[-1][5:]) if day else (price,) * 4
        )
        return {
            "symbol": symbol,
            "priceChange": _f8(price - open_),
            "lastPrice": _f8(price),
            "priceChangePercent": f"{(price - open_) / open_ * 100:.3f}",
            "openPrice": _f8(open_),
            "bidPrice": _f8(price),
            "bidQty": "1.00000000",
            "askPrice": _f8(price),
            "askQty": "1.00000000",
            "highPrice": _f8(max(high, price)),
            "lowPrice": _f8(min(low, price)),
            "volume": _f8(volume),
            "quoteVolume": _f8(volume * price),
            "openTime": now_ms() - 86_400_000,
            "closeTime": now_ms(),
        }

    def _klines(self, params: dict[str, str]) -> Response:
        symbol, interval = params.get("symbol"), params.get("interval")
        if not symbol or not interval:
            return _missing("interval" if symbol else "symbol")
        if interval not in INTERVAL_MS:
            return _error(-1120, "Invalid interval.")
        start, end = params.get("startTime"), params.get("endTime")
        rows = select_candles(
            self.candles(symbol, interval),
            start=int(start) if start else None,
            end=int(end) if end else None,
            limit=min(int(params.get("limit", "500")), 1000),
            newest=start is None,
        )
        step = INTERVAL_MS[interval]
        quote_volume = [_f8(Decimal(c.volume) * Decimal(c.close)) for c in rows]  # approximated
        return Response(
            200,
            [
                [
                    c.open_ms,
                    c.open,
                    c.high,
                    c.low,
                    c.close,
                    c.volume,
                    c.open_ms + step - 1,
                    q,
                    0,
                    "0",
                    "0",
                    "0",
                ]
                for c, q in zip(rows, quote_volume, strict=True)
            ],
        )

    # -- account and orders ------------------------------------------------------------

    def _account(self) -> Response:
        with self.ledger.lock:
            balances = [
                {"asset": a, "free": _f8(v), "locked": "0.00000000"}
                for a, v in sorted(self.ledger.balances.items())
            ]
        return Response(
            200,
            {
                "makerCommission": 10,
                "takerCommission": 10,
                "canTrade": True,
                "canWithdraw": True,
                "canDeposit": True,
                "updateTime": now_ms(),
                "accountType": "SPOT",
                "balances": balances,
                "permissions": ["SPOT"],
                "uid": 1,
            },
        )

    def _place(self, params: dict[str, str]) -> Response:
        for name in ("symbol", "side", "type"):
            if not params.get(name):
                return _missing(name)
        symbol, side = params["symbol"], params["side"]
        if side not in ("BUY", "SELL"):
            return _error(-1117, "Invalid side.")
        if params["type"] != "MARKET":
            return _error(-1116, "Invalid orderType. (The fake fills MARKET orders only.)")
        client_id = params.get("newClientOrderId") or f"fake{self.ledger.next_order_id()}"
        if not CLIENT_ID.match(client_id):
            return _error(-1100, ILLEGAL.format("newClientOrderId", CLIENT_ID.pattern))
        raw_qty, raw_quote = params.get("quantity"), params.get("quoteOrderQty")
        if raw_qty is not None and raw_quote is not None:
            return _error(-1106, "Parameter 'quoteOrderQty' sent when not required.")
        if raw_qty is None and raw_quote is None:
            return _error(
                -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
            )
        amount = to_decimal(raw_qty or raw_quote)
        if amount is None or amount <= 0:
            name = "quantity" if raw_qty is not None else "quoteOrderQty"
            return _error(-1100, ILLEGAL.format(name, DECIMAL_RANGE))
        with self.ledger.lock:
            if self.is_duplicate(symbol, client_id):
                return _error(-2010, "Duplicate order sent.")
            price = self.ledger.prices.get(symbol)
            if price is None:
                return _error(-1000, f"The fake has no price for {symbol}: call set_price().")
            step = Decimal(self._filter(symbol, "LOT_SIZE").get("stepSize", "0"))
            qty = amount if raw_qty is not None else floor_to_step(amount / price, step)
            refused = self._check_filters(symbol, qty, price, step)
            return refused or self._fill(symbol, side, qty, price, client_id, params)

    def _check_filters(
        self, symbol: str, qty: Decimal, price: Decimal, step: Decimal
    ) -> Response | None:
        notional = qty * price
        current, legacy = self._filter(symbol, "NOTIONAL"), self._filter(symbol, "MIN_NOTIONAL")
        if current and (
            (current.get("applyMinToMarket") and notional < Decimal(current["minNotional"]))
            or (current.get("applyMaxToMarket") and notional > Decimal(current["maxNotional"]))
        ):
            return _error(-1013, "Filter failure: NOTIONAL")
        if legacy and legacy.get("applyToMarket") and notional < Decimal(legacy["minNotional"]):
            return _error(-1013, "Filter failure: MIN_NOTIONAL")
        lot = self._filter(symbol, "LOT_SIZE")
        if not is_multiple(qty, step) or not Decimal(lot["minQty"]) <= qty <= Decimal(
            lot["maxQty"]
        ):
            return _error(-1013, "Filter failure: LOT_SIZE")
        market_max = Decimal(self._filter(symbol, "MARKET_LOT_SIZE").get("maxQty", "0"))
        if 0 < market_max < qty:
            return _error(-1013, "Filter failure: MARKET_LOT_SIZE")
        return None

    def _fill(
        self,
        symbol: str,
        side: str,
        qty: Decimal,
        price: Decimal,
        client_id: str,
        params: dict[str, str],
    ) -> Response:
        info = self.symbols[symbol]
        base, quote = info["baseAsset"], info["quoteAsset"]
        cost = (qty * price).quantize(Decimal("1e-8"))
        spend_asset, spend = (quote, cost) if side == "BUY" else (base, qty)
        if self.ledger.free(spend_asset) < spend:
            return _error(-2010)
        fee_asset, fee_on = (base, qty) if side == "BUY" else (quote, cost)
        order = FakeOrder(
            exchange=self.name,
            order_id=str(self.ledger.next_order_id()),
            client_order_id=client_id,
            symbol=symbol,
            side=side.lower(),
            amount=qty,
            cost=cost,
            price=price,
            fee=(fee_on * self.ledger.taker_fee).quantize(Decimal("1e-8")),
            fee_asset=fee_asset,
            created_ms=now_ms(),
            params=dict(params),
        )
        self.ledger.fill(order, base, quote)
        body = {**self._order_body(order), "transactTime": order.created_ms}
        kind = params.get("newOrderRespType", "FULL")
        if kind == "ACK":
            keys = ("symbol", "orderId", "orderListId", "clientOrderId", "transactTime")
            body = {k: body[k] for k in keys}
        elif kind == "FULL":
            fill = {
                "price": _f8(price),
                "qty": _f8(qty),
                "commission": _f8(order.fee),
                "commissionAsset": fee_asset,
            }
            body["fills"] = [{**fill, "tradeId": int(order.order_id)}]
        return Response(200, body)

    def _order_body(self, order: FakeOrder) -> dict[str, Any]:
        return {
            "symbol": order.symbol,
            "orderId": int(order.order_id),
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "price": "0.00000000",
            "origQty": _f8(order.amount),
            "executedQty": _f8(order.amount),
            "cummulativeQuoteQty": _f8(order.cost),
            "origQuoteOrderQty": order.params.get("quoteOrderQty", "0.00000000"),
            "status": "FILLED",
            "timeInForce": "GTC",
            "type": "MARKET",
            "side": order.side.upper(),
            "time": order.created_ms,
            "updateTime": order.created_ms,
            "workingTime": order.created_ms,
            "isWorking": True,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    def _query_order(self, params: dict[str, str]) -> Response:
        symbol, client_id, order_id = (
            params.get("symbol"),
            params.get("origClientOrderId"),
            params.get("orderId"),
        )
        if not symbol:
            return _missing("symbol")
        if client_id is None and order_id is None:
            return _error(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        order = self.ledger.find(symbol, client_id=client_id, order_id=order_id)
        return _error(-2013) if order is None else Response(200, self._order_body(order))

    def _orders_of(self, params: dict[str, str]) -> list[FakeOrder]:
        with self.ledger.lock:
            return [o for o in self.ledger.orders if o.symbol == params["symbol"]]

    def _all_orders(self, params: dict[str, str]) -> Response:
        if not params.get("symbol"):
            return _missing("symbol")
        return Response(200, [self._order_body(o) for o in self._orders_of(params)])

    def _my_trades(self, params: dict[str, str]) -> Response:
        """One trade per filled order: where Binance reports the commission of a past order."""
        if not params.get("symbol"):
            return _missing("symbol")
        wanted = params.get("orderId")
        return Response(
            200,
            [
                {
                    "symbol": o.symbol,
                    "id": int(o.order_id),
                    "orderId": int(o.order_id),
                    "orderListId": -1,
                    "price": _f8(o.price),
                    "qty": _f8(o.amount),
                    "quoteQty": _f8(o.cost),
                    "commission": _f8(o.fee),
                    "commissionAsset": o.fee_asset,
                    "time": o.created_ms,
                    "isBuyer": o.side == "buy",
                    "isMaker": False,
                    "isBestMatch": True,
                }
                for o in self._orders_of(params)
                if wanted is None or o.order_id == wanted
            ],
        )


def _without_signature(text: str) -> str:
    return "&".join(part for part in text.split("&") if part and not part.startswith("signature="))
