"""OKX's account and trade endpoints for the fake (see exchange_okx): balance, spot market orders,
order look-up by `ordId` / `clOrdId`, and transaction details (fills) of the last 3 days
(`/trade/fills`) and the last year (`/trade/fills-history`), newest first, paged by `billId`.

A market order the book could not fill ends `canceled` with `accFillSz` short of its size (OKX's
order states: live, partially_filled, filled, canceled; partially_filled is only ever transient
for a market order). An archived order's look-up answers 51603 while its fills stay listed.

A limit order placed by hand (FakeExchange.rest_by_hand) rests `live` or `partially_filled`, with
`accFillSz` what executed so far and `fillSz` / `fillPx` / `fillTime` its last trade, until it is
`filled`; /trade/orders-pending lists it meanwhile, and what it may still spend is `frozenBal`.
Each of its trades is a fill with its own `tradeId`, `billId` and `ts` (the resting one "M").
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .exchange_core import Fault, Response, floor_to_step, is_multiple, plain, to_decimal
from .exchange_ledger import Execution, FakeOrder, FakeTrade

CLIENT_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
DAY_MS = 86_400_000
FILLS_KEPT_MS = {"/api/v5/trade/fills": 3 * DAY_MS, "/api/v5/trade/fills-history": 365 * DAY_MS}
MESSAGES = {
    "50001": "Service temporarily unavailable. Please try again later.",
    "50004": "API endpoint request timeout. (does not mean that the request was successful or "
    "failed, please check the request result).",
    "50036": "The expTime can't be earlier than the current system time. Please adjust the expTime "
    "and try again.",
    "50037": "Order expired.",
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
    "51149": "Order timed out. Please try again.",
    "51603": "Order does not exist.",
}
# the fake's order status -> OKX's `state` ("expired": a market order the book ran dry on)
STATES = {"new": "live", "partially_filled": "partially_filled", "filled": "filled"}
# OKX documents these HTTP statuses next to the codes (the error code table)
STATUS = {"50004": 400, "51149": 500}


def error(code: str, msg: str | None = None, status: int = 200) -> Response:
    return Response(status, {"code": code, "msg": msg or MESSAGES.get(code, ""), "data": []})


def ok(data: list[Any]) -> Response:
    return Response(200, {"code": "0", "msg": "", "data": data})


class OkxTrading:
    """The account half of OkxVenue."""

    name = "okx"
    ledger: Any
    instruments: dict[str, dict[str, str]]

    if TYPE_CHECKING:  # provided by Venue and the venue class

        def now(self) -> int: ...

        def is_duplicate(self, market: str | None, client_id: str) -> bool: ...

    def _balance(self, query: dict[str, str]) -> Response:
        wanted = set(query["ccy"].split(",")) if query.get("ccy") else None
        with self.ledger.lock:
            free, locked = dict(self.ledger.balances), dict(self.ledger.locked)
        now, zero = str(self.now()), Decimal(0)
        details = [
            {
                "ccy": ccy,
                "eq": plain(free.get(ccy, zero) + locked.get(ccy, zero)),
                "cashBal": plain(free.get(ccy, zero) + locked.get(ccy, zero)),
                "availBal": plain(free.get(ccy, zero)),
                "frozenBal": plain(locked[ccy]) if locked.get(ccy) else "0",
                "ordFrozen": plain(locked[ccy]) if locked.get(ccy) else "0",
                "uTime": now,
            }
            for ccy in sorted(free.keys() | locked.keys())
            if wanted is None or ccy in wanted
        ]
        return ok([{"adjEq": "", "details": details, "totalEq": "", "uTime": now}])

    def _place_all(self, body: str, fault: Fault | None, *, batch: bool) -> Response:
        try:
            orders: Any = json.loads(body or "null")
        except json.JSONDecodeError:
            return error("50002", "Invalid JSON body.", status=400)
        entries = orders if batch else [orders]
        if not isinstance(entries, list) or not all(isinstance(o, dict) for o in entries):
            return error("50002", "Invalid JSON body.", status=400)
        return self.envelope([self._place(o, fault) for o in entries])

    @staticmethod
    def envelope(results: list[dict[str, str]]) -> Response:
        failed = sum(r["sCode"] != "0" for r in results)
        code, msg = ("0", "") if not failed else ("2", "Bulk operation partially succeeded")
        if failed == len(results):
            code, msg = "1", "All operations failed"
        return Response(200, {"code": code, "msg": msg, "data": results})

    def _place(self, params: dict[str, Any], fault: Fault | None) -> dict[str, str]:
        client_id, inst = str(params.get("clOrdId", "")), str(params.get("instId", ""))
        if inst not in self.instruments:
            return self.result(params, "51001")
        for name, allowed in (
            ("side", ("buy", "sell")),
            ("ordType", ("market",)),
            ("tdMode", ("cash",)),
        ):
            if params.get(name) not in allowed:  # the fake fills spot market orders only
                return self.result(params, "51000", MESSAGES["51000"].format(name))
        if client_id and not CLIENT_ID.match(client_id):
            return self.result(params, "51000", MESSAGES["51000"].format("clOrdId"))
        size = to_decimal(str(params.get("sz", "")))
        if size is None or size <= 0:
            return self.result(params, "51000", MESSAGES["51000"].format("sz"))
        info, side = self.instruments[inst], str(params["side"])
        lot = Decimal(info["lotSz"])
        # OKX's default for spot market orders: a buy's sz is quote, a sell's is base
        by_quote = params.get("tgtCcy", "quote_ccy" if side == "buy" else "base_ccy") == "quote_ccy"
        with self.ledger.lock:
            if client_id and self.is_duplicate(None, client_id):
                return self.result(params, "51016")
            price = self.ledger.prices[inst]
            qty = floor_to_step(size / price, lot) if by_quote else size
            if not by_quote and not is_multiple(qty, lot):
                return self.result(params, "51121")
            if qty < Decimal(info["minSz"]):
                return self.result(params, "51020")
            base, quote = info["baseCcy"], info["quoteCcy"]
            spend_ccy, spend = (quote, qty * price) if side == "buy" else (base, qty)
            if self.ledger.free(spend_ccy) < spend:
                return self.result(params, "51008", MESSAGES["51008"].format(spend_ccy))
            fraction = fault.fraction if fault and fault.fraction is not None else Decimal(1)
            order = self.ledger.execute(
                Execution(
                    self.name,
                    str(self.ledger.next_order_id()),
                    client_id,
                    inst,
                    base,
                    quote,
                    side,
                    qty,
                    price,
                    lot,
                    fraction,
                    None,
                    self.now(),
                    params,
                )
            )
        return self.result(params, "0", "Order placed", order.order_id)

    def limit_order(
        self, market: str, side: str, qty: Decimal, price: Decimal, client_id: str | None
    ) -> Execution:
        """OKX's app sends no clOrdId: the order's is "" unless one is given."""
        info = self.instruments[market]
        lot, tick = Decimal(info["lotSz"]), Decimal(info["tickSz"])
        if not is_multiple(qty, lot) or not is_multiple(price, tick) or price <= 0:
            raise ValueError(f"{market}: size in lots of {lot}, price in ticks of {tick}")
        params = {"instId": market, "tdMode": "cash", "side": side, "ordType": "limit",
                  "sz": plain(qty), "px": plain(price), "clOrdId": client_id or ""}
        return Execution(
            self.name,
            str(self.ledger.next_order_id()),
            client_id or "",
            market,
            info["baseCcy"],
            info["quoteCcy"],
            side,
            qty,
            price,
            lot,
            Decimal(1),
            None,
            self.now(),
            params,
        )

    def _pending(self, query: dict[str, str]) -> Response:
        """Resting orders, newest first (market orders never rest)."""
        inst = query.get("instId")
        with self.ledger.lock:
            found = [o for o in self.ledger.orders if inst in (None, o.symbol) and o.resting]
        return ok([_order_body(o) for o in reversed(found)])

    def result(
        self, params: dict[str, Any], code: str, msg: str | None = None, order_id: str = ""
    ) -> dict[str, str]:
        """One order's entry in OKX's answer: sCode "0" when placed."""
        return {
            "clOrdId": str(params.get("clOrdId", "")),
            "ordId": order_id,
            "tag": str(params.get("tag", "")),
            "ts": str(self.now()),
            "sCode": code,
            "sMsg": msg if msg is not None else MESSAGES.get(code, ""),
        }

    def _query_order(self, query: dict[str, str]) -> Response:
        """By ordId if given (OKX: "if both are passed, ordId will be used"), else the latest
        order with the clOrdId."""
        inst, client_id, order_id = query.get("instId"), query.get("clOrdId"), query.get("ordId")
        if not inst or (client_id is None and order_id is None):
            return error("50014", "Parameter instId and ordId or clOrdId can not be empty.", 400)
        if order_id is not None:
            client_id = None
        order = self.ledger.find(inst, client_id=client_id, order_id=order_id)
        if order is None or order.order_id in self.ledger.archived:
            return error("51603")
        return ok([_order_body(order)])

    def _fills(self, path: str, query: dict[str, str]) -> Response:
        kind = query.get("instType")
        if path.endswith("fills-history") and not kind:
            return error("50014", "Parameter instType can not be empty.", status=400)
        now, inst, order_id = self.now(), query.get("instId"), query.get("ordId")
        begin, end = _int(query.get("begin")), _int(query.get("end"))
        after, before = _int(query.get("after")), _int(query.get("before"))
        limit = min(_int(query.get("limit")) or 100, 100)
        with self.ledger.lock:
            orders = list(self.ledger.orders)
        rows = [
            (order, trade)
            for order in orders
            for trade in order.trades
            if kind in (None, "SPOT")
            and (inst is None or order.symbol == inst)
            and (order_id is None or order.order_id == order_id)
            and trade.time_ms >= now - FILLS_KEPT_MS[path]
            and (begin is None or trade.time_ms >= begin)
            and (end is None or trade.time_ms <= end)
            and (after is None or _bill_id(trade) < after)
            and (before is None or _bill_id(trade) > before)
        ]
        rows.sort(key=lambda row: -_bill_id(row[1]))  # newest first
        if before is not None:  # the records just newer than `before`
            rows = rows[-limit:]
        return ok([_fill(o, t, self.ledger.taker_fee) for o, t in rows[:limit]])


def _order_body(order: FakeOrder) -> dict[str, Any]:
    """OKX's order details. The order-level `fee`/`feeCcy` hold one currency: with commissions in
    two currencies (not something OKX documents for spot) the fake reports the first trade's
    currency and its total; the fills carry each trade's own."""
    ts, params = str(order.created_ms), order.params
    limit = order.order_type == "limit"
    last = order.trades[-1] if order.trades else None
    fee_ccy = order.trades[0].commission_asset if order.trades else order.fee_asset
    return {
        "instType": "SPOT",
        "instId": order.symbol,
        "ordId": order.order_id,
        "clOrdId": order.client_order_id,
        "tag": str(params.get("tag", "")),
        "px": plain(order.price) if limit else "",
        "sz": str(params.get("sz", "")),
        "tgtCcy": str(params.get("tgtCcy", "")),
        "ordType": order.order_type,
        "side": order.side,
        "posSide": "net",
        "tdMode": "cash",
        "state": STATES.get(order.status, "canceled"),
        "accFillSz": plain(order.amount),
        "fillSz": plain(last.qty) if last else "0",
        "fillPx": plain(last.price) if last else "",
        "avgPx": plain(order.price) if order.amount else "",
        "tradeId": str(last.trade_id) if last else "",
        "feeCcy": fee_ccy,
        "fee": charged(order.fees.get(fee_ccy, Decimal(0))),
        "rebateCcy": order.symbol.split("-")[1],
        "rebate": "0",
        "pnl": "0",
        "category": "normal",
        "cancelSource": "",  # OKX's code for "the book ran dry" is not documented here
        "cancelSourceReason": "",
        "fillTime": str(last.time_ms) if last else "",
        "uTime": str(order.updated_ms),
        "cTime": ts,
        "reduceOnly": "false",
        "attachAlgoOrds": [],
    }


