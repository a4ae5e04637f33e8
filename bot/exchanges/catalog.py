"""Which exchanges the bot can trade on: those ccxt knows that can spend a quote amount at market.

Checked at start-up, so `DCABOT_EXCHANGE=bitkub` is one line then, not a crash at the first
`/buy`. Knowing ccxt's list does not need ccxt imported (one file per exchange in its package);
the capability does, so it is asked only of exchanges other than the two this bot is tested on.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

TESTED = frozenset({"binance", "okx"})
NEEDED = "createMarketBuyOrderWithCost"


@cache
def _ccxt_folder() -> Path | None:
    spec = importlib.util.find_spec("ccxt")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def known_to_ccxt(exchange_id: str) -> bool:
    folder = _ccxt_folder()
    return folder is not None and (folder / "async_support" / f"{exchange_id}.py").is_file()


def unsupported_reason(exchange_id: str) -> str | None:
    """Why the bot cannot trade on `exchange_id`, or None when it can."""
    if exchange_id in TESTED:
        return None
    if not known_to_ccxt(exchange_id):
        return "is not an exchange ccxt knows; use binance or okx"
    import ccxt.async_support as ccxt_async

    if not getattr(ccxt_async, exchange_id)().has.get(NEEDED):
        return f"cannot spend a quote amount at market through ccxt ({NEEDED}); use binance or okx"
    return None
