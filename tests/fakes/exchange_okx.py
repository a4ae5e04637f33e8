"""Enough of OKX's v5 REST API for ccxt: spot instruments, ticker, candles, server time, balance,
market orders (by base size, or by quote amount with `tgtCcy=quote_ccy`), order look-up, fills,
signed requests and OKX's error envelopes (exchange_okx_trade has the account and trade half).

OKX answers business errors with HTTP 200 and a code: `{"code": "51603", "msg": ..., "data": []}`,
and an order it refuses with `{"code": "1", "data": [{"sCode": "51008", "sMsg": ...}]}`.
Authentication errors are HTTP 401; a request whose OK-ACCESS-TIMESTAMP is more than 30 s from the
server's time is refused with 50102.

`expTime` (request header, epoch ms) on order placement: OKX does not process such a request once
the server's time is past it ("Transaction timeouts"). The codes are the documented 50036 ("The
expTime can't be earlier than the current system time") when it has already passed on arrival,
and 50037 ("Order expired.") when it passes before the order reaches matching, e.g. a request held
up by `Fault.lands_late`. Which of the two OKX answers in which case is NOT documented; this split
is the fake's choice. ccxt 4.5 maps neither code, so both raise a plain ExchangeError.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from .exchange_core import (
    DATA_DIR,
    Fault,
    Request,
    Response,
    Venue,
    VenueSettings,
    load_json,
    plain,
    select_candles,
)
from .exchange_okx_trade import MESSAGES, STATUS, OkxTrading, error, ok

# HAND-MADE, NOT REAL OKX DATA. No public dump of OKX's XAUT-USDT instrument was found (see
# ../shared/data/SOURCES.md), so it is BTC-USDT's real instrument renamed, with plausible filters
# picked for tests. Its candles and default price are Binance's PAXG/USDT (also gold-backed).
# maxMktSz is in USDT for spot market orders (OKX's instrument docs), as BTC-USDT's 1000000.
HANDMADE_XAUT_USDT = {"instId": "XAUT-USDT", "baseCcy": "XAUT", "tickSz": "0.1", "lotSz": "0.0001"}
HANDMADE_XAUT_USDT |= {"minSz": "0.001", "maxMktSz": "1000000", "maxLmtSz": "1000", "lever": ""}
CANDLE_SOURCE = {"XAUT": "PAXG"}  # base currency -> the series standing in for it
BARS = {"1H": "1h", "4H": "4h", "4Hutc": "4h", "1Dutc": "1d"}  # "1D" are Hong Kong days: not served
PRIVATE_PREFIXES = ("/api/v5/account/", "/api/v5/trade/", "/api/v5/asset/")
AUTH_HEADERS = {  # header: the code OKX answers when it is missing
    "ok-access-key": "50103",
    "ok-access-passphrase": "50104",
    "ok-access-sign": "50106",
    "ok-access-timestamp": "50107",
}
TIMESTAMP_WINDOW_MS = 30_000


class OkxVenue(OkxTrading, Venue):
    name = "okx"
    order_endpoints = frozenset({"POST /api/v5/trade/order", "POST /api/v5/trade/batch-orders"})

    def __init__(self, settings: VenueSettings) -> None:
        super().__init__(settings)
        self.key_permissions = "read_only,trade"  # GET /api/v5/account/config's `perm`
        listed = load_json(DATA_DIR / "okx_instruments.json")["data"]
        xaut = {**next(i for i in listed if i["instId"] == "BTC-USDT"), **HANDMADE_XAUT_USDT}
        self.instruments: dict[str, dict[str, str]] = {i["instId"]: i for i in [*listed, xaut]}
        for inst, info in self.instruments.items():
            base = info["baseCcy"]
            self.add_series(inst, CANDLE_SOURCE.get(base, base), Decimal(info["tickSz"]))

    def market_id(self, symbol: str) -> str:
        return symbol.replace("/", "-")

    def admit(self, request: Request) -> Response | None:
        """At arrival: the signature headers and timestamp, then an order's expTime."""
        if request.path.startswith(PRIVATE_PREFIXES):
            refused = self._authenticate(request)
            if refused is not None:
                return refused
        return self._expired(request, "50036")

    def handle(self, request: Request, fault: Fault | None = None) -> Response:
        expired = self._expired(request, "50037")
        if expired is not None:
            return expired
        query = request.query
        inst = query.get("instId")
        if inst is not None and inst not in self.instruments:
            return error("51001")
        routes: dict[str, Callable[[], Response]] = {
            "GET /api/v5/public/time": lambda: ok([{"ts": str(self.now())}]),
            "GET /api/v5/public/instruments": lambda: self._instruments(query),
            "GET /api/v5/market/ticker": lambda: self._ticker(query),
            "GET /api/v5/market/candles": lambda: self._candles(query, 300),
            "GET /api/v5/market/history-candles": lambda: self._candles(query, 100),
            "GET /api/v5/account/balance": lambda: self._balance(query),
            "GET /api/v5/account/config": lambda: ok(
                [{"uid": "44705892343619584", "acctLv": "1", "posMode": "net_mode",
                  "label": "dcabot", "ip": "", "perm": self.key_permissions}]
            ),
            "POST /api/v5/trade/order": lambda: self._place_all(request.body, fault, batch=False),
            "POST /api/v5/trade/batch-orders": lambda: self._place_all(
                request.body, fault, batch=True
            ),
            "GET /api/v5/trade/order": lambda: self._query_order(query),
            "GET /api/v5/trade/orders-pending": lambda: self._pending(query),
            "GET /api/v5/trade/fills": lambda: self._fills(request.path, query),
            "GET /api/v5/trade/fills-history": lambda: self._fills(request.path, query),
        }
        route = routes.get(request.endpoint)
        return route() if route is not None else Response(404, "Not Found")

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "rate_limited":  # OKX documents 50011 with HTTP 429 "Too Many Requests"
            body = {"msg": "Too Many Requests", "code": "50011", "data": []}
            return Response(429, body, {"Retry-After": str(fault.retry_after)})
        if fault.kind == "reject":
            code = str(fault.code or "51008")
            msg = fault.message or MESSAGES.get(code, "").format("USDT")
            if request.endpoint in self.order_endpoints:
                return self.envelope([self.result({}, code, msg)])
            return error(code, msg)
        return Response(fault.status or 503, fault.message or "Service Unavailable")

    def backend_timeout(self, fault: Fault) -> Response:
        """50004, "does not mean that the request was successful or failed" (HTTP 400 in OKX's
        table), or e.g. 51149 "Order timed out" (HTTP 500) with `code`."""
        code = str(fault.code or "50004")
        return error(code, status=STATUS.get(code, 400))

    def unavailable(self) -> Response:
        return error("50001", status=503)  # documented as HTTP 503

    def _expired(self, request: Request, code: str) -> Response | None:
        stamp = request.headers.get("exptime", "")
        if request.endpoint in self.order_endpoints and stamp.isdigit() and self.now() > int(stamp):
            return error(code)
        return None

    def _authenticate(self, request: Request) -> Response | None:
        """Headers, key, passphrase, timestamp, then the base64 HMAC-SHA256 signature of
        timestamp + method + path with query + body."""
        headers = request.headers
        for header, code in AUTH_HEADERS.items():
            if not headers.get(header):
                return error(code, status=401)
        if headers["ok-access-key"] != self.settings.api_key:
            return error("50111", status=401)
        if headers["ok-access-passphrase"] != self.settings.passphrase:
            return error("50105", status=401)
        stamp = headers["ok-access-timestamp"]
        try:
            sent = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000
        except ValueError:
            return error("50112", status=401)
        if self.settings.check_timestamps and abs(self.now() - sent) > TIMESTAMP_WINDOW_MS:
            return error("50102", status=401)
        target = request.path + (f"?{request.raw_query}" if request.raw_query else "")
        prehash = f"{stamp}{request.method}{target}{request.body}".encode()
        digest = hmac.new(self.secret, prehash, hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), headers["ok-access-sign"]):
            return error("50113", status=401)
        return None

    # -- market data --------------------------------------------------------------------

    def _instruments(self, query: dict[str, str]) -> Response:
        kind = query.get("instType")
        if not kind:
            return error("50014", "Parameter instType can not be empty.", status=400)
        if kind != "SPOT":
            return ok([])  # the fake lists spot instruments only
        inst = query.get("instId")
        listed = [self.instruments[inst]] if inst else list(self.instruments.values())
        return ok([{**i, "state": "suspend"} if i["instId"] in self.halted else i for i in listed])

    def _ticker(self, query: dict[str, str]) -> Response:
        inst = query.get("instId", "")
        price = self.ledger.prices.get(inst)
        if price is None:
            return error("50000", f"The fake has no price for {inst!r}: call set_price().")
        day = self.candles(inst, "1d")
        open_, high, low, volume = (day[-1][i] for i in (1, 2, 3, 5)) if day else (str(price),) * 4
        return ok(
            [
                {
                    "instType": "SPOT",
                    "instId": inst,
                    "last": plain(price),
                    "lastSz": "0.001",
                    "askPx": plain(price),
                    "askSz": "1",
                    "bidPx": plain(price),
                    "bidSz": "1",
                    "open24h": open_,
                    "high24h": plain(max(Decimal(high), price)),
                    "low24h": plain(min(Decimal(low), price)),
                    "vol24h": volume,
                    "volCcy24h": plain(Decimal(volume) * price),
                    "ts": str(self.now()),
                    "sodUtc0": open_,
                    "sodUtc8": open_,
                }
            ]
        )

    def _candles(self, query: dict[str, str], max_limit: int) -> Response:
        """Newest first; `after`: older than, `before`: newer than (both exclusive)."""
        bar = query.get("bar", "1m")
        if bar not in BARS:
            return error("51000", f"Parameter bar error (the fake serves {', '.join(BARS)})", 400)
        after, before = query.get("after"), query.get("before")
        rows = select_candles(
            self.candles(query.get("instId", ""), BARS[bar]),
            start=int(before) + 1 if before else None,
            end=int(after) - 1 if after else None,
            limit=min(int(query.get("limit", "100")), max_limit),
            newest=True,
        )
        quote = [plain(Decimal(c.volume) * Decimal(c.close)) for c in rows]  # approximated
        return ok(
            [
                [str(c.open_ms), c.open, c.high, c.low, c.close, c.volume, q, q, "1"]
                for c, q in reversed(list(zip(rows, quote, strict=True)))
            ]
        )
