"""A real exchange through ccxt's async API: the `Exchange` protocol for testnet and live.

Before anything is sent an order is quantized to the market's rules (a quote amount to the price
tick, since ccxt truncates `quoteOrderQty` there; a base amount to the step), checked against the
minimums at the current price and against the free balance, so a refusal is our own clear message
and `order_posts` stays zero. Sending and settling is `order_flow`'s job, reads are retried by
`ccxt_calls`, and `circuit` pauses the exchange after repeated failures.

ccxt is imported when this adapter is built, never in paper mode. Its own logger would write
request headers (OKX's passphrase among them) at DEBUG, so it gets a logger of its own that only
passes warnings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.exchanges.base import (
    ExchangeUnavailable,
    Fill,
    InsufficientFunds,
    MarketRules,
    PriceQuote,
    UnknownMarket,
)
from bot.exchanges.ccxt_calls import CcxtCalls, ExchangeLog, RetryPolicy, Sleep
from bot.exchanges.ccxt_client import build_client
from bot.exchanges.ccxt_orders import describe_fill, quote_to_spend, to_decimal
from bot.exchanges.circuit import CircuitBreaker, CircuitListener, CircuitState
from bot.exchanges.exchange_clock import ClockListener, ExchangeClock
from bot.exchanges.markets import rules_from_ccxt_market
from bot.exchanges.order_flow import OnAttempt, OrderFlow, OrderTicket
from bot.exchanges.public_market import OHLCV_PAGE, closed_daily_candles
from bot.exchanges.quantize import exchange_title, fmt_plain, plan_buy, plan_sell
from bot.exchanges.rate_gate import PauseListener, PauseLoader, RateGate
from bot.exchanges.single_flight import SingleFlight
from bot.exchanges.trade_history import TradePage, read_order_status, read_trade_history
from storage.credentials import ApiCredentials
from strategies.candles import Candle

Clock = Callable[[], datetime]
MODES = ("testnet", "live")

log = logging.getLogger("bot.exchanges.ccxt")
_wire_log = logging.getLogger("bot.exchanges.ccxt.wire")
_wire_log.setLevel(logging.WARNING)  # ccxt logs request headers (keys, passphrase) at DEBUG


class CcxtExchange:
    """Implements `bot.exchanges.base.Exchange` for one ccxt exchange in testnet or live mode."""

    def __init__(
        self,
        exchange_id: str,
        mode: str,
        *,
        clock: Clock,
        credentials: ApiCredentials | None = None,
        base_url: str = "",
        timeout_s: float = 30.0,
        circuit_failures: int = 5,
        circuit_cooldown: timedelta = timedelta(minutes=2),
        on_circuit_change: CircuitListener | None = None,
        on_pause: PauseListener | None = None,
        load_pause: PauseLoader | None = None,
        on_clock: ClockListener | None = None,
        retry: RetryPolicy | None = None,
        client_config: Mapping[str, Any] | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """`client_config` is merged into ccxt's constructor settings (tests pass
        `{"enableRateLimit": False}`); `base_url` points every endpoint at a mirror or a fake.
        The listeners let the engine remember what the exchange said: the breaker opening and
        closing, a pause it asked for (and the one saved earlier, `load_pause`), the clock."""
        if mode not in MODES:
            raise ValueError(f"the ccxt adapter trades in {' or '.join(MODES)} mode, not {mode!r}")
        self.name = exchange_id
        self.mode = mode
        self.clock = clock
        self.title = exchange_title(exchange_id)
        self._keys_present = credentials is not None
        # pauses are durations the exchange asked for: timed on ccxt's own (wall) clock
        self.gate = RateGate(
            self.title, mode, self._wall_clock, on_pause=on_pause, load=load_pause
        )
        self.client = build_client(
            exchange_id, mode, credentials=credentials, base_url=base_url, timeout_s=timeout_s,
            client_config=client_config or {}, gate=self.gate, logger=_wire_log,
        )
        self.breaker = CircuitBreaker(
            exchange_id, mode, title=self.title, threshold=circuit_failures,
            cooldown=circuit_cooldown, clock=clock, on_change=on_circuit_change,
        )
        self.log = ExchangeLog(log, {"mode": mode, "exchange": exchange_id})
        self.calls = CcxtCalls(
            self.client, self.breaker, retry or RetryPolicy(), self.log, title=self.title,
            mode=mode, gate=self.gate, sleep=sleep,
        )
        self.time = ExchangeClock(self.calls, clock, self._admit, on_clock)
        self.calls.resync = self.time.sync
        self.flow = OrderFlow(self.calls, self.time.server_now, self.time.sync)
        self._prices: SingleFlight[PriceQuote] = SingleFlight()

    def __repr__(self) -> str:
        return f"<CcxtExchange {self.name} {self.mode}>"

    # -- time ----------------------------------------------------------------------------------

    def server_now(self) -> datetime:
        return self.time.server_now()

    def _wall_clock(self) -> datetime:
        client = getattr(self, "client", None)
        if client is None:  # while the client is being built
            return datetime.now(UTC)
        return datetime.fromtimestamp(int(client.milliseconds()) / 1000, UTC)

    async def sync_clock(self) -> int:
        return await self.time.sync()

    async def measure_clock(self) -> None:
        await self.time.fresh()

    # -- reads ------------------------------------------------------------------------------

    async def market_rules(self, symbol: str) -> MarketRules:
        return rules_from_ccxt_market(self.name, await self._market(symbol))

    async def price(self, symbol: str) -> PriceQuote:
        return await self._prices.run(symbol, lambda: self._fetch_price(symbol))

    async def reference_price(self, symbol: str) -> PriceQuote:
        return await self.price(symbol)

    async def _fetch_price(self, symbol: str) -> PriceQuote:
        await self._market(symbol)
        ticker = await self.calls.read(
            f"the {symbol} ticker", lambda: self.client.fetch_ticker(symbol)
        )
        last = to_decimal(ticker.get("last")) or to_decimal(ticker.get("close"))
        if last is None or last <= 0:
            raise ExchangeUnavailable(f"{self.calls.where}: the {symbol} ticker has no price")
        return PriceQuote(symbol, last, f"{self.title} {self.mode} ticker", False, self.clock())

    async def balances(self) -> dict[str, Decimal]:
        await self._admit()
        self._require_keys("read balances")
        balance = await self.calls.read("the balances", self.client.fetch_balance)
        free = balance.get("free") or {}
        amounts = {asset: to_decimal(value) for asset, value in free.items()}
        return {asset: amount for asset, amount in amounts.items() if amount}

    async def closed_candles(self, symbol: str, limit: int) -> list[Candle]:
        await self._market(symbol)

        async def fetch_page(since_ms: int) -> list[list[Any]]:
            rows: list[list[Any]] = await self.calls.read(
                f"{symbol} daily candles",
                lambda: self.client.fetch_ohlcv(symbol, "1d", since=since_ms, limit=OHLCV_PAGE),
            )
            return rows

        return await closed_daily_candles(fetch_page, limit, self.clock())

    async def find_order(self, symbol: str, client_order_id: str) -> Fill | None:
        """The order's fill; None when the exchange does not know it (proof of nothing before
        its deadline); `OrderRejected` when it ended with nothing filled. A market listed as not
        trading (maintenance) is still looked up: its orders may have filled before."""
        rules = rules_from_ccxt_market(self.name, await self._market(symbol, trading=False))
        self._require_keys("look up orders")
        ticket = OrderTicket(rules, "", client_order_id, f"order {client_order_id}")
        return await self.flow.find(ticket)

    async def trade_history(self, symbol: str, cursor: str) -> TradePage:
        """The account's orders on `symbol` since `cursor` (`trade_history`)."""
        rules = rules_from_ccxt_market(self.name, await self._market(symbol, trading=False))
        self._require_keys("read the trade history")
        now_ms = int(self.server_now().timestamp() * 1000)
        return await read_trade_history(self.calls, rules, cursor, now_ms)

    async def order_status(self, symbol: str, exchange_order_id: str) -> tuple[str, bool]:
        return await read_order_status(self.calls, symbol, exchange_order_id)

    def circuit_state(self) -> CircuitState:
        return self.breaker.state()

    # -- orders -----------------------------------------------------------------------------

    async def buy_with_quote(
        self,
        symbol: str,
        quote_amount: Decimal,
        client_order_id: str,
        *,
        on_attempt: OnAttempt | None = None,
    ) -> Fill:
        rules = await self.market_rules(symbol)
        self._require_keys(f"buy {symbol}")
        spend = quote_to_spend(self.title, self.client.markets[symbol], rules, quote_amount)
        price = (await self.price(symbol)).price
        plan = plan_buy(rules, spend, price)
        await self._require_free(rules.quote, spend, f"buying {symbol}")
        await self.time.fresh()
        ticket = OrderTicket(
            rules, "buy", client_order_id, f"buy of {symbol} for {fmt_plain(spend)} {rules.quote}"
        )
        self.log.info("sending the %s as %s", ticket.description, client_order_id)
        fill = await self.flow.place(
            ticket,
            lambda: self.client.create_market_buy_order_with_cost(
                symbol, format(spend, "f"), self._order_params(client_order_id)
            ),
            size=(plan.amount, spend),
            on_attempt=on_attempt,
        )
        self.log.info("%s", describe_fill(fill, rules))
        return fill

    async def sell_base(
        self,
        symbol: str,
        base_amount: Decimal,
        client_order_id: str,
        *,
        on_attempt: OnAttempt | None = None,
    ) -> Fill:
        rules = await self.market_rules(symbol)
        self._require_keys(f"sell {symbol}")
        plan = plan_sell(rules, base_amount, (await self.price(symbol)).price)
        await self._require_free(rules.base, plan.amount, f"selling {symbol}")
        await self.time.fresh()
        ticket = OrderTicket(
            rules, "sell", client_order_id, f"sale of {fmt_plain(plan.amount)} {rules.base}"
        )
        self.log.info("sending the %s as %s", ticket.description, client_order_id)
        fill = await self.flow.place(
            ticket,
            lambda: self.client.create_market_sell_order(
                symbol, format(plan.amount, "f"), self._order_params(client_order_id)
            ),
            size=(plan.amount, plan.cost),
            on_attempt=on_attempt,
        )
        self.log.info("%s", describe_fill(fill, rules))
        return fill

    async def close(self) -> None:
        await self.client.close()

    # -- helpers ----------------------------------------------------------------------------

    def _order_params(self, client_order_id: str) -> dict[str, Any]:
        """The client id, and Binance's receive window in ms (OKX's `expTime` is a header, set
        by the flow: see `ccxt_client`)."""
        params: dict[str, Any] = {"clientOrderId": client_order_id}
        if self.name == "binance":
            params["recvWindow"] = int(self.calls.policy.recv_window_s * 1000)
        return params

    async def _admit(self) -> None:
        await self.breaker.admit(self._probe)

    async def _probe(self) -> object:
        client = self.client
        probe = client.fetch_time if client.has.get("fetchTime") else client.fetch_status
        return await self.calls.once("probe", probe)

    async def _market(self, symbol: str, *, trading: bool = True) -> dict[str, Any]:
        """The market, from ccxt's list (loaded once: a cached list is no answer from the
        exchange, so it neither counts as a success for the breaker nor waits for one)."""
        await self._admit()
        markets = self.client.markets
        if not markets:
            markets = await self.calls.read("the market list", self.client.load_markets)
        market = markets.get(symbol)
        if market is None:
            raise UnknownMarket(f"{self.calls.where} has no market {symbol}")
        if trading and market.get("active") is False:
            raise UnknownMarket(f"{self.calls.where}: {symbol} is not trading at the moment")
        return dict(market)

    def _require_keys(self, action: str) -> None:
        if not self._keys_present:
            raise ExchangeUnavailable(
                f"{self.calls.where}: no API keys are stored for {self.name}, so the bot cannot "
                f"{action}; add them with `dcabot keys add {self.name}`"
            )

    async def _require_free(self, asset: str, needed: Decimal, action: str) -> None:
        free = (await self.balances()).get(asset, Decimal(0))
        if free < needed:
            raise InsufficientFunds(
                f"{self.calls.where} account has {fmt_plain(free)} {asset} free; {action} needs "
                f"{fmt_plain(needed)} {asset}"
            )
