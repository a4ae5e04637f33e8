"""The way every request takes through the fake exchange, in the order the real venue's layers
would meet it, each step on the server clock:

1. arrival: its server time is noted; during an outage it goes no further;
2. Binance's IP limits: refused with 418 while banned or when it ignores a 429, 429 past the
   request-weight limit (exchange_limits);
3. an injected fault that answers instead of the venue (disconnect, 5xx, 429, 418, reject);
4. the venue's checks at arrival (keys, signature, timestamps, OKX expTime);
5. the time it takes to reach the matching engine (`latency`, `Fault.slow` / `lands_late`);
6. processing, at a pinned server time: the venue's checks just before matching (Binance
   recvWindow, OKX expTime), then the endpoint; or a backend timeout whose order may be placed
   later;
7. the answer, possibly held or dropped after the work was done; Binance's answers carry
   X-MBX-USED-WEIGHT-1M.

Each request is recorded with its server time at arrival and, if it got that far, at processing.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .exchange_core import Fault, FaultBook, Request, Response, ServerClock, Venue
from .exchange_limits import BANNED, BinanceLimits, Outage, Outages

WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
ANSWERING_FAULTS = frozenset({"disconnect", "server_error", "rate_limited", "ip_banned", "reject"})


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: str
    status: int  # 0 when the connection was dropped
    fault: str | None  # the injected fault's kind, "down:<mode>", "banned" or "weight_limit"
    arrived_ms: int = 0  # server time when the request arrived
    processed_ms: int | None = None  # server time when it reached processing; None: never
    answer: Any = None  # the body answered (JSON-able, or text), even if the client had gone

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def late_ms(self) -> int | None:
        """How long after arriving it was processed (an order "landing" late)."""
        return None if self.processed_ms is None else self.processed_ms - self.arrived_ms


@dataclass
class _Trace:
    arrived: int
    fault: str | None = None
    processed: int | None = None
    from_api: bool = False  # answered by the venue's API layer (it carries its headers)
    index: int | None = None  # position in the record, once recorded


class Pipeline:
    def __init__(
        self,
        venue: Venue,
        clock: ServerClock,
        limits: BinanceLimits | None,
        release: threading.Event,
        latency: float,
    ) -> None:
        self.venue, self.clock, self.limits = venue, clock, limits
        self.release = release
        self.latency = latency
        self.faults = FaultBook()
        self.outages = Outages()
        self.errors: list[str] = []  # the fake's own failures, answered with HTTP 500
        self.lock = threading.Lock()
        self.records: list[RecordedRequest] = []
        self.order_posts = 0

    def dispatch(self, request: Request) -> Response:
        trace = _Trace(self.clock.now())
        with self.lock:
            if request.endpoint in self.venue.order_endpoints:
                self.order_posts += 1
        try:
            response = self._serve(request, trace)
        except Exception as error:  # a bug in the fake must not pass for an exchange outage
            self.errors.append(f"{request.endpoint}: {error!r}")
            response = Response(500, f"fake exchange bug: {error!r}")
        if self.limits is not None and trace.from_api and not response.drop:
            response.headers[WEIGHT_HEADER] = str(self.limits.used(self.clock.now()))
        self._record(request, response, trace)
        return response

    def _serve(self, request: Request, trace: _Trace) -> Response:
        outage = self.outages.at(trace.arrived)
        if outage is not None:
            trace.fault = f"down:{outage.mode}"
            return self._unavailable(outage)
        if self.limits is not None:
            trace.from_api = True
            refused = self.limits.arrive(request, trace.arrived)
            if refused is not None:
                trace.fault = "banned" if refused.status == 418 else "weight_limit"
                return refused
        fault = self.faults.take(request)
        trace.fault = fault.kind if fault else None
        if fault is not None and fault.kind in ANSWERING_FAULTS:
            return self._answer_fault(request, fault, trace)
        trace.from_api = True
        refused = self.venue.admit(request)
        if refused is not None:
            return refused
        at = self._reach_matching(fault, trace.arrived)
        if fault is not None and fault.kind == "backend_timeout":
            return self._backend_timeout(request, fault, trace, at)
        response = self._process(request, fault, trace, at)
        if fault is not None and fault.kind == "accept_then_timeout":
            response.hold = fault.seconds
        if fault is not None and fault.kind == "accept_then_drop":
            return Response(0, drop=True)
        return response

    def _unavailable(self, outage: Outage) -> Response:
        if outage.mode == "503":
            return self.venue.unavailable()
        if outage.mode == "timeout":  # held until the outage ends (or the fake stops), unanswered
            while not self.release.is_set() and self.outages.at(self.clock.now()) is not None:
                self.release.wait(0.02)
        return Response(0, drop=True)

    def _answer_fault(self, request: Request, fault: Fault, trace: _Trace) -> Response:
        if fault.kind == "disconnect":
            return Response(0, drop=True)
        if fault.kind == "server_error":
            return self.venue.fault_response(fault, request)
        trace.from_api = True
        if fault.kind == "ip_banned" and self.limits is not None:
            seconds = fault.retry_after or 60
            if fault.window:
                return self.limits.ban(trace.arrived, seconds)
            until = trace.arrived + seconds * 1000
            body = {"code": -1003, "msg": BANNED.format(until)}
            return Response(418, body, {"Retry-After": str(seconds)})
        return self.venue.fault_response(fault, request)

    def _reach_matching(self, fault: Fault | None, arrived: int) -> int:
        """Wait (real time) as the fault and `latency` say; the server time of processing: now,
        but at least as late as the fault declares (for simulated clocks that do not move)."""
        hold, late_ms = self.latency, 0
        if fault is not None and fault.kind in ("slow", "lands_late"):
            hold += fault.hold if fault.hold is not None else fault.seconds
            late_ms = int(fault.seconds * 1000)
        if hold > 0:
            self.release.wait(hold)
        return max(self.clock.now(), arrived + late_ms)

    def _process(self, request: Request, fault: Fault | None, trace: _Trace, at: int) -> Response:
        with self.clock.pinned(at):
            response = self.venue.handle(request, fault)
        self._processed(trace, at)
        ordered = request.endpoint == "POST /api/v3/order" and response.status == 200
        if self.limits is not None and ordered:
            self.limits.refund(request, trace.arrived)
        return response

    def _backend_timeout(self, request: Request, fault: Fault, trace: _Trace, at: int) -> Response:
        """The gateway's timeout answer; the order reaches the engine now, later, or never."""
        if fault.placed and fault.seconds <= 0:
            self._process(request, fault, trace, at)
        elif fault.placed:
            threading.Thread(
                target=self._process_later, args=(request, fault, trace, at), daemon=True
            ).start()
        return self.venue.backend_timeout(fault)

    def _process_later(self, request: Request, fault: Fault, trace: _Trace, at: int) -> None:
        if self.release.wait(fault.seconds):
            return  # the fake stopped first: never processed
        try:
            self._process(
                request, fault, trace, max(self.clock.now(), at + int(fault.seconds * 1000))
            )
        except Exception as error:
            self.errors.append(f"{request.endpoint} (processed late): {error!r}")

    def _processed(self, trace: _Trace, at: int) -> None:
        with self.lock:
            trace.processed = at
            if trace.index is not None:  # recorded already: a late landing updates its record
                self.records[trace.index] = replace(self.records[trace.index], processed_ms=at)

    def _record(self, request: Request, response: Response, trace: _Trace) -> None:
        with self.lock:
            trace.index = len(self.records)
            self.records.append(
                RecordedRequest(
                    request.method,
                    request.path,
                    request.query,
                    dict(request.headers),
                    request.body,
                    0 if response.drop else response.status,
                    trace.fault,
                    trace.arrived,
                    trace.processed,
                    None if response.drop else _decoded(response.body),
                )
            )


def _decoded(body: Any) -> Any:
    """The shared exchangeInfo file is served as bytes; keep records light and readable."""
    return "<bytes>" if isinstance(body, bytes) else body
