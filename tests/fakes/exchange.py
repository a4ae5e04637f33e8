"""A fake Binance or OKX on a local port, for driving the real ccxt against it.

    with FakeExchange("binance", balances={"USDT": 1000}) as fake:
        exchange = ccxt.async_support.binance({"apiKey": fake.api_key, "secret": fake.secret,
                                               **ccxt_options_for("binance")})
        point_at(exchange, fake.url)
        fake.inject(fake.order_endpoint, Fault.accept_then_timeout(hold=5))

Markets come from ../shared/data (Binance's exchangeInfo, OKX's instruments plus a hand-made
XAUT-USDT), candles and default prices from the shared candle files. Market orders fill at once at
the current price; the taker fee is taken from the asset received. Faults are injected per
endpoint, once, N times or always, and every request is recorded for assertions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from .exchange_binance import BinanceVenue
from .exchange_core import (
    DATA_DIR,
    DEFAULT_CANDLE_FILES,
    FakeOrder,
    Fault,
    FaultBook,
    Ledger,
    Request,
    Response,
    Venue,
    VenueSettings,
)
from .exchange_okx import OkxVenue

__all__ = [
    "DATA_DIR",
    "FakeExchange",
    "FakeOrder",
    "Fault",
    "RecordedRequest",
    "shared_data_missing",
]

EXCHANGE_INFO_FILES = {
    "subset": "binance_exchange_info_subset.json",
    "full": "binance_exchange_info.json",
    "legacy": "binance_exchange_info_legacy_2023-04-14_subset.json",
}
REQUIRED_FILES = (
    "binance_exchange_info_subset.json",
    "okx_instruments.json",
    "btc_usdt_1d_binance.csv",
    "eth_usdt_1d_binance.csv",
    "paxg_usdt_1d_binance.csv",
)


def shared_data_missing() -> str | None:
    """Why the fake cannot run here (the reason a test should skip with), or None."""
    missing = [name for name in REQUIRED_FILES if not (DATA_DIR / name).is_file()]
    return f"shared market data missing in {DATA_DIR}: {', '.join(missing)}" if missing else None


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: str
    status: int  # 0 when the connection was dropped
    fault: str | None  # the kind of the injected fault, if one fired

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"


class FakeExchange:
    """One fake venue ("binance" or "okx") with one account; start it, or use it as a context."""

    def __init__(
        self,
        exchange_id: str = "binance",
        *,
        api_key: str = "fake-api-key",
        secret: str = "fake-secret",
        passphrase: str = "fake-passphrase",
        balances: Mapping[str, Decimal | int | str] | None = None,
        taker_fee: Decimal | str = "0.001",
        markets: str | Path = "subset",
        candles: Mapping[str, Mapping[str, Path]] | None = None,
        check_timestamps: bool = True,
        reject_duplicate_client_ids: bool = True,
        latency: float = 0.0,
    ) -> None:
        """`markets` (Binance): "subset" (BTC, ETH, PAXG), "full" (1,248 symbols), "legacy"
        (2023 MIN_NOTIONAL filters) or a path to an exchangeInfo file. `candles`: base asset ->
        interval ("1h", "4h", "1d") -> CSV, replacing the shared files for that asset.

        Real Binance and OKX may only refuse a client order id that an *open* order holds; the
        fake refuses any reuse unless `reject_duplicate_client_ids` is False. `latency` seconds
        pass before every request is processed, as across a real network and matching engine.
        """
        if isinstance(markets, str) and markets not in EXCHANGE_INFO_FILES:
            raise ValueError(f"markets must be one of {sorted(EXCHANGE_INFO_FILES)} or a Path")
        self.exchange_id = exchange_id
        self.api_key, self.secret, self.passphrase = api_key, secret, passphrase
        start = {"USDT": Decimal(10_000)} if balances is None else balances
        amounts = {asset: Decimal(str(amount)) for asset, amount in start.items()}
        self.ledger = Ledger(amounts, Decimal(str(taker_fee)))
        files: dict[str, Mapping[str, Path]] = {
            base: {interval: DATA_DIR / name for interval, name in intervals.items()}
            for base, intervals in DEFAULT_CANDLE_FILES.items()
        }
        files.update(candles or {})
        settings = VenueSettings(
            self.ledger,
            api_key,
            secret,
            passphrase,
            files,
            check_timestamps,
            reject_duplicate_client_ids,
        )
        self.venue: Venue
        if exchange_id == "binance":
            info = DATA_DIR / EXCHANGE_INFO_FILES[markets] if isinstance(markets, str) else markets
            self.venue = BinanceVenue(settings, info)
        elif exchange_id == "okx":
            self.venue = OkxVenue(settings)
        else:
            raise ValueError(f"the fake speaks binance or okx, not {exchange_id!r}")
        self.latency = latency
        self._faults = FaultBook()
        self._log_lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._order_posts = 0
        self.errors: list[str] = []  # the fake's own failures, answered with HTTP 500
        self._release = threading.Event()
        self._server: ServerThread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake exchange is not started")
        return self._server.url

    def start(self) -> FakeExchange:
        if self._server is None:
            self._release = threading.Event()
            self._server = ServerThread(self._dispatch, self._release)
            self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeExchange:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FakeExchange:
        return self.start()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- market and account state ------------------------------------------------------------

    def market_id(self, symbol: str) -> str:
        """The venue's id for "BTC/USDT" (BTCUSDT, BTC-USDT); venue ids pass through."""
        return self.venue.market_id(symbol)

    def set_price(self, symbol: str, price: Decimal | int | str) -> None:
        with self.ledger.lock:
            self.ledger.prices[self.market_id(symbol)] = Decimal(str(price))

    def price(self, symbol: str) -> Decimal:
        return self.ledger.prices[self.market_id(symbol)]

    def set_balance(self, asset: str, amount: Decimal | int | str) -> None:
        with self.ledger.lock:
            self.ledger.balances[asset] = Decimal(str(amount))

    @property
    def balances(self) -> dict[str, Decimal]:
        with self.ledger.lock:
            return dict(self.ledger.balances)

    # -- faults ---------------------------------------------------------------------------

    @property
    def order_endpoint(self) -> str:
        """Where ccxt places one order: 'POST /api/v3/order' or 'POST /api/v5/trade/order'."""
        return "POST /api/v3/order" if self.exchange_id == "binance" else "POST /api/v5/trade/order"

    @property
    def order_query_endpoint(self) -> str:
        return "GET /api/v3/order" if self.exchange_id == "binance" else "GET /api/v5/trade/order"

    def inject(self, endpoint: str, fault: Fault, *, times: int | None = 1) -> None:
        """Apply `fault` to the next `times` requests to `endpoint` (None: to every one).

        `endpoint` is "METHOD /path" or just "/path" for any method; faults fire in the order
        they were injected.
        """
        self._faults.add(endpoint, fault, times)

    def clear_faults(self) -> None:
        self._faults.clear()

    # -- introspection -------------------------------------------------------------------

    @property
    def orders(self) -> list[FakeOrder]:
        """Orders accepted and filled, oldest first."""
        with self.ledger.lock:
            return list(self.ledger.orders)

    def order(self, client_order_id: str) -> FakeOrder | None:
        return self.ledger.find(None, client_id=client_order_id, order_id=None)

    @property
    def order_posts(self) -> int:
        """Order placements received, accepted or not, faulted or not."""
        with self._log_lock:
            return self._order_posts

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._log_lock:
            return list(self._requests)

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        """Recorded requests to "METHOD /path" or "/path"."""
        return [r for r in self.requests if endpoint in (r.endpoint, r.path)]

    # -- the server's entry point --------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        if self.latency > 0:
            self._release.wait(self.latency)
        fault = self._faults.take(request)
        with self._log_lock:
            if request.endpoint in self.venue.order_endpoints:
                self._order_posts += 1
        try:
            response = self._respond(request, fault)
        except Exception as error:  # a bug in the fake must not pass for an exchange outage
            self.errors.append(f"{request.endpoint}: {error!r}")
            response = Response(500, f"fake exchange bug: {error!r}")
        record = RecordedRequest(
            request.method,
            request.path,
            request.query,
            dict(request.headers),
            request.body,
            0 if response.drop else response.status,
            fault.kind if fault else None,
        )
        with self._log_lock:
            self._requests.append(record)
        return response

    def _respond(self, request: Request, fault: Fault | None) -> Response:
        if fault is None:
            return self.venue.handle(request)
        if fault.kind == "disconnect":
            return Response(0, drop=True)
        if fault.kind == "slow":
            self._release.wait(fault.seconds)
            return self.venue.handle(request)
        if fault.kind == "accept_then_timeout":
            response = self.venue.handle(request)
            response.hold = fault.seconds
            return response
        if fault.kind == "accept_then_drop":
            self.venue.handle(request)
            return Response(0, drop=True)
        return self.venue.fault_response(fault, request)

    def __repr__(self) -> str:
        where = self._server.url if self._server else "stopped"
        return f"<FakeExchange {self.exchange_id} {where} orders={len(self.orders)}>"


# --- the HTTP server: one thread per request, so a held answer blocks nobody else ---------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, app: Callable[[Request], Response], release: threading.Event) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app
        self.release = release


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: no stale keep-alive sockets

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        headers = {key.lower(): value for key, value in self.headers.items()}
        request = Request(self.command, parts.path, parts.query, headers, body)
        response = self.server.app(request)
        if response.hold > 0:
            self.server.release.wait(response.hold)
        if response.drop:
            self.close_connection = True
            return
        payload, content_type = response.payload()
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as a timed-out client does

    do_GET = do_POST = do_DELETE = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ServerThread:
    """Runs an app on 127.0.0.1 (an OS-chosen port) until `stop()`; held answers are released."""

    def __init__(self, app: Callable[[Request], Response], release: threading.Event) -> None:
        self.release = release
        self._server = _Server(app, release)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="fake-exchange",
        )
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
