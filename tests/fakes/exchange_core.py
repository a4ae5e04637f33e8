"""What the fake Binance and OKX share: requests and responses, injected faults, the account
ledger, the shared candle files, decimal helpers and the base of a venue.
"""

from __future__ import annotations

import csv
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

DATA_DIR = Path(
    os.environ.get("DCABOT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
)


def now_ms() -> int:
    return int(time.time() * 1000)


# --- requests, responses, faults -----------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    raw_query: str
    headers: Mapping[str, str]  # keys lower-cased
    body: str

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.raw_query, keep_blank_values=True))

    @property
    def form(self) -> dict[str, str]:
        """Query and form body together, as Binance reads its parameters."""
        return {**self.query, **dict(parse_qsl(self.body, keep_blank_values=True))}

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able, or bytes/str sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    hold: float = 0.0  # seconds to wait before answering (the client may have given up)
    drop: bool = False  # close the connection without an answer

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain"
        return json.dumps(self.body).encode(), "application/json"


@dataclass(frozen=True)
class Fault:
    """Something going wrong on one request; build one with the class methods."""

    kind: str
    status: int = 0
    seconds: float = 0.0
    code: int | str | None = None
    message: str | None = None
    retry_after: int | None = None

    @classmethod
    def accept_then_timeout(cls, hold: float = 10.0) -> Fault:
        """Process the request (the order is placed), then answer only after `hold` seconds."""
        return cls("accept_then_timeout", seconds=hold)

    @classmethod
    def accept_then_drop(cls) -> Fault:
        """Process the request, then close the connection without answering."""
        return cls("accept_then_drop")

    @classmethod
    def disconnect(cls) -> Fault:
        """Close the connection without processing the request."""
        return cls("disconnect")

    @classmethod
    def server_error(cls, status: int = 503, body: str | None = None) -> Fault:
        return cls("server_error", status=status, message=body)

    @classmethod
    def rate_limited(cls, retry_after: int = 1) -> Fault:
        """HTTP 429 with Retry-After and the venue's own error body."""
        return cls("rate_limited", status=429, retry_after=retry_after)

    @classmethod
    def ip_banned(cls, retry_after: int = 60) -> Fault:
        """Binance's HTTP 418: an IP ban after ignoring 429s."""
        return cls("ip_banned", status=418, retry_after=retry_after)

    @classmethod
    def reject(cls, code: int | str, message: str | None = None) -> Fault:
        """The venue's business error, e.g. Binance -1013 or -2010, OKX 51008 or 51020."""
        return cls("reject", code=code, message=message)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait `seconds` before processing; past the client's timeout the order lands late."""
        return cls("slow", seconds=seconds)


@dataclass
class _Pending:
    endpoint: str
    fault: Fault
    remaining: int | None  # None: every request


