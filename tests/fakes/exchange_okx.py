"""Enough of OKX's v5 REST API for ccxt: spot instruments, ticker, candles, balance, market
orders (by base size, or by quote amount with `tgtCcy=quote_ccy`), order look-up by `clOrdId`,
signed requests and OKX's error envelopes.

OKX answers business errors with HTTP 200 and a code: `{"code": "51603", "msg": ..., "data": []}`,
and an order it refuses with `{"code": "1", "data": [{"sCode": "51008", "sMsg": ...}]}`.
Authentication errors are HTTP 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from .exchange_core import (
    DATA_DIR,
    FakeOrder,
    Fault,
    Request,
    Response,
    Venue,
    VenueSettings,
    floor_to_step,
    is_multiple,
    load_json,
    now_ms,
    plain,
    select_candles,
    to_decimal,
)

# HAND-MADE, NOT REAL OKX DATA. No public dump of OKX's XAUT-USDT instrument was found (see
# ../shared/data/SOURCES.md), so it is BTC-USDT's real instrument renamed, with plausible filters
# picked for tests. Its candles and default price are Binance's PAXG/USDT (also gold-backed).
HANDMADE_XAUT_USDT = {"instId": "XAUT-USDT", "baseCcy": "XAUT", "tickSz": "0.1", "lotSz": "0.0001"}
HANDMADE_XAUT_USDT |= {"minSz": "0.001", "maxMktSz": "100", "maxLmtSz": "1000", "lever": ""}
CANDLE_SOURCE = {"XAUT": "PAXG"}  # base currency -> the series standing in for it
BARS = {"1H": "1h", "4H": "4h", "4Hutc": "4h", "1Dutc": "1d"}  # "1D" are Hong Kong days: not served
CLIENT_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
PRIVATE_PREFIXES = ("/api/v5/account/", "/api/v5/trade/", "/api/v5/asset/")
AUTH_HEADERS = {  # header: the code OKX answers when it is missing
    "ok-access-key": "50103",
    "ok-access-passphrase": "50104",
    "ok-access-sign": "50106",
    "ok-access-timestamp": "50107",
}
MESSAGES = {
    "50102": "Timestamp request expired.",
    "50103": "Request header OK-ACCESS-KEY can not be empty.",
    "50104": "Request header OK-ACCESS-PASSPHRASE can not be empty.",
    "50105": "Request header OK-ACCESS-PASSPHRASE incorrect.",
    "50106": "Request header OK-ACCESS-SIGN can not be empty.",
    "50107": "Request header OK-ACCESS-TIMESTAMP can not be empty.",
    "50111": "Invalid OK-ACCESS-KEY.",
    "50112": "Invalid OK-ACCESS-TIMESTAMP.",
    "50113": "Invalid Sign.",
    "51000": "Parameter {} error",
    "51001": "Instrument ID does not exist.",
    "51008": "Order failed. Insufficient {} balance in account.",
    "51016": "Duplicated clOrdId.",
    "51020": "Your order should meet or exceed the minimum order amount.",
    "51121": "Order quantity must be a multiple of the lot size.",
    "51603": "Order does not exist.",
}


def _error(code: str, msg: str | None = None, status: int = 200) -> Response:
    return Response(status, {"code": code, "msg": msg or MESSAGES.get(code, ""), "data": []})


def _ok(data: list[Any]) -> Response:
    return Response(200, {"code": "0", "msg": "", "data": data})


class OkxVenue(Venue):
    name = "okx"
    order_endpoints = frozenset({"POST /api/v5/trade/order", "POST /api/v5/trade/batch-orders"})

    def __init__(self, settings: VenueSettings) -> None:
        super().__init__(settings)
        listed = load_json(DATA_DIR / "okx_instruments.json")["data"]
        xaut = {**next(i for i in listed if i["instId"] == "BTC-USDT"), **HANDMADE_XAUT_USDT}
        self.instruments: dict[str, dict[str, str]] = {i["instId"]: i for i in [*listed, xaut]}
        for inst, info in self.instruments.items():
            base = info["baseCcy"]
            self.add_series(inst, CANDLE_SOURCE.get(base, base), Decimal(info["tickSz"]))

    def market_id(self, symbol: str) -> str:
        return symbol.replace("/", "-")

    def handle(self, request: Request) -> Response:
        if request.path.startswith(PRIVATE_PREFIXES):
            refused = self._authenticate(request)
            if refused is not None:
                return refused
        query = request.query
        inst = query.get("instId")
        if inst is not None and inst not in self.instruments:
            return _error("51001")
        routes: dict[str, Callable[[], Response]] = {
            "GET /api/v5/public/time": lambda: _ok([{"ts": str(now_ms())}]),
            "GET /api/v5/public/instruments": lambda: self._instruments(query),
            "GET /api/v5/market/ticker": lambda: self._ticker(query),
            "GET /api/v5/market/candles": lambda: self._candles(query, 300),
            "GET /api/v5/market/history-candles": lambda: self._candles(query, 100),
            "GET /api/v5/account/balance": lambda: self._balance(query),
            "POST /api/v5/trade/order": lambda: self._place_all(request.body, batch=False),
            "POST /api/v5/trade/batch-orders": lambda: self._place_all(request.body, batch=True),
            "GET /api/v5/trade/order": lambda: self._query_order(query),
            "GET /api/v5/trade/orders-pending": lambda: _ok([]),  # market orders never rest
        }
        route = routes.get(request.endpoint)
        return route() if route is not None else Response(404, "Not Found")

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "rate_limited":
            body = {"msg": "Too Many Requests", "code": "50011", "data": []}
            return Response(429, body, {"Retry-After": str(fault.retry_after)})
        if fault.kind == "reject":
            code = str(fault.code or "51008")
            msg = fault.message or MESSAGES.get(code, "").format("USDT")
            if request.endpoint in self.order_endpoints:
                return self._envelope([_result({}, code, msg)])
            return _error(code, msg)
        return Response(fault.status or 503, fault.message or "Service Unavailable")

    def _authenticate(self, request: Request) -> Response | None:
        """Headers, key, passphrase, timestamp, then the base64 HMAC-SHA256 signature of
        timestamp + method + path with query + body."""
        headers = request.headers
        for header, code in AUTH_HEADERS.items():
            if not headers.get(header):
                return _error(code, status=401)
        if headers["ok-access-key"] != self.settings.api_key:
            return _error("50111", status=401)
        if headers["ok-access-passphrase"] != self.settings.passphrase:
            return _error("50105", status=401)
        stamp = headers["ok-access-timestamp"]
        try:
            sent = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000
        except ValueError:
            return _error("50112", status=401)
        if self.settings.check_timestamps and abs(now_ms() - sent) > 30_000:
            return _error("50102", status=401)
        target = request.path + (f"?{request.raw_query}" if request.raw_query else "")
        prehash = f"{stamp}{request.method}{target}{request.body}".encode()
        digest = hmac.new(self.secret, prehash, hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), headers["ok-access-sign"]):
            return _error("50113", status=401)
        return None

    # -- market data --------------------------------------------------------------------

    def _instruments(self, query: dict[str, str]) -> Response:
        kind = query.get("instType")
        if not kind:
            return _error("50014", "Parameter instType can not be empty.", status=400)
        if kind != "SPOT":
            return _ok([])  # the fake lists spot instruments only
        inst = query.get("instId")
        return _ok([self.instruments[inst]] if inst else list(self.instruments.values()))

    def _ticker(self, query: dict[str, str]) -> Response:
        inst = query.get("instId", "")
        price = self.ledger.prices.get(inst)
        if price is None:
            return _error("50000", f"The fake has no price for {inst!r}: call set_price().")
        day = self.candles(inst, "1d")
        open_, high, low, volume = (day[-1][i] for i in (1, 2, 3, 5)) if day else (str(price),) * 4
        return _ok(
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
                    "ts": str(now_ms()),
                    "sodUtc0": open_,
                    "sodUtc8": open_,
                }
            ]
        )

    def _candles(self, query: dict[str, str], max_limit: int) -> Response:
        """Newest first; `after`: older than, `before`: newer than (both exclusive)."""
        bar = query.get("bar", "1m")
        if bar not in BARS:
            return _error("51000", f"Parameter bar error (the fake serves {', '.join(BARS)})", 400)
        after, before = query.get("after"), query.get("before")
        rows = select_candles(
            self.candles(query.get("instId", ""), BARS[bar]),
            start=int(before) + 1 if before else None,
            end=int(after) - 1 if after else None,
            limit=min(int(query.get("limit", "100")), max_limit),
            newest=True,
        )
        quote = [plain(Decimal(c.volume) * Decimal(c.close)) for c in rows]  # approximated
        return _ok(
            [
                [str(c.open_ms), c.open, c.high, c.low, c.close, c.volume, q, q, "1"]
                for c, q in reversed(list(zip(rows, quote, strict=True)))
            ]
        )

    # -- account and orders ------------------------------------------------------------

    def _balance(self, query: dict[str, str]) -> Response:
        wanted = set(query["ccy"].split(",")) if query.get("ccy") else None
        with self.ledger.lock:
            held = sorted(self.ledger.balances.items())
        details = [
            {
                "ccy": ccy,
                "eq": plain(amount),
                "cashBal": plain(amount),
                "availBal": plain(amount),
                "frozenBal": "0",
                "ordFrozen": "0",
                "uTime": str(now_ms()),
            }
            for ccy, amount in held
            if wanted is None or ccy in wanted
        ]
        return _ok([{"adjEq": "", "details": details, "totalEq": "", "uTime": str(now_ms())}])

    def _place_all(self, body: str, *, batch: bool) -> Response:
        try:
            orders: Any = json.loads(body or "null")
        except json.JSONDecodeError:
            return _error("50002", "Invalid JSON body.", status=400)
        entries = orders if batch else [orders]
        if not isinstance(entries, list) or not all(isinstance(o, dict) for o in entries):
            return _error("50002", "Invalid JSON body.", status=400)
        return self._envelope([self._place(o) for o in entries])

    @staticmethod
    def _envelope(results: list[dict[str, str]]) -> Response:
        failed = sum(r["sCode"] != "0" for r in results)
        code, msg = ("0", "") if not failed else ("2", "Bulk operation partially succeeded")
        if failed == len(results):
            code, msg = "1", "All operations failed"
        return Response(200, {"code": code, "msg": msg, "data": results})

    def _place(self, params: dict[str, Any]) -> dict[str, str]:
        client_id, inst = str(params.get("clOrdId", "")), str(params.get("instId", ""))
        if inst not in self.instruments:
            return _result(params, "51001")
        for name, allowed in (
            ("side", ("buy", "sell")),
            ("ordType", ("market",)),
            ("tdMode", ("cash",)),
        ):
            if params.get(name) not in allowed:  # the fake fills spot market orders only
                return _result(params, "51000", MESSAGES["51000"].format(name))
        if client_id and not CLIENT_ID.match(client_id):
            return _result(params, "51000", MESSAGES["51000"].format("clOrdId"))
        size = to_decimal(str(params.get("sz", "")))
        if size is None or size <= 0:
            return _result(params, "51000", MESSAGES["51000"].format("sz"))
        info, side = self.instruments[inst], str(params["side"])
        # OKX's default for spot market orders: a buy's sz is quote, a sell's is base
        by_quote = params.get("tgtCcy", "quote_ccy" if side == "buy" else "base_ccy") == "quote_ccy"
        with self.ledger.lock:
            if client_id and self.is_duplicate(None, client_id):
                return _result(params, "51016")
            price = self.ledger.prices[inst]
            qty = floor_to_step(size / price, Decimal(info["lotSz"])) if by_quote else size
            if not by_quote and not is_multiple(qty, Decimal(info["lotSz"])):
                return _result(params, "51121")
            if qty < Decimal(info["minSz"]):
                return _result(params, "51020")
            cost = qty * price
            spend_ccy, spend = (info["quoteCcy"], cost) if side == "buy" else (info["baseCcy"], qty)
            if self.ledger.free(spend_ccy) < spend:
                return _result(params, "51008", MESSAGES["51008"].format(spend_ccy))
            fee_ccy, fee_on = (info["baseCcy"], qty) if side == "buy" else (info["quoteCcy"], cost)
            order = FakeOrder(
                exchange=self.name,
                order_id=str(self.ledger.next_order_id()),
                client_order_id=client_id,
                symbol=inst,
                side=side,
                amount=qty,
                cost=cost,
                price=price,
                fee=fee_on * self.ledger.taker_fee,
                fee_asset=fee_ccy,
                created_ms=now_ms(),
                params=dict(params),
            )
            self.ledger.fill(order, info["baseCcy"], info["quoteCcy"])
        return _result(params, "0", "Order placed", order.order_id)

    def _query_order(self, query: dict[str, str]) -> Response:
        inst, client_id, order_id = query.get("instId"), query.get("clOrdId"), query.get("ordId")
        if not inst or (client_id is None and order_id is None):
            return _error("50014", "Parameter instId and ordId or clOrdId can not be empty.", 400)
        order = self.ledger.find(inst, client_id=client_id, order_id=order_id)
        if order is None:
            return _error("51603")
        ts, params = str(order.created_ms), order.params
        return _ok(
            [
                {
                    "instType": "SPOT",
                    "instId": order.symbol,
                    "ordId": order.order_id,
                    "clOrdId": order.client_order_id,
                    "tag": str(params.get("tag", "")),
                    "px": "",
                    "sz": str(params.get("sz", "")),
                    "tgtCcy": str(params.get("tgtCcy", "")),
                    "ordType": "market",
                    "side": order.side,
                    "tdMode": "cash",
                    "state": "filled",
                    "accFillSz": plain(order.amount),
                    "fillSz": plain(order.amount),
                    "fillPx": plain(order.price),
                    "avgPx": plain(order.price),
                    "tradeId": order.order_id,
                    "feeCcy": order.fee_asset,
                    "fee": plain(-order.fee),
                    "category": "normal",
                    "fillTime": ts,
                    "uTime": ts,
                    "cTime": ts,
                    "reduceOnly": "false",
                    "attachAlgoOrds": [],
                }
            ]
        )


def _result(
    params: dict[str, Any], code: str, msg: str | None = None, order_id: str = ""
) -> dict[str, str]:
    """One order's entry in OKX's answer: sCode "0" when placed."""
    return {
        "clOrdId": str(params.get("clOrdId", "")),
        "ordId": order_id,
        "tag": str(params.get("tag", "")),
        "ts": str(now_ms()),
        "sCode": code,
        "sMsg": msg if msg is not None else MESSAGES.get(code, ""),
    }
