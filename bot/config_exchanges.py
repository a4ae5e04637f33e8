"""The checks behind the exchange settings: which exchanges, in which mode, the trend's source.

`DCABOT_EXCHANGES=binance,okx` lists the exchanges (the first is the default); `DCABOT_EXCHANGE`
keeps working as a one-item list and must not quietly stop being the default when a list is
set. Each of binance and okx may have its own mode (`DCABOT_MODE_OKX`); a `DCABOT_MODE_<ID>`
for any other exchange would be ignored, so it is refused instead of trading in the wrong mode.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from bot.exchanges.catalog import unsupported_reason

EXCHANGE_ID = re.compile(r"^[a-z0-9]{1,40}$")
OWN_MODES = ("binance", "okx")  # the exchanges with a DCABOT_MODE_<ID> setting
DEFAULT_EXCHANGE = "binance"


def exchange_id(value: str) -> str:
    if not EXCHANGE_ID.match(value):
        raise ValueError(f"{value!r} is not a ccxt exchange id (lower-case letters, digits)")
    reason = unsupported_reason(value)
    if reason is not None:
        raise ValueError(f"{value!r} {reason}")
    return value


def split_exchanges(value: Any) -> tuple[str, ...]:
    """`binance,okx`: ccxt ids separated by commas, each once (each checked by `exchange_id`)."""
    if isinstance(value, (tuple, list)):
        items = [str(v).strip() for v in value]
    elif isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
        if value.strip() and not any(items):
            raise ValueError("names no exchange: list ccxt ids separated by commas")
    else:
        return ()
    items = [item for item in items if item]
    twice = sorted({item for item in items if items.count(item) > 1})
    if twice:
        raise ValueError(f"lists {twice[0]} twice: name each exchange once, e.g. binance,okx")
    return tuple(exchange_id(item) for item in items)


def check_exchange_list(value: Any, single: str | None,
                        environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """The exchanges to trade on: the list, or `DCABOT_EXCHANGE` alone."""
    names = split_exchanges(value)
    if names and single and single != DEFAULT_EXCHANGE and single != names[0]:
        raise ValueError(
            f"would make {names[0]} the default instead of DCABOT_EXCHANGE={single}: put "
            f"{single} first in the list, or unset DCABOT_EXCHANGE"
        )
    names = names or (single or DEFAULT_EXCHANGE,)
    for variable in sorted(environ):
        own = variable.removeprefix("DCABOT_MODE_").lower()
        if variable.startswith("DCABOT_MODE_") and own not in OWN_MODES:
            raise ValueError(
                f"{variable} is not read: only binance and okx have a mode of their own "
                f"(DCABOT_MODE_BINANCE, DCABOT_MODE_OKX); {own} trades in DCABOT_MODE"
            )
    return names


def check_signal_exchange(value: str, exchanges: Iterable[str]) -> str:
    """The exchange whose candles give the trend must be one the bot trades on (or blank)."""
    name, listed = value.strip(), tuple(exchanges)
    if name and listed and name not in listed:
        raise ValueError(f"{name!r} is not in DCABOT_EXCHANGES ({','.join(listed)}): use one "
                         "of them, or leave it unset for the first")
    return name