class FaultBook:
    """Faults waiting for requests to "POST /api/v3/order", or to "/api/v3/order" by any method."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []

    def add(self, endpoint: str, fault: Fault, times: int | None) -> None:
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for every request")
        with self._lock:
            self._pending.append(_Pending(endpoint, fault, times))

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def take(self, request: Request) -> Fault | None:
        """The first fault waiting for this request, used up once."""
        with self._lock:
            for pending in self._pending:
                if pending.endpoint not in (request.endpoint, request.path):
                    continue
                if pending.remaining is not None:
                    pending.remaining -= 1
                    if pending.remaining == 0:
                        self._pending.remove(pending)
                return pending.fault
        return None


# --- the account -------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeOrder:
    """An order the fake accepted and filled; amounts are what the venue would report."""

    exchange: str
    order_id: str
    client_order_id: str
    symbol: str  # the venue's market id: BTCUSDT, BTC-USDT
    side: str  # "buy" or "sell"
    amount: Decimal  # base filled
    cost: Decimal  # quote spent or received, before fees
    price: Decimal
    fee: Decimal
    fee_asset: str
    created_ms: int
    params: Mapping[str, Any]  # the request's parameters as sent


class Ledger:
    """Balances, prices and orders of the one fake account, guarded by one lock."""

    def __init__(self, balances: Mapping[str, Decimal], taker_fee: Decimal) -> None:
        self.lock = threading.RLock()
        self.balances: dict[str, Decimal] = dict(balances)
        self.prices: dict[str, Decimal] = {}
        self.orders: list[FakeOrder] = []
        self.taker_fee = taker_fee
        self._last_id = 100_000

    def next_order_id(self) -> int:
        with self.lock:
            self._last_id += 1
            return self._last_id

    def free(self, asset: str) -> Decimal:
        with self.lock:
            return self.balances.get(asset, Decimal(0))

    def find(
        self, symbol: str | None, *, client_id: str | None, order_id: str | None
    ) -> FakeOrder | None:
        with self.lock:
            for order in self.orders:
                if symbol is not None and order.symbol != symbol:
                    continue
                if client_id is not None and order.client_order_id == client_id:
                    return order
                if order_id is not None and order.order_id == order_id:
                    return order
        return None

    def fill(self, order: FakeOrder, base: str, quote: str) -> None:
        """Book a filled order: the fee is taken from the asset received."""
        with self.lock:
            sign = 1 if order.side == "buy" else -1
            self.balances[base] = self.free(base) + sign * order.amount
            self.balances[quote] = self.free(quote) - sign * order.cost
            self.balances[order.fee_asset] = self.free(order.fee_asset) - order.fee
            self.orders.append(order)


# --- numbers -----------------------------------------------------------------------------


def to_decimal(text: str | None) -> Decimal | None:
    """A plain positive-or-zero decimal as an exchange accepts it, or None."""
    if text is None or not text or text.count(".") > 1 or not text.replace(".", "").isdigit():
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return value
    return ((value / step).to_integral_value(rounding=ROUND_DOWN) * step).quantize(step)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return step <= 0 or value % step == 0


def plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros, as OKX writes numbers."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- shared data ------------------------------------------------------------------------


class Candle(NamedTuple):
    open_ms: int
    open: str
    high: str
    low: str
    close: str
    volume: str


INTERVAL_MS = {"1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}

# candle series per base asset; XAUT has no series of its own here (see exchange_okx)
DEFAULT_CANDLE_FILES: dict[str, dict[str, str]] = {
    "BTC": {
        "1d": "btc_usdt_1d_binance.csv",
        "4h": "btc_usdt_4h_binance.csv",
        "1h": "btc_usdt_1h_binance.csv",
    },
    "ETH": {"1d": "eth_usdt_1d_binance.csv"},
    "PAXG": {"1d": "paxg_usdt_1d_binance.csv", "1h": "paxg_usdt_1h_binance.csv"},
}


@lru_cache(maxsize=16)
def load_candles(path: Path) -> tuple[Candle, ...]:
    with path.open(newline="") as handle:
        return tuple(
            Candle(
                int(
                    datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")).timestamp()
                    * 1000
                ),
                row["open"],
                row["high"],
                row["low"],
                row["close"],
                row["volume"],
            )
            for row in csv.DictReader(handle)
        )


@lru_cache(maxsize=8)
def load_json_bytes(path: Path) -> bytes:
    return path.read_bytes()


@lru_cache(maxsize=8)
def load_json(path: Path) -> Any:
    return json.loads(load_json_bytes(path))


def select_candles(
    candles: tuple[Candle, ...], *, start: int | None, end: int | None, limit: int, newest: bool
) -> list[Candle]:
    """Candles with start <= open time <= end, at most `limit`: the oldest ones, or the newest."""
    chosen = [
        c
        for c in candles
        if (start is None or c.open_ms >= start) and (end is None or c.open_ms <= end)
    ]
    return chosen[-limit:] if newest else chosen[:limit]


# --- the base of a venue ---------------------------------------------------------------


@dataclass(frozen=True)
class VenueSettings:
    ledger: Ledger
    api_key: str
    secret: str
    passphrase: str
    candle_files: Mapping[str, Mapping[str, Path]]  # base asset -> interval -> CSV
    check_timestamps: bool
    reject_duplicates: bool


class Venue:
    """One exchange's dialect over the shared ledger; subclasses route and answer requests."""

    name = ""
    order_endpoints: frozenset[str] = frozenset()

    def __init__(self, settings: VenueSettings) -> None:
        self.settings = settings
        self.ledger = settings.ledger
        self.secret = settings.secret.encode()
        self._series: dict[str, Mapping[str, Path]] = {}

    def market_id(self, symbol: str) -> str:
        raise NotImplementedError

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def fault_response(self, fault: Fault, request: Request) -> Response:
        raise NotImplementedError

    def add_series(self, market: str, base: str, tick: Decimal) -> None:
        """Serve `base`'s candles for `market`, and start its price at the last close."""
        series = self.settings.candle_files.get(base)
        if series is not None and "1d" in series:
            self._series[market] = series
            self.ledger.prices[market] = floor_to_step(
                Decimal(self.candles(market, "1d")[-1].close), tick
            )

    def candles(self, market: str, interval: str) -> tuple[Candle, ...]:
        path = self._series.get(market, {}).get(interval)
        return load_candles(path) if path is not None else ()

    def is_duplicate(self, market: str | None, client_id: str) -> bool:
        found = self.ledger.find(market, client_id=client_id, order_id=None)
        return self.settings.reject_duplicates and found is not None
