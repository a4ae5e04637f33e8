"""Enough of Binance's spot REST API (/api/v3) for ccxt: markets, prices, candles, balances,
MARKET orders by quantity or quote amount, order look-up, trades, signed requests and Binance's
errors (exchange_binance_trade has the account and order endpoints).

Bodies and error codes follow Binance's documentation: errors are HTTP 400 with
`{"code": -1013, "msg": "Filter failure: NOTIONAL"}`, key errors 401, rate limits 429 and 418.
Notional is checked against the current price (Binance uses a 5-minute average).

Timing security (rest-api.md): a SIGNED request is refused with -1021 when it arrives with a
`timestamp` 1000 ms or more ahead of the server, or more than `recvWindow` (default 5000, at most
60000) behind it; and checked again just before the matching engine, so a request held up on the
way is refused then, with nothing placed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .exchange_binance_trade import BinanceTrading, error, f8, missing
from .exchange_core import (
    INTERVAL_MS,
    Fault,
    Request,
    Response,
    Venue,
    VenueSettings,
    load_json,
    load_json_bytes,
    select_candles,
)
from .exchange_limits import DEFAULT_WEIGHT_LIMIT, TOO_MUCH

PRIVATE_PATHS = frozenset(
    f"/api/v3/{name}" for name in ("order", "account", "openOrders", "allOrders", "myTrades")
) | {"/sapi/v1/account/apiRestrictions"}
AHEAD = "Timestamp for this request was 1000ms ahead of the server's time."
MAX_RECV_WINDOW = Decimal(60_000)


class BinanceVenue(BinanceTrading, Venue):
    name = "binance"
    order_endpoints = frozenset({"POST /api/v3/order"})

    def __init__(self, settings: VenueSettings, exchange_info: Path) -> None:
        super().__init__(settings)
        self._info_path = exchange_info
        # GET /sapi/v1/account/apiRestrictions (the key's permissions; not on the testnet)
        self.api_restrictions: dict[str, Any] = {
            "ipRestrict": False,
            "createTime": 1_700_000_000_000,
            "enableReading": True,
            "enableSpotAndMarginTrading": True,
            "enableWithdrawals": False,
            "enableInternalTransfer": False,
            "enableMargin": False,
            "enableFutures": False,
            "permitsUniversalTransfer": False,
            "enableVanillaOptions": False,
        }
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

    def admit(self, request: Request) -> Response | None:
        """At arrival, in Binance's order: key, timestamp and recvWindow, signature."""
        if request.path not in PRIVATE_PATHS:
            return None
        key = request.headers.get("x-mbx-apikey")
        if not key or key != self.settings.api_key:
            return error(-2015 if key else -2014, status=401)
        params = request.form
        timing = _timing(params)
        if isinstance(timing, Response):
            return timing
        timestamp, window = timing
        now = self.now()
        if self.settings.check_timestamps:
            if timestamp >= now + 1000:
                return error(-1021, AHEAD)
            if now - timestamp > window:
                return error(-1021)
        if not params.get("signature"):
            return missing("signature")
        signed = _without_signature(request.raw_query) + _without_signature(request.body)
        expected = hmac.new(self.secret, signed.encode(), hashlib.sha256).hexdigest()
        return None if hmac.compare_digest(expected, params["signature"]) else error(-1022)

    def handle(self, request: Request, fault: Fault | None = None) -> Response:
        params = request.form
        if request.path in PRIVATE_PATHS and self.settings.check_timestamps:
            timing = _timing(params)  # admitted, so well-formed
            if isinstance(timing, tuple) and self.now() - timing[0] > timing[1]:
                return error(-1021)  # too late for the matching engine: nothing is done
        if "symbol" in params and params["symbol"] not in self.symbols:
            return error(-1121)
        routes: dict[str, Callable[[], Response]] = {
            "GET /api/v3/ping": lambda: Response(200, {}),
            "GET /api/v3/time": lambda: Response(200, {"serverTime": self.now()}),
            "GET /api/v3/exchangeInfo": lambda: self._exchange_info(params),
            "GET /api/v3/ticker/price": lambda: self._tickers(params, self._price_ticker),
            "GET /api/v3/ticker/24hr": lambda: self._tickers(params, self._day_ticker),
            "GET /api/v3/klines": lambda: self._klines(params),
            "GET /api/v3/account": self._account,
            "POST /api/v3/order": lambda: self._place(params, fault),
            "GET /api/v3/order": lambda: self._query_order(params),
            "GET /api/v3/openOrders": lambda: self._open_orders(params),
            "GET /api/v3/allOrders": lambda: self._all_orders(params),
            "GET /api/v3/myTrades": lambda: self._my_trades(params),
            "GET /sapi/v1/account/apiRestrictions": lambda: Response(200, self.api_restrictions),
        }
        route = routes.get(request.endpoint)
        return route() if route is not None else Response(404, "Not Found")

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "rate_limited":
            body = {"code": -1003, "msg": TOO_MUCH.format(DEFAULT_WEIGHT_LIMIT)}
            return Response(429, body, {"Retry-After": str(fault.retry_after)})
        if fault.kind == "reject":
            return error(int(fault.code or -1013), fault.message)
        return Response(fault.status or 503, fault.message or "Service Unavailable")

    def backend_timeout(self, fault: Fault) -> Response:
        """-1007 (errors.md). The HTTP status is not documented; a 5XX is where rest-api.md
        puts "execution status UNKNOWN" answers, so 503 (ccxt reads the code either way)."""
        return error(int(fault.code or -1007), status=503)

    # -- market data --------------------------------------------------------------------

    def _exchange_info(self, params: dict[str, str]) -> Response:
        wanted = (
            [params["symbol"]] if "symbol" in params else json.loads(params.get("symbols") or "[]")
        )
        if not wanted and not self.halted:
            return Response(200, load_json_bytes(self._info_path))  # the shared file, verbatim
        if any(symbol not in self.symbols for symbol in wanted):
            return error(-1121)
        listed = [self._listing(s) for s in wanted or self.symbols]
        return Response(200, {**load_json(self._info_path), "symbols": listed})

    def _listing(self, symbol: str) -> dict[str, Any]:
        info = self.symbols[symbol]
        return {**info, "status": "BREAK"} if symbol in self.halted else info

    def _tickers(self, params: dict[str, str], build: Callable[[str], dict[str, Any]]) -> Response:
        symbol = params.get("symbol")
        if symbol is None:
            return Response(200, [build(s) for s in self.ledger.prices if s in self.symbols])
        if symbol not in self.ledger.prices:
            return error(-1000, f"The fake has no price for {symbol}: call set_price().")
        return Response(200, build(symbol))

    def _price_ticker(self, symbol: str) -> dict[str, Any]:
        return {"symbol": symbol, "price": f8(self.ledger.prices[symbol])}

    def _day_ticker(self, symbol: str) -> dict[str, Any]:
        """24 h statistics from the last daily candle, closing at the current price."""
        price, day = self.ledger.prices[symbol], self.candles(symbol, "1d")
        open_, high, low, volume = (
            (Decimal(x) for x in day[-1][1:4] + day[-1][5:]) if day else (price,) * 4
        )
        return {
            "symbol": symbol,
            "priceChange": f8(price - open_),
            "lastPrice": f8(price),
            "priceChangePercent": f"{(price - open_) / open_ * 100:.3f}",
            "openPrice": f8(open_),
            "bidPrice": f8(price),
            "bidQty": "1.00000000",
            "askPrice": f8(price),
            "askQty": "1.00000000",
            "highPrice": f8(max(high, price)),
            "lowPrice": f8(min(low, price)),
            "volume": f8(volume),
            "quoteVolume": f8(volume * price),
            "openTime": self.now() - 86_400_000,
            "closeTime": self.now(),
        }

    def _klines(self, params: dict[str, str]) -> Response:
        symbol, interval = params.get("symbol"), params.get("interval")
        if not symbol or not interval:
            return missing("interval" if symbol else "symbol")
        if interval not in INTERVAL_MS:
            return error(-1120, "Invalid interval.")
        start, end = params.get("startTime"), params.get("endTime")
        rows = select_candles(
            self.candles(symbol, interval),
            start=int(start) if start else None,
            end=int(end) if end else None,
            limit=min(int(params.get("limit", "500")), 1000),
            newest=start is None,
        )
        step = INTERVAL_MS[interval]
        quote_volume = [f8(Decimal(c.volume) * Decimal(c.close)) for c in rows]  # approximated
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


def _timing(params: dict[str, str]) -> tuple[int, Decimal] | Response:
    """The request's timestamp in ms (microseconds accepted) and its recvWindow."""
    timestamp = params.get("timestamp", "")
    if not timestamp.isdigit():
        return missing("timestamp")
    try:
        window = Decimal(params.get("recvWindow") or "5000")
    except InvalidOperation:
        return missing("recvWindow")
    if not window.is_finite() or window <= 0:
        return missing("recvWindow")
    if window > MAX_RECV_WINDOW:
        return error(-1131, "recvWindow must be less than 60000")
    stamp = int(timestamp)
    return (stamp // 1000 if stamp >= 10**15 else stamp), window


def _without_signature(text: str) -> str:
    return "&".join(part for part in text.split("&") if part and not part.startswith("signature="))
