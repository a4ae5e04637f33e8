"""Building the engine from the settings: database (migrated on start), exchange, price feed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.config import Mode, PriceSource, Settings
from bot.engine.accounts import Accounts
from bot.engine.context import Clock, Engine, system_clock
from bot.engine.errors import UserError
from bot.engine.exchange_keys import stored_credentials
from bot.engine.exchange_state import clock_listener, pause_listener, pause_loader
from bot.exchanges.base import ExchangeError
from bot.exchanges.feeds import FallbackFeed, OfflineFeed
from bot.exchanges.markets import gold_symbol
from bot.exchanges.paper import PaperExchange
from bot.exchanges.prices import CandleReplay, SimulatedMarket
from bot.exchanges.public_market import PublicMarket
from storage import outbox
from storage.db import Database
from storage.migrate import upgrade
from strategies.candles import CandleDataError, parse_candles_csv

if TYPE_CHECKING:  # imported when built: paper mode never loads ccxt
    from bot.exchanges.ccxt_exchange import CcxtExchange


def open_database(settings: Settings) -> Database:
    """The database, migrated; `UserError` in one line when it cannot be reached or opened."""
    return migrated(new_database(settings))


def new_database(settings: Settings) -> Database:
    """The database object, no statement run yet (`migrated` runs the first ones)."""
    url = settings.effective_database_url
    try:
        return Database(url)
    except OSError as exc:  # the SQLite file's folder cannot be made
        raise UserError(
            f"cannot open the database {_shown_url(url)}: {exc.strerror or exc}. Check "
            "DATABASE_URL (or DCABOT_DATA_DIR) and that its folder can be written"
        ) from None


def migrated(db: Database) -> Database:
    """`db` with every migration applied; closed, with a `UserError`, when it cannot be."""
    try:
        upgrade(db)
    except OperationalError as exc:
        db.dispose()
        reason = str(exc.orig).strip().splitlines()[0][:200] if exc.orig else type(exc).__name__
        raise UserError(
            f"cannot open the database {_shown_url(db.url)}: {reason}. Check DATABASE_URL (or "
            "DCABOT_DATA_DIR) and that the database server is running and reachable"
        ) from None
    return db


def _shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _api_url(settings: Settings) -> str:
    return {"binance": settings.binance_api_url, "okx": settings.okx_api_url}.get(
        settings.exchange, ""
    )


def _replay(path: Path, symbol: str, variable: str, clock: Clock) -> CandleReplay:
    try:
        candles = parse_candles_csv(path.read_text(encoding="utf-8"), source=path.name)
    except OSError as exc:
        raise UserError(f"{variable}: cannot read {path}: {exc.strerror}") from None
    except CandleDataError as exc:
        raise UserError(f"{variable}: {exc}") from None
    return CandleReplay(symbol, candles, path.name, clock)


def build_feed(settings: Settings, clock: Clock) -> OfflineFeed | FallbackFeed:
    """Prices for the paper exchange: a candles CSV, the simulated market, or the exchange."""
    if settings.prices_csv is not None:
        main = _replay(settings.prices_csv, settings.symbol, "DCABOT_PRICES_CSV", clock)
        more = {}
        if settings.gold_prices_csv is not None:
            gold = gold_symbol(settings.exchange)
            more[gold] = _replay(settings.gold_prices_csv, gold, "DCABOT_GOLD_PRICES_CSV", clock)
        return OfflineFeed(settings.exchange, main, more)
    simulated = SimulatedMarket(settings.simulated_seed, clock)
    if settings.price_source is PriceSource.SIMULATED:
        return OfflineFeed(settings.exchange, simulated)
    public = PublicMarket(
        settings.exchange,
        clock,
        base_url=_api_url(settings),
        timeout_s=min(settings.request_timeout_s, 10.0),
    )
    return FallbackFeed(
        public, simulated, clock, allow_simulated=settings.price_source is PriceSource.AUTO
    )


def circuit_alert(
    db: Database, clock: Clock, mode: str
) -> Callable[[bool, str, str], Awaitable[None]]:
    """The breaker's listener: an urgent outbox alert when trading pauses or resumes.

    The breaker lives in `bot/exchanges`, which writes nothing to storage; the alert is written
    here, in its own transaction (`Database.run`), and delivered by the outbox dispatcher.
    """

    async def on_circuit_change(opened: bool, exchange: str, reason: str) -> None:
        await db.transact(
            outbox.enqueue,
            kind="circuit_open" if opened else "circuit_closed",
            payload={"exchange": exchange, "mode": mode, "reason": reason},
            now=clock(),
            urgent=True,
        )

    return on_circuit_change


def build_ccxt_exchange(settings: Settings, db: Database, clock: Clock) -> CcxtExchange:
    """The real exchange for testnet or live, with the stored keys (live cannot run without)."""
    exchange_id, mode = settings.exchange, settings.mode.value
    keys = stored_credentials(db, settings, exchange_id, settings.mode.value)
    if keys is None and settings.mode is Mode.LIVE:
        raise UserError(
            f"live trading on {exchange_id} needs its API keys: add them with "
            f"`dcabot keys add {exchange_id}` (they are stored encrypted)"
        )
    from bot.exchanges.ccxt_exchange import CcxtExchange

    try:
        return CcxtExchange(
            exchange_id,
            mode,
            clock=clock,
            credentials=keys,
            base_url=_api_url(settings),
            timeout_s=settings.request_timeout_s,
            circuit_failures=settings.circuit_failures,
            circuit_cooldown=timedelta(seconds=settings.circuit_cooldown_s),
            on_circuit_change=circuit_alert(db, clock, mode),
            on_pause=pause_listener(db, clock, exchange_id, mode),
            load_pause=pause_loader(db, exchange_id, mode),
            on_clock=clock_listener(db, clock, exchange_id, mode),
        )
    except ExchangeError as exc:
        raise UserError(f"DCABOT_EXCHANGE={exchange_id}: {exc}") from None


def open_accounts(
    settings: Settings, *, clock: Clock = system_clock, db: Database | None = None
) -> Accounts:
    """An engine for every exchange in `DCABOT_EXCHANGES`, on one database; each reads the
    trend from `DCABOT_SIGNAL_EXCHANGE`'s engine. One exchange failing to open stops start-up
    with its one-line reason (nothing half-open is left behind)."""
    database = db or open_database(settings)
    engines: dict[str, Engine] = {}
    try:
        for name in settings.exchanges:
            engines[name] = open_engine(settings.for_exchange(name), clock=clock, db=database)
    except BaseException:  # the exchanges opened so far hold no connection yet (made at first use)
        if db is None:
            database.dispose()
        raise
    source = engines[settings.trend_exchange]
    for engine in engines.values():
        if engine is not source:
            engine.trend_source = source
    return Accounts(engines)


async def open_accounts_from_loop(settings: Settings, *, clock: Clock = system_clock
                                  ) -> Accounts:
    """`open_accounts` for async code: the migrations and the keys' reading run in the new
    database's `Database.run`, not on the event loop."""
    database = new_database(settings)
    try:
        return await database.run(_open_all, settings, clock, database)
    except BaseException:
        database.dispose()
        raise


def _open_all(settings: Settings, clock: Clock, database: Database) -> Accounts:
    return open_accounts(settings, clock=clock, db=migrated(database))


def open_engine(
    settings: Settings, *, clock: Clock = system_clock, db: Database | None = None
) -> Engine:
    """The engine for the configured mode: the paper exchange (with the real market's rules
    and prices where reachable), or the real exchange through ccxt for testnet and live."""
    database = db or open_database(settings)
    if settings.mode is not Mode.PAPER:
        try:
            real = build_ccxt_exchange(settings, database, clock)
        except UserError:
            if db is None:
                database.dispose()
            raise
        return Engine(settings=settings, db=database, exchange=real, clock=clock)
    feed = build_feed(settings, clock)
    exchange = PaperExchange(
        database,
        name=settings.exchange,
        feed=feed,
        taker_fee=settings.taker_fee,
        opening_balances={settings.quote_asset: settings.paper_start_balance},
        clock=clock,
    )
    return Engine(settings=settings, db=database, exchange=exchange, clock=clock)
