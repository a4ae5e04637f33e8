"""A fake Binance or OKX on a local port, for driving the real ccxt against it.

    with FakeExchange("binance", balances={"USDT": 1000}) as fake:
        exchange = ccxt.async_support.binance({"apiKey": fake.api_key, "secret": fake.secret,
                                               **ccxt_options_for("binance")})
        point_at(exchange, fake.url)
        fake.inject(fake.order_endpoint, Fault.accept_then_timeout(hold=5))

Markets come from tests/data (Binance's exchangeInfo, OKX's instruments plus a hand-made
XAUT-USDT; see tests/shared_data.py), candles and default prices from its candle files. Market
orders fill at once at the current price, in `trades_per_order` trades; the taker fee is taken
from the asset received (or, with `bnb_fees`, in BNB while it lasts). A person trading by hand on
the same account can leave a LIMIT order resting partly filled (`rest_by_hand`) and have the rest
fill later (`fill_rest`). Faults are injected per
endpoint, once, N times or always; outages and Binance's rate limits and IP bans apply to every
request; every request is recorded with its server time at arrival and at processing (see
exchange_pipeline).

The venue's clock is `clock` (epoch ms; real time by default) plus `set_skew(ms)`; it is what the
venue calls "now" everywhere: serverTime, order and trade times, timestamp checks, bans, outages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from .exchange_binance import BinanceVenue
from .exchange_core import DATA_DIR, DEFAULT_CANDLE_FILES, Fault, ServerClock, Venue, VenueSettings
from .exchange_http import ServerThread
from .exchange_ledger import FakeOrder, FakeTrade, FeePolicy, Ledger
from .exchange_limits import DEFAULT_WEIGHT_LIMIT, Ban, BinanceLimits, Outage
from .exchange_okx import OkxVenue
from .exchange_pipeline import Pipeline, RecordedRequest

__all__ = [
    "DATA_DIR",
    "Ban",
    "FakeExchange",
    "FakeOrder",
    "FakeTrade",
    "Fault",
    "Outage",
    "RecordedRequest",
]

EXCHANGE_INFO_FILES = {
    "subset": "binance_exchange_info_subset.json",
    "full": "binance_exchange_info.json",
    "legacy": "binance_exchange_info_legacy_2023-04-14_subset.json",
}


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
        clock: Callable[[], float] | None = None,
        weight_limit: int = DEFAULT_WEIGHT_LIMIT,
        trades_per_order: int = 1,
        bnb_fees: bool = False,
        fee_discount_asset: str | None = None,
        fee_discount: Decimal | str = "0.25",
    ) -> None:
        """`markets` (Binance): "subset" (BTC, ETH, PAXG), "full" (the whole 2024 listing,
        cut to six symbols in tests/data: the subset's, BNBUSDT, DOGEUSDT and ETHBTC), "legacy"
        (2023 MIN_NOTIONAL filters) or a path to an exchangeInfo file. `candles`: base asset ->
        interval ("1h", "4h", "1d") -> CSV, replacing the default files for that asset (the 1h
        and 4h files in tests/data hold only their first months; see its SOURCES.md).

        Real Binance and OKX may only refuse a client order id that an *open* order holds; the
        fake refuses any reuse unless `reject_duplicate_client_ids` is False. `latency` seconds
        pass before every request is processed, as across a real network and matching engine.

        `clock`: the venue's time source in epoch milliseconds (default: real time).
        `weight_limit`: Binance's REQUEST_WEIGHT per minute (6,000; lower it to test 429s).
        `trades_per_order`: how many trades a market order fills in (same price).
        `bnb_fees` (Binance): commissions are paid in BNB at a 25% discount while the BNB balance
        covers them (set a BNB balance and a BNB/USDT price), else in the asset received
        (faqs/commission_faq.md). `fee_discount_asset` / `fee_discount`: the same with another
        asset or rate, on either venue (OKX documents no such scheme for spot: a stress case).
        """
        if isinstance(markets, str) and markets not in EXCHANGE_INFO_FILES:
            raise ValueError(f"markets must be one of {sorted(EXCHANGE_INFO_FILES)} or a Path")
        if bnb_fees and exchange_id != "binance":
            raise ValueError("bnb_fees is Binance's; use fee_discount_asset on OKX")
        self.exchange_id = exchange_id
        self.api_key, self.secret, self.passphrase = api_key, secret, passphrase
        self.clock = ServerClock(clock)
        start = {"USDT": Decimal(10_000)} if balances is None else balances
        amounts = {asset: Decimal(str(amount)) for asset, amount in start.items()}
        fees = FeePolicy(
            Decimal(str(taker_fee)),
            "BNB" if bnb_fees else fee_discount_asset,
            Decimal(str(fee_discount)),
        )
        self.ledger = Ledger(amounts, fees, trades_per_order)
        files: dict[str, Mapping[str, Path]] = {
            base: {interval: DATA_DIR / name for interval, name in intervals.items()}
            for base, intervals in DEFAULT_CANDLE_FILES.items()
        }
        files.update(candles or {})
        settings = VenueSettings(
            self.ledger,
            self.clock,
            api_key,
            secret,
            passphrase,
            files,
            check_timestamps,
            reject_duplicate_client_ids,
        )
        self.venue: Venue
        limits = None
        if exchange_id == "binance":
            info = DATA_DIR / EXCHANGE_INFO_FILES[markets] if isinstance(markets, str) else markets
            self.venue = BinanceVenue(settings, info)
            limits = BinanceLimits(weight_limit)
        elif exchange_id == "okx":
            self.venue = OkxVenue(settings)
        else:
            raise ValueError(f"the fake speaks binance or okx, not {exchange_id!r}")
        self.ledger.market_id = self.venue.market_id
        self._limits = limits
        self._release = threading.Event()
        self._pipeline = Pipeline(self.venue, self.clock, limits, self._release, latency)
        self._server: ServerThread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake exchange is not started")
        return self._server.url

    def start(self) -> FakeExchange:
        if self._server is None:
            self._release.clear()
            self._server = ServerThread(self._pipeline.dispatch, self._release)
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

    # -- time --------------------------------------------------------------------------------

    @property
    def latency(self) -> float:
        return self._pipeline.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._pipeline.latency = seconds

    def now_ms(self) -> int:
        """The venue's time now: the clock plus the skew."""
        return self.clock.now()

    def set_skew(self, ms: int) -> None:
        """Run the venue's clock `ms` ahead of `clock` (negative: behind), as if the host
        running the bot were that much behind (ahead)."""
        self.clock.skew_ms = int(ms)

    # -- market and account state ------------------------------------------------------------

    def market_id(self, symbol: str) -> str:
        """The venue's id for "BTC/USDT" (BTCUSDT, BTC-USDT); venue ids pass through."""
        return self.venue.market_id(symbol)

    def set_price(self, symbol: str, price: Decimal | int | str) -> None:
        """Also for a market the venue does not list, e.g. "BNB/USDT" to price BNB fees."""
        with self.ledger.lock:
            self.ledger.prices[self.market_id(symbol)] = Decimal(str(price))

    def price(self, symbol: str) -> Decimal:
        return self.ledger.prices[self.market_id(symbol)]

    def set_balance(self, asset: str, amount: Decimal | int | str) -> None:
        with self.ledger.lock:
            self.ledger.balances[asset] = Decimal(str(amount))

    @property
    def balances(self) -> dict[str, Decimal]:
        """What is free to spend (what resting orders hold is in `locked`)."""
        with self.ledger.lock:
            return dict(self.ledger.balances)

    @property
    def locked(self) -> dict[str, Decimal]:
        """What resting orders hold (Binance `locked`, OKX `frozenBal`)."""
        with self.ledger.lock:
            return {asset: amount for asset, amount in self.ledger.locked.items() if amount}

    # -- orders placed by hand ----------------------------------------------------------------

    def rest_by_hand(
        self,
        symbol: str,
        side: str,
        qty: Decimal | int | str,
        price: Decimal | int | str,
        filled_now: Decimal | int | str,
        *,
        client_order_id: str | None = None,
    ) -> str:
        """A person places a LIMIT (GTC) order of `qty` base at `price` in the venue's app: a
        trade of `filled_now` executes now (a taker, at `price`; balances and commission as for
        a market order's trade) and the rest rests on the book, its spend locked. Until
        `fill_rest`, the look-up answers Binance PARTIALLY_FILLED / OKX partially_filled (NEW /
        live when `filled_now` is 0) with what executed so far, and openOrders / orders-pending
        list it. `client_order_id`: default Binance "web_<32 hex>", OKX "" (the app sends none).
        Returns the venue's order id (ValueError if the account cannot cover the whole order)."""
        spec = self.venue.limit_order(
            self.market_id(symbol),
            side,
            Decimal(str(qty)),
            Decimal(str(price)),
            client_order_id,
        )
        return self.ledger.rest(spec, Decimal(str(filled_now))).order_id

    def fill_rest(self, order_id: str) -> FakeOrder:
        """The rest of a resting order fills now (venue time, at least 1 ms after its last
        trade), in one more trade with a new trade id / billId, as the maker; the order is then
        FILLED / filled with the whole quantity and cost executed, and its lock released."""
        return self.ledger.complete(order_id, self.clock.now())

    def archive(self, client_order_id: str) -> FakeOrder:
        """Make the order's look-up fail as for an order the venue archived: Binance -2026
        ORDER_ARCHIVED, OKX 51603; its trades stay in myTrades / fills. (Binance documents
        archiving only for CANCELED or EXPIRED orders with nothing executed, after 90 days.)"""
        order = self.order(client_order_id)
        if order is None:
            raise KeyError(f"no order with client order id {client_order_id!r}")
        with self.ledger.lock:
            self.ledger.archived.add(order.order_id)
        return order

    # -- faults, outages, limits ------------------------------------------------------------

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
        they were injected. A request refused before the venue sees it (outage, ban, weight
        limit) leaves the fault waiting.
        """
        self._pipeline.faults.add(endpoint, fault, times)

    def halt(self, symbol: str) -> None:
        """List `symbol` as not trading (Binance status BREAK, OKX state suspend), as during
        maintenance; orders and look-ups are still served."""
        self.venue.halted.add(self.market_id(symbol))

    def clear_faults(self) -> None:
        self._pipeline.faults.clear()

    def down(
        self, seconds: float | None = None, *, until_ms: int | None = None, mode: str = "refuse"
    ) -> Outage:
        """An outage from now for `seconds` (or until server time `until_ms`, or until `up()`):
        every request is dropped unanswered ("refuse"), answered 503 ("503"), or held unanswered
        until the outage ends ("timeout"). Nothing is processed."""
        now = self.clock.now()
        end = until_ms if until_ms is not None else None
        if end is None and seconds is not None:
            end = now + int(seconds * 1000)
        return self._pipeline.outages.add(now, end, mode)

    def up(self) -> None:
        """End the outage now."""
        self._pipeline.outages.end(self.clock.now())

    @property
    def outages(self) -> list[Outage]:
        return list(self._pipeline.outages.windows)

    def ban(self, seconds: float | None = None) -> Ban:
        """Ban the client's IP from now (Binance): `seconds`, or the next escalation step."""
        self._binance_limits().ban(self.clock.now(), seconds)
        return self.bans[-1]

    @property
    def bans(self) -> list[Ban]:
        """Binance IP-ban windows, from a fault or from ignoring a 429, oldest first."""
        return list(self._limits.bans) if self._limits is not None else []

    @property
    def ban_violations(self) -> int:
        """Requests received while the IP was banned (each answered 418)."""
        return self._limits.violations if self._limits is not None else 0

    @property
    def used_weight(self) -> int:
        """Binance request weight used in the current minute (X-MBX-USED-WEIGHT-1M)."""
        return self._binance_limits().used(self.clock.now())

    def _binance_limits(self) -> BinanceLimits:
        if self._limits is None:
            raise ValueError("OKX has no IP ban or request weight: its limit is error 50011")
        return self._limits

    # -- introspection -------------------------------------------------------------------

    @property
    def errors(self) -> list[str]:
        """The fake's own failures, answered with HTTP 500; a test should end with none."""
        return self._pipeline.errors

    @property
    def orders(self) -> list[FakeOrder]:
        """Orders accepted (filled, or expired with what they filled, or resting), oldest
        first."""
        with self.ledger.lock:
            return list(self.ledger.orders)

    def order(self, client_order_id: str) -> FakeOrder | None:
        """The latest order with this client order id."""
        return self.ledger.find(None, client_id=client_order_id, order_id=None)

    @property
    def order_posts(self) -> int:
        """Order placements received, accepted or not, faulted or not."""
        with self._pipeline.lock:
            return self._pipeline.order_posts

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._pipeline.lock:
            return list(self._pipeline.records)

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        """Recorded requests to "METHOD /path" or "/path"."""
        return [r for r in self.requests if endpoint in (r.endpoint, r.path)]

    def requests_between(self, start_ms: int, end_ms: int) -> list[RecordedRequest]:
        """Recorded requests that arrived in [start_ms, end_ms) of server time."""
        return [r for r in self.requests if start_ms <= r.arrived_ms < end_ms]

    def __repr__(self) -> str:
        where = self._server.url if self._server else "stopped"
        return f"<FakeExchange {self.exchange_id} {where} orders={len(self.orders)}>"
