"""Where a ccxt exchange sends its requests, and which of its endpoints a spot DCA bot lets it call.

Tests point ccxt at a local fake exchange and production may route through a proxy or mirror
(`DCABOT_BINANCE_API_URL`, `DCABOT_OKX_API_URL`). ccxt keeps absolute URLs in `urls['api']`, one
per API family for Binance (`public`, `private`, `v1`, `sapi`, `fapi`, ...) and a `{hostname}`
template for OKX, so a base URL has to replace the scheme and host of every one of them while each
keeps its own path.

By default ccxt also loads futures, options and margin markets and a private currency list on
`load_markets()`: requests a spot bot does not need, that cost rate-limit weight, and that a
mirror or a fake may not serve. `ccxt_options_for` turns them off, naming only options that the
installed ccxt (4.5) actually reads.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

__all__ = ["ccxt_options_for", "point_at"]


def point_at(exchange: Any, base_url: str) -> None:
    """Send every request of a ccxt exchange instance to `base_url`, keeping each endpoint's path.

    `https://api.binance.com/api/v3` becomes `<base_url>/api/v3` and OKX's `https://{hostname}`
    becomes `<base_url>`; a path in `base_url` (a proxy prefix) is kept in front. Call it after
    `set_sandbox_mode()`, which replaces `urls['api']` wholesale.
    """
    base = urlsplit(base_url)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ValueError(f"base URL must be an absolute http(s) URL, got {base_url!r}")
    hostname = getattr(exchange, "hostname", None)
    exchange.urls["api"] = _rebase(exchange.urls["api"], base, hostname)
    _keep_spot_error_mapping(exchange)


def ccxt_options_for(exchange_id: str) -> dict[str, Any]:
    """Constructor settings that keep ccxt to spot markets and leave retries to the adapter.

    `maxRetriesOnFailure` stays 0 because ccxt would resend an order POST after a timeout, which
    is exactly the duplicate buy the adapter's look-up-by-client-id exists to prevent.
    """
    settings = _SETTINGS.get(exchange_id, _DEFAULT_SETTINGS)
    return copy.deepcopy(settings)


_DEFAULT_SETTINGS: dict[str, Any] = {
    "enableRateLimit": True,
    "options": {"defaultType": "spot", "maxRetriesOnFailure": 0},
}

_SETTINGS: dict[str, dict[str, Any]] = {
    "binance": {
        "enableRateLimit": True,
        "options": {
            "defaultType": "spot",
            # only GET /api/v3/exchangeInfo; the default also asks fapi and dapi
            "fetchMarkets": {"types": ["spot"]},
            # no sapi margin/allPairs and margin/isolated/allPairs when keys are set
            "fetchMargins": False,
            # no sapi capital/config/getall (a private call) in load_markets
            "fetchCurrencies": False,
            "maxRetriesOnFailure": 0,
        },
    },
    "okx": {
        "enableRateLimit": True,
        # ccxt's okx has no option for its private asset/currencies call in load_markets;
        # the base class only makes it when has['fetchCurrencies'] is True
        "has": {"fetchCurrencies": False},
        "options": {
            "defaultType": "spot",
            # only instType=SPOT; the default also asks FUTURES, SWAP and OPTION (per underlying)
            "fetchMarkets": {"types": ["spot"]},
            # POST /api/v5/trade/order for one order; the default is trade/batch-orders
            "createOrder": "privatePostTradeOrder",
            "maxRetriesOnFailure": 0,
        },
    },
}


def _rebase(value: Any, base: SplitResult, hostname: str | None) -> Any:
    if isinstance(value, str):
        if hostname is not None:
            value = value.replace("{hostname}", hostname)
        old = urlsplit(value)
        if not old.scheme or not old.netloc:
            return value
        path = base.path.rstrip("/") + old.path
        return urlunsplit((base.scheme, base.netloc, path, old.query, old.fragment))
    if isinstance(value, dict):
        return {key: _rebase(item, base, hostname) for key, item in value.items()}
    return value


def _keep_spot_error_mapping(exchange: Any) -> None:
    """Keep Binance's spot error codes mapped to the right ccxt exceptions on any host.

    ccxt's binance picks its market-specific error table by the URL's prefix
    (`https://api.binance.com/` means spot); on any other host it silently falls back to the
    shared table, where for instance -1004 and -2026 map differently. A spot-only bot can fold
    the spot table into the shared one and get the same exceptions wherever it points.
    """
    exceptions = getattr(exchange, "exceptions", None)
    if not isinstance(exceptions, dict):
        return
    spot = exceptions.get("spot")
    if not isinstance(spot, dict) or exchange.options.get("defaultType", "spot") != "spot":
        return
    for kind in ("exact", "broad"):
        specific = spot.get(kind)
        if isinstance(specific, dict) and specific:
            exceptions[kind] = {**exceptions.get(kind, {}), **specific}
