"""Client order ids derived from the cause of an order, so one cause can only ever be one order.

Both Binance (`newClientOrderId`, up to 36 of `[.A-Z:/a-z0-9_-]`) and OKX (`clOrdId`, up to 32
letters and digits) accept the format used here: `dcb`, a two-letter cause code, and 24 hex digits
of the SHA-256 of the cause key.
"""

from __future__ import annotations

import hashlib

CAUSE_CODES = {
    "buy_now": "bn",
    "schedule": "sc",
    "flip_sell": "fs",
    "flip_buy": "fb",
    "sell_now": "sn",
    "deploy": "dp",
    "rotation": "rt",
}


def client_order_id(cause: str, cause_key: str) -> str:
    """The id for the order that `cause_key` (e.g. `schedule:3:2026-11-23T00:00Z`) calls for."""
    code = CAUSE_CODES[cause]
    digest = hashlib.sha256(f"{cause}|{cause_key}".encode()).hexdigest()[:24]
    return f"dcb{code}{digest}"
