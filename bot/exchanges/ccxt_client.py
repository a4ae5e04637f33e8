"""Building the ccxt client the adapter talks through, with the two hooks it needs from ccxt.

* Every response, error or not, is shown to the `RateGate` with its status and headers (ccxt
  keeps `Retry-After` and `X-MBX-USED-WEIGHT-1M` to itself), through the instance's
  `handle_errors`, which ccxt calls for every response before raising.
* An OKX order request carries the `expTime` header, OKX's own deadline for acting on it: ccxt
  does not send one, so the instance's `sign` adds it from `ORDER_DEADLINE_MS`, a context
  variable the order flow sets around each send (a context variable, so orders sent at the
  same time by several tasks each carry their own).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from bot.exchanges.base import ExchangeUnavailable
from bot.exchanges.endpoints import point_at
from bot.exchanges.public_market import create_ccxt_client
from bot.exchanges.quantize import exchange_title
from bot.exchanges.rate_gate import RateGate
from storage.credentials import ApiCredentials

ORDER_DEADLINE_MS: ContextVar[int | None] = ContextVar("order_deadline_ms", default=None)
OKX_ORDER_PATHS = frozenset({"trade/order", "trade/batch-orders"})


def build_client(
    exchange_id: str,
    mode: str,
    *,
    credentials: ApiCredentials | None,
    base_url: str,
    timeout_s: float,
    client_config: Mapping[str, Any],
    gate: RateGate,
    logger: Any,
) -> Any:
    """The ccxt async client for `exchange_id` in `mode` (sandbox for testnet), pointed at
    `base_url` when set, with the rate gate's and the deadline's hooks installed."""
    title = exchange_title(exchange_id)
    config: dict[str, Any] = {"logger": logger, **client_config}
    if credentials is not None:
        config.update(apiKey=credentials.api_key, secret=credentials.secret)
        if credentials.passphrase:
            config["password"] = credentials.passphrase
    client = create_ccxt_client(exchange_id, timeout_s=timeout_s, **config)
    if not client.has.get("createMarketBuyOrderWithCost"):
        raise ExchangeUnavailable(
            f"{title} cannot spend a quote amount at market through ccxt "
            "(createMarketBuyOrderWithCost); use binance or okx"
        )
    if mode == "testnet":
        try:
            client.set_sandbox_mode(True)
        except Exception:
            raise ExchangeUnavailable(
                f"{title} has no testnet (sandbox) in ccxt; use DCABOT_MODE=paper"
            ) from None
    if base_url:
        point_at(client, base_url)
    _observe_responses(client, gate)
    if exchange_id == "okx":
        _send_exp_time(client)
    return client


def _observe_responses(client: Any, gate: RateGate) -> None:
    original = client.handle_errors

    def handle_errors(
        code: int, reason: str, url: str, method: str, headers: Any, *rest: Any
    ) -> Any:
        gate.observe(int(code or 0), headers)
        return original(code, reason, url, method, headers, *rest)

    client.handle_errors = handle_errors


def _send_exp_time(client: Any) -> None:
    original = client.sign

    def sign(path: str, api: Any = "public", method: str = "GET", params: Any = None) -> Any:
        request = original(path, api, method, {} if params is None else params)
        deadline = ORDER_DEADLINE_MS.get()
        if deadline is not None and method == "POST" and path in OKX_ORDER_PATHS:
            request["headers"] = {**(request.get("headers") or {}), "expTime": str(deadline)}
        return request

    client.sign = sign
