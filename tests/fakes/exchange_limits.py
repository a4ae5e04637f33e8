"""Binance's request-weight limit and IP bans, and outages of either venue, on the server clock.

From Binance's rest-api.md "LIMITS": every response carries `X-MBX-USED-WEIGHT-1M`; past the
limit (6,000 per minute in exchangeInfo's rateLimits) requests get HTTP 429 with `Retry-After`;
an IP that keeps sending after a 429 is banned (HTTP 418, `Retry-After` = seconds until the ban
ends), and bans "scale in duration for repeat offenders, from 2 minutes to 3 days". Failed
requests are charged their weight; since 2026-04-02 a *successful* POST /api/v3/order costs 0
(CHANGELOG 2026-03-27).

Not documented, chosen here: the minute is a fixed window of the server clock (Retry-After of a
429 runs to its end), the first request inside a 429's Retry-After starts the ban, and the
escalation steps are BAN_STEPS_S.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .exchange_core import Request, Response

MINUTE_MS = 60_000
DEFAULT_WEIGHT_LIMIT = 6_000  # REQUEST_WEIGHT per MINUTE in exchangeInfo's rateLimits
BAN_STEPS_S = (120, 600, 3_600, 21_600, 86_400, 259_200)  # 2 min ... 3 days
TOO_MUCH = (
    "Too much request weight used; current limit is {} request weight per 1 MINUTE. "
    "Please use WebSocket Streams for live updates to avoid polling the API."
)
BANNED = (
    "Way too much request weight used; IP banned until {}. "
    "Please use WebSocket Streams for live updates to avoid bans."
)


def binance_weight(request: Request) -> int:
    """The documented weight of the endpoints the fake serves (rest-api.md, each "Weight:")."""
    params = request.form
    with_symbol = "symbol" in params
    symbols = len(json.loads(params["symbols"])) if params.get("symbols") else 0
    weights: dict[str, Callable[[], int]] = {
        "GET /api/v3/ping": lambda: 1,
        "GET /api/v3/time": lambda: 1,
        "GET /api/v3/exchangeInfo": lambda: 20,
        "GET /api/v3/klines": lambda: 2,
        "GET /api/v3/ticker/price": lambda: 2 if with_symbol else 4,
        "GET /api/v3/ticker/24hr": lambda: (
            2 if with_symbol or 0 < symbols <= 20 else 40 if 20 < symbols <= 100 else 80
        ),
        "GET /api/v3/account": lambda: 20,
        "POST /api/v3/order": lambda: 1,
        "GET /api/v3/order": lambda: 4,
        "GET /api/v3/openOrders": lambda: 6 if with_symbol else 80,
        "GET /api/v3/allOrders": lambda: 20,
        "GET /api/v3/myTrades": lambda: 5 if "orderId" in params else 20,
    }
    weight = weights.get(request.endpoint)
    return weight() if weight is not None else 1


@dataclass(frozen=True)
class Ban:
    start_ms: int
    end_ms: int
    reason: str  # "ignored 429" or "fault"

    def covers(self, ms: int) -> bool:
        return self.start_ms <= ms < self.end_ms


class BinanceLimits:
    """The weight used per minute by the one client IP, its 429 window and its bans."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._minute = -1
        self._used = 0
        self._limited_until = 0  # end of the last 429's Retry-After
        self.bans: list[Ban] = []
        self.violations = 0

    def used(self, now: int) -> int:
        with self._lock:
            return self._used if now // MINUTE_MS == self._minute else 0

    def arrive(self, request: Request, now: int) -> Response | None:
        """Charge the request, or refuse it: 418 while banned (a violation) or when it ignores a
        429, 429 past the limit. None: let it through."""
        with self._lock:
            ban = self._ban_at(now)
            if ban is not None:
                self.violations += 1
                return self._banned(ban, now)
            if now < self._limited_until:
                return self._banned(self._start_ban(now, None, "ignored 429"), now)
            if now // MINUTE_MS != self._minute:
                self._minute, self._used = now // MINUTE_MS, 0
            self._used += binance_weight(request)
            if self._used <= self.limit:
                return None
            self._limited_until = (self._minute + 1) * MINUTE_MS
            retry = math.ceil((self._limited_until - now) / 1000)
            body = {"code": -1003, "msg": TOO_MUCH.format(self.limit)}
            return Response(429, body, {"Retry-After": str(retry)})

    def refund(self, request: Request, now: int) -> None:
        """A successful order costs no weight (see the module docstring)."""
        with self._lock:
            if now // MINUTE_MS == self._minute:
                self._used = max(0, self._used - binance_weight(request))

    def ban(self, now: int, seconds: float | None, reason: str = "fault") -> Response:
        """Start a ban (`seconds` long, or the next escalation step); the 418 that says so."""
        with self._lock:
            return self._banned(self._start_ban(now, seconds, reason), now)

    def _ban_at(self, now: int) -> Ban | None:
        return next((b for b in self.bans if b.covers(now)), None)

    def _start_ban(self, now: int, seconds: float | None, reason: str) -> Ban:
        if seconds is None:
            seconds = BAN_STEPS_S[min(len(self.bans), len(BAN_STEPS_S) - 1)]
        ban = Ban(now, now + int(seconds * 1000), reason)
        self.bans.append(ban)
        self._limited_until = 0
        return ban

    @staticmethod
    def _banned(ban: Ban, now: int) -> Response:
        retry = max(1, math.ceil((ban.end_ms - now) / 1000))
        body = {"code": -1003, "msg": BANNED.format(ban.end_ms)}
        return Response(418, body, {"Retry-After": str(retry)})


@dataclass(frozen=True)
class Outage:
    start_ms: int
    end_ms: int | None  # None: until `up()`
    mode: str  # "refuse", "503" or "timeout"

    def covers(self, ms: int) -> bool:
        return self.start_ms <= ms and (self.end_ms is None or ms < self.end_ms)


class Outages:
    MODES = ("refuse", "503", "timeout")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.windows: list[Outage] = []

    def add(self, start_ms: int, end_ms: int | None, mode: str) -> Outage:
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}")
        outage = Outage(start_ms, end_ms, mode)
        with self._lock:
            self.windows.append(outage)
        return outage

    def end(self, now: int) -> None:
        """End every outage still running at `now`."""
        with self._lock:
            self.windows = [
                Outage(o.start_ms, now, o.mode) if o.covers(now) else o for o in self.windows
            ]

    def at(self, now: int) -> Outage | None:
        with self._lock:
            return next((o for o in reversed(self.windows) if o.covers(now)), None)