def _fill(order: FakeOrder, trade: FakeTrade, rate: Decimal) -> dict[str, str]:
    """One row of /trade/fills and /trade/fills-history (fees are negative, as OKX writes them)."""
    return {
        "instType": "SPOT",
        "instId": order.symbol,
        "tradeId": str(trade.trade_id),
        "ordId": order.order_id,
        "clOrdId": order.client_order_id,
        "billId": str(_bill_id(trade)),
        "subType": "1" if order.side == "buy" else "2",
        "tag": str(order.params.get("tag", "")),
        "fillPx": plain(trade.price),
        "fillSz": plain(trade.qty),
        "fillIdxPx": "",
        "fillPnl": "0",
        "fillPxVol": "",
        "fillPxUsd": "",
        "fillMarkVol": "",
        "fillFwdPx": "",
        "fillMarkPx": "",
        "side": order.side,
        "posSide": "net",
        "execType": "M" if trade.maker else "T",
        "feeCcy": trade.commission_asset,
        "fee": charged(trade.commission),
        "feeRate": charged(rate),
        "ts": str(trade.time_ms),
        "fillTime": str(trade.time_ms),
    }


def charged(amount: Decimal) -> str:
    """A fee as OKX writes it: negative (a charge), and "0" rather than "-0"."""
    return plain(-amount) if amount else "0"


def _bill_id(trade: FakeTrade) -> int:
    return 9_000_000 + trade.trade_id


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None
