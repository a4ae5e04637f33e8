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
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.exchanges.base import (
    BelowMinimum,
    ExchangeUnavailable,
    Fill,
    InsufficientFunds,
    MarketRules,
    PriceQuote,
    UnknownMarket,
)
from bot.exchanges.ccxt_calls import CcxtCalls, ExchangeLog, RetryPolicy, Sleep
from bot.exchanges.ccxt_orders import to_decimal
from bot.exchanges.circuit import CircuitBreaker, CircuitListener, CircuitState
from bot.exchanges.endpoints import point_at
from bot.exchanges.markets import rules_from_ccxt_market
from bot.exchanges.order_flow import OrderFlow, OrderTicket
from bot.exchanges.public_market import OHLCV_PAGE, closed_daily_candles, create_ccxt_client
from bot.exchanges.quantize import (
    check_cost,
    exchange_title,
    fmt_plain,
    plan_buy,
    plan_sell,
    quantize_down,
)
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
        retry: RetryPolicy | None = None,
        client_config: Mapping[str, Any] | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """`client_config` is merged into ccxt's constructor settings (tests pass
        `{"enableRateLimit": False}`); `base_url` points every endpoint at a mirror or a fake."""
        if mode not in MODES:
            raise ValueError(f"the ccxt adapter trades in {' or '.join(MODES)} mode, not {mode!r}")
        self.name = exchange_id
        self.mode = mode
        self.clock = clock
        self.title = exchange_title(exchange_id)
        self._keys_present = credentials is not None
        self.client = self._build_client(credentials, base_url, timeout_s, client_config or {})
        self.breaker = CircuitBreaker(
            exchange_id,
            mode,
            title=self.title,
            threshold=circuit_failures,
            cooldown=circuit_cooldown,
            clock=clock,
            on_change=on_circuit_change,
        )
        self.log = ExchangeLog(log, {"mode": mode, "exchange": exchange_id})
        self.calls = CcxtCalls(
            self.client,
            self.breaker,
            retry or RetryPolicy(),
            self.log,
            title=self.title,
            mode=mode,
            sleep=sleep,
        )
        self.flow = OrderFlow(self.calls)

    def _build_client(
        self,
        credentials: ApiCredentials | None,
        base_url: str,
        timeout_s: float,
        client_config: Mapping[str, Any],
    ) -> Any:
        config: dict[str, Any] = {"logger": _wire_log, **client_config}
        if credentials is not None:
            config.update(apiKey=credentials.api_key, secret=credentials.secret)
            if credentials.passphrase:
                config["password"] = credentials.passphrase
        client = create_ccxt_client(self.name, timeout_s=timeout_s, **config)
        if not client.has.get("createMarketBuyOrderWithCost"):
            raise ExchangeUnavailable(
                f"{self.title} cannot spend a quote amount at market through ccxt "
                "(createMarketBuyOrderWithCost); use binance or okx"
            )
        if self.mode == "testnet":
            try:
                client.set_sandbox_mode(True)
            except Exception:
                raise ExchangeUnavailable(
                    f"{self.title} has no testnet (sandbox) in ccxt; use DCABOT_MODE=paper"
                ) from None
        if base_url:
            point_at(client, base_url)
        return client

    def __repr__(self) -> str:
        return f"<CcxtExchange {self.name} {self.mode}>"

    # -- reads ------------------------------------------------------------------------------

    async def market_rules(self, symbol: str) -> MarketRules:
        return rules_from_ccxt_market(self.name, await self._market(symbol))

    async def price(self, symbol: str) -> PriceQuote:
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
        rules = await self.market_rules(symbol)
        self._require_keys("look up orders")
        ticket = OrderTicket(rules, "", client_order_id, f"order {client_order_id}")
        return await self.flow.find(ticket)

    def circuit_state(self) -> CircuitState:
        return self.breaker.state()

    # -- orders -----------------------------------------------------------------------------

    async def buy_with_quote(
        self, symbol: str, quote_amount: Decimal, client_order_id: str
    ) -> Fill:
        rules = await self.market_rules(symbol)
        self._require_keys(f"buy {symbol}")
        check_cost(rules, quote_amount)
        step = self._quote_step(symbol, rules)
        spend = quantize_down(quote_amount, step)
        if spend <= 0:
            raise BelowMinimum(
                f"{self.title} takes {symbol} buys in steps of {fmt_plain(step)} {rules.quote}; "
                f"{fmt_plain(quote_amount)} comes to nothing"
            )
        plan_buy(rules, spend, (await self.price(symbol)).price)
        await self._require_free(rules.quote, spend, f"buying {symbol}")
        ticket = OrderTicket(
            rules, "buy", client_order_id, f"buy of {symbol} for {fmt_plain(spend)} {rules.quote}"
        )
        self.log.info("sending the %s as %s", ticket.description, client_order_id)
        fill = await self.flow.place(
            ticket,
            lambda: self.client.create_market_buy_order_with_cost(
                symbol, format(spend, "f"), {"clientOrderId": client_order_id}
            ),
        )
        self._log_fill(fill, rules)
        return fill

    async def sell_base(self, symbol: str, base_amount: Decimal, client_order_id: str) -> Fill:
        rules = await self.market_rules(symbol)
        self._require_keys(f"sell {symbol}")
        plan = plan_sell(rules, base_amount, (await self.price(symbol)).price)
        await self._require_free(rules.base, plan.amount, f"selling {symbol}")
        ticket = OrderTicket(
            rules, "sell", client_order_id, f"sale of {fmt_plain(plan.amount)} {rules.base}"
        )
        self.log.info("sending the %s as %s", ticket.description, client_order_id)
        fill = await self.flow.place(
            ticket,
            lambda: self.client.create_market_sell_order(
                symbol, format(plan.amount, "f"), {"clientOrderId": client_order_id}
            ),
        )
        self._log_fill(fill, rules)
        return fill

    async def close(self) -> None:
        await self.client.close()

    # -- helpers ----------------------------------------------------------------------------

    async def _admit(self) -> None:
        await self.breaker.admit(self._probe)

    async def _probe(self) -> object:
        client = self.client
        probe = client.fetch_time if client.has.get("fetchTime") else client.fetch_status
        return await self.calls.once("probe", probe)

    async def _market(self, symbol: str) -> dict[str, Any]:
        await self._admit()
        markets = await self.calls.read("the market list", self.client.load_markets)
        market = markets.get(symbol)
        if market is None:
            raise UnknownMarket(f"{self.calls.where} has no market {symbol}")
        if market.get("active") is False:
            raise UnknownMarket(f"{self.calls.where}: {symbol} is not trading at the moment")
        return dict(market)

    def _quote_step(self, symbol: str, rules: MarketRules) -> Decimal:
        """The step ccxt truncates a quote amount to: the price tick (Binance's quoteOrderQty),
        or the cost precision where a market has one (OKX's `sz`); the coarser of the two."""
        precision = self.client.markets[symbol].get("precision") or {}
        cost_step = to_decimal(precision.get("cost"))
        return max(cost_step, rules.price_tick) if cost_step else rules.price_tick

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

    def _log_fill(self, fill: Fill, rules: MarketRules) -> None:
        self.log.info(
            "%s %s %s for %s %s at %s (fee %s %s), order %s / %s",
            "bought" if fill.side == "buy" else "sold",
            fmt_plain(fill.amount),
            rules.base,
            fmt_plain(fill.cost),
            rules.quote,
            fmt_plain(fill.price),
            fmt_plain(fill.fee),
            fill.fee_asset,
            fill.client_order_id,
            fill.exchange_order_id,
        )
