"""Building the engine from the settings: database (migrated on start), exchange, price feed."""

from __future__ import annotations

from pathlib import Path

from bot.config import Mode, PriceSource, Settings
from bot.engine.context import Clock, Engine, system_clock
from bot.engine.errors import UserError
from bot.engine.s4_watch import GOLD_SYMBOLS
from bot.exchanges.feeds import FallbackFeed, OfflineFeed
from bot.exchanges.paper import PaperExchange
from bot.exchanges.prices import CandleReplay, SimulatedMarket
from bot.exchanges.public_market import PublicMarket
from storage.db import Database
from storage.migrate import upgrade
from strategies.candles import CandleDataError, parse_candles_csv


def open_database(settings: Settings) -> Database:
    db = Database(settings.effective_database_url)
    upgrade(db)
    return db


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
            gold = GOLD_SYMBOLS.get(settings.exchange, "PAXG/USDT")
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


def open_engine(
    settings: Settings, *, clock: Clock = system_clock, db: Database | None = None
) -> Engine:
    """The engine for the configured mode. Paper is built here; real exchanges come with keys."""
    if settings.mode is not Mode.PAPER:
        raise UserError(
            f"DCABOT_MODE={settings.mode.value} needs exchange keys (`dcabot keys add "
            f"{settings.exchange}`); this version trades in paper mode only"
        )
    database = db or open_database(settings)
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
