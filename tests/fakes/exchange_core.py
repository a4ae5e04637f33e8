"""What the fake Binance and OKX share: the server clock, requests and responses, injected
faults, the candle files (tests/data), decimal helpers and the base of a venue.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qsl

# tests/data, or the folder DCABOT_TEST_DATA names; the venues read their files there
from tests.shared_data import DATA_DIR as DATA_DIR

if TYPE_CHECKING:
    from .exchange_ledger import Execution, Ledger



def wall_ms() -> float:
    return time.time() * 1000


class ServerClock:
    """The venue's "now" in epoch milliseconds: a source clock plus a skew.

    While a request is processed its time is pinned (per thread), so an order that a fault held
    back carries the time it reached the matching engine, even under a simulated clock that a test
    does not move.
    """

    def __init__(self, source: Callable[[], float] | None = None) -> None:
        self.source = source or wall_ms
        self.skew_ms = 0
        self._local = threading.local()

    def now(self) -> int:
        pinned: int | None = getattr(self._local, "ms", None)
        return pinned if pinned is not None else int(self.source()) + self.skew_ms

    @contextmanager
    def pinned(self, ms: int) -> Iterator[None]:
        previous = getattr(self._local, "ms", None)
        self._local.ms = ms
        try:
            yield
        finally:
            self._local.ms = previous


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
    hold: float | None = None  # real seconds a late request is held (default: `seconds`)
    fraction: Decimal | None = None  # of a market order that fills
    window: bool = False  # ip_banned: start a ban window rather than answer one 418
    placed: bool = True  # backend_timeout: whether the order reaches the matching engine

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
        """One HTTP 429 with Retry-After and the venue's own error body (it starts no ban)."""
        return cls("rate_limited", status=429, retry_after=retry_after)

    @classmethod
    def ip_banned(cls, retry_after: int = 60, *, window: bool = True) -> Fault:
        """Binance's HTTP 418: the IP is banned for `retry_after` seconds of server time, every
        request in that window gets 418 and counts as a violation (`FakeExchange.bans`).
        `window=False`: one 418 answer and no ban (the fault's behaviour before ban windows)."""
        return cls("ip_banned", status=418, retry_after=retry_after, window=window)

    @classmethod
    def reject(cls, code: int | str, message: str | None = None) -> Fault:
        """The venue's business error, e.g. Binance -1013 or -2010, OKX 51008 or 51020."""
        return cls("reject", code=code, message=message)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait `seconds` before processing; past the client's timeout the order lands late.
        The venue's timing checks apply when it is processed, as for `lands_late`."""
        return cls("slow", seconds=seconds)

    @classmethod
    def lands_late(cls, seconds: float, *, hold: float | None = None) -> Fault:
        """The request reaches the matching engine `seconds` after it arrived (the client may have
        timed out meanwhile). It is then checked as the venue does just before matching (Binance:
        recvWindow, OKX: expTime): placed if still in time, else refused with nothing placed.
        `hold`: real seconds to hold it (default `seconds`); under a simulated clock the venue
        time of processing is at least arrival + `seconds`."""
        return cls("lands_late", seconds=seconds, hold=hold)

    @classmethod
    def backend_timeout(
        cls, seconds: float = 0.0, *, placed: bool = True, code: int | str | None = None
    ) -> Fault:
        """The gateway gives up waiting for the matching engine: Binance -1007 ("Send status
        unknown; execution status unknown."), OKX 50004 (or `code`, e.g. 51149). The order is
        placed at once, `seconds` later, or (`placed=False`) never."""
        return cls("backend_timeout", seconds=seconds, placed=placed, code=code)

    @classmethod
    def partial_fill(cls, fraction: Decimal | str | float) -> Fault:
        """A market order that finds liquidity for only `fraction` of it (0: nothing fills):
        Binance status EXPIRED, OKX state canceled, the account moved by the filled part only."""
        value = Decimal(str(fraction))
        if not 0 <= value <= 1:
            raise ValueError("fraction must be between 0 and 1")
        return cls("partial_fill", fraction=value)


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


# --- market data (tests/data) -----------------------------------------------------------


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
    clock: ServerClock
    api_key: str
    secret: str
    passphrase: str
    candle_files: Mapping[str, Mapping[str, Path]]  # base asset -> interval -> CSV
    check_timestamps: bool
    reject_duplicates: bool


class Venue:
    """One exchange's dialect over the shared ledger.

    `admit` runs the checks a venue makes when a request arrives (keys, signature, timestamps);
    `handle` runs when it is processed, which a fault may delay, and routes it.
    """

    name = ""
    order_endpoints: frozenset[str] = frozenset()

    def __init__(self, settings: VenueSettings) -> None:
        self.settings = settings
        self.ledger = settings.ledger
        self.clock = settings.clock
        self.secret = settings.secret.encode()
        self._series: dict[str, Mapping[str, Path]] = {}
        # markets listed as not trading (maintenance, a halt): Binance status BREAK, OKX suspend
        self.halted: set[str] = set()

    def now(self) -> int:
        return self.clock.now()

    def market_id(self, symbol: str) -> str:
        raise NotImplementedError

    def admit(self, request: Request) -> Response | None:
        raise NotImplementedError

    def handle(self, request: Request, fault: Fault | None = None) -> Response:
        raise NotImplementedError

    def fault_response(self, fault: Fault, request: Request) -> Response:
        raise NotImplementedError

    def backend_timeout(self, fault: Fault) -> Response:
        raise NotImplementedError

    def limit_order(
        self, market: str, side: str, qty: Decimal, price: Decimal, client_id: str | None
    ) -> Execution:
        """A LIMIT (GTC) order as a person places it in the venue's app or web site, for
        `Ledger.rest`: the venue's id, assets, lot step, rounding and request parameters."""
        raise NotImplementedError

    def unavailable(self) -> Response:
        """What the venue's front answers during an outage in "503" mode."""
        return Response(503, "Service Unavailable")

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
