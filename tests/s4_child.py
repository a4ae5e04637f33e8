"""An S4 watch in a process of its own that dies between a rotation's legs, for the crash test:
`python -m tests.s4_child <exchange> <url> <key> <secret> <passphrase> <database url> <now>`.

The engine is the real one, on the real ccxt adapter pointed at the fake exchange; the exchange
is wrapped only to end the process (`os._exit`, as a kill would: nothing is cleaned up) when the
buy leg asks for the gold market's rules, the first thing it does after the sell is recorded."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.engine.context import Engine
from bot.engine.s4_watch import s4_watch
from bot.exchanges.base import MarketRules
from bot.exchanges.ccxt_exchange import CcxtExchange
from bot.exchanges.markets import gold_symbol
from storage.credentials import ApiCredentials
from storage.db import Database
from tests.conftest import Clock, make_settings
from tests.exchange_harness import FAST_CLIENT, FAST_RETRY, TIMEOUT_S

KILLED = 137


class DiesBeforeTheBuy:
    def __init__(self, inner: CcxtExchange) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def market_rules(self, symbol: str) -> MarketRules:
        if symbol == gold_symbol(self.inner.name):
            os._exit(KILLED)
        return await self.inner.market_rules(symbol)


async def main(exchange_id: str, url: str, key: str, secret: str, passphrase: str,
               database_url: str, now: str) -> None:
    clock = Clock(datetime.fromisoformat(now))
    keys = ApiCredentials(exchange_id, key, secret, passphrase or None)
    exchange = CcxtExchange(exchange_id, "live", clock=clock, credentials=keys, base_url=url,
                            timeout_s=TIMEOUT_S, retry=FAST_RETRY, client_config=FAST_CLIENT)
    settings = make_settings(Path(os.environ["S4_CHILD_DIR"]), exchange=exchange_id,
                             mode="live", database_url=database_url)
    engine = Engine(settings=settings, db=Database(database_url),
                    exchange=DiesBeforeTheBuy(exchange), clock=clock)  # type: ignore[arg-type]
    print(await s4_watch(engine), flush=True)  # only reached if the process was not killed
    await exchange.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
