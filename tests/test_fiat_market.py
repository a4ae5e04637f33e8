"""Values in the owner's money read from a market of the exchange (`DCABOT_FIAT_MARKET`), end
to end: a paper account whose prices come from the fake Binance's public REST API through the
real ccxt, the fake listing USDT/TRY as Binance does. /status and /profit show the value in TRY
at that market's rate, labelled with its source and age; the rate is kept 5 minutes; when the
market cannot be read the card says so (or uses `DCABOT_FIAT_RATE`, labelled fixed) and the
rest of the card still answers."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.cards.reply import Reply
from bot.chat.roles import Role, User
from storage.db import Database
from storage.migrate import upgrade
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings
from tests.fakes.exchange import DATA_DIR, FakeExchange, Fault, RecordedRequest

ADMIN = User("telegram", "1", Role.ADMIN)
TICKER = "GET /api/v3/ticker/24hr"  # what ccxt's binance.fetch_ticker calls for a spot market
BTC_PRICE = Decimal(100_000)
RATE = Decimal("41.25")
LABEL = "41.25 a USDT, binance USDT/TRY"
SLOW_S = 1.0

OpenBot = Callable[..., Bot]


def usdttry_listing(btcusdt: dict[str, Any]) -> dict[str, Any]:
    """USDTTRY shaped from Binance's exchangeInfo (GET /api/v3/exchangeInfo): the BTCUSDT entry
    of tests/data with the symbol, assets, precisions and filters of a USDT/fiat market (the
    filter values are plausible, not copied from the live listing)."""
    entry = copy.deepcopy(btcusdt)
    entry.update(symbol="USDTTRY", baseAsset="USDT", quoteAsset="TRY", baseAssetPrecision=8,
                 quotePrecision=8, quoteAssetPrecision=8, baseCommissionPrecision=8,
                 quoteCommissionPrecision=8, isMarginTradingAllowed=False)
    filters: dict[str, dict[str, Any]] = {
        "PRICE_FILTER": {"minPrice": "0.01000000", "maxPrice": "1000.00000000",
                         "tickSize": "0.01000000"},
        "LOT_SIZE": {"minQty": "0.10000000", "maxQty": "9222449.00000000",
                     "stepSize": "0.10000000"},
        "MARKET_LOT_SIZE": {"minQty": "0.00000000", "maxQty": "1500000.00000000",
                            "stepSize": "0.00000000"},
        "NOTIONAL": {"minNotional": "10.00000000", "maxNotional": "90000000.00000000"},
    }
    entry["filters"] = [{**f, **filters.get(f["filterType"], {})} for f in entry["filters"]]
    return entry


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeExchange]:
    """The fake Binance listing the shipped subset plus USDTTRY; USDT at 41.25 TRY."""
    info = json.loads((DATA_DIR / "binance_exchange_info_subset.json").read_text())
    btcusdt = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    info["symbols"].append(usdttry_listing(btcusdt))
    path = tmp_path / "exchange_info_with_usdttry.json"
    path.write_text(json.dumps(info))
    with FakeExchange("binance", markets=path) as started:
        started.set_price("BTC/USDT", BTC_PRICE)
        started.set_price("USDT/TRY", RATE)
        yield started
    assert not started.errors


@pytest.fixture
async def open_bot(tmp_path: Path, clock: Clock, fake: FakeExchange) -> AsyncIterator[OpenBot]:
    """`open_bot(db, **settings)`: a paper account priced by the fake's public API (no simulated
    fallback unless `price_source="auto"`), shown in TRY from USDT/TRY; closed afterwards."""
    opened: list[Bot] = []

    def open_(db: Database, **overrides: Any) -> Bot:
        values: dict[str, Any] = {
            "price_source": "exchange", "binance_api_url": fake.url, "request_timeout_s": 10,
            "display_fiat": "TRY", "fiat_market": "USDT/TRY", **overrides}
        opened.append(make_bot(make_settings(tmp_path, **values), db, clock))
        return opened[-1]

    yield open_
    fake.clear_faults()
    for bot in opened:
        await bot.services.accounts.close()


async def fields_of(bot: Bot, command: str) -> dict[str, str]:
    reply: Reply | None = await bot.say(command)
    if reply is not None and reply.followup is not None:  # the exchange was slow: the fresh one
        reply = await reply.followup
    assert reply is not None
    return {f.label: f.value for f in reply.fields}


def usdt(text: str) -> Decimal:
    """`9,999.95 USDT` -> 9999.95."""
    amount, unit = text.split()
    assert unit == "USDT", text
    return Decimal(amount.replace(",", ""))


def in_try(value: Decimal, rate: Decimal, label: str) -> str:
    return f"≈ {value * rate:,.2f} TRY ({label})"


def rate_reads(fake: FakeExchange) -> list[RecordedRequest]:
    return [r for r in fake.requests_to(TICKER) if r.query.get("symbol") == "USDTTRY"]


async def buy_50(bot: Bot) -> None:
    ask = await bot.say("/buy 50")
    await bot.registry.confirm(bot.services, ADMIN, ask.confirm_token or "", accept=True)


async def test_status_and_profit_show_the_value_in_try_at_the_markets_rate(
        db: Database, fake: FakeExchange, open_bot: OpenBot) -> None:
    bot = open_bot(db)
    await buy_50(bot)  # 0.0005 BTC at 100,000, less the fee of 0.0000005 BTC
    status = await fields_of(bot, "/status")
    assert status["Value"] == "9,999.95 USDT"
    assert status["Value in TRY"] == "≈ 412,497.94 TRY (41.25 a USDT, binance USDT/TRY, just now)"
    assert status["Value in TRY"] == in_try(usdt(status["Value"]), RATE, f"{LABEL}, just now")
    profit = await fields_of(bot, "/profit")
    assert profit["Value now"] == "49.95 USDT"
    assert profit["Value now in TRY"] == (
        "≈ 2,060.44 TRY (41.25 a USDT, binance USDT/TRY, just now)")
    assert len(rate_reads(fake)) == 1  # /profit used the rate /status read a moment before


async def test_the_rate_is_kept_five_minutes_then_read_again(
        db: Database, clock: Clock, fake: FakeExchange, open_bot: OpenBot) -> None:
    bot = open_bot(db)
    first = await fields_of(bot, "/status")
    value = usdt(first["Value"])
    assert first["Value in TRY"] == "≈ 412,500.00 TRY (41.25 a USDT, binance USDT/TRY, just now)"
    fake.set_price("USDT/TRY", "41.80")
    clock.advance(minutes=3)
    kept = await fields_of(bot, "/status")
    assert kept["Value in TRY"] == in_try(value, RATE, f"{LABEL}, 3 min ago")
    assert len(rate_reads(fake)) == 1  # not asked again
    clock.advance(minutes=3)  # 6 minutes after the read: too old to keep
    fresh = await fields_of(bot, "/status")
    # ccxt reads "41.80000000" as the float 41.8: the label shows the rate as 41.8
    assert fresh["Value in TRY"] == (
        f"≈ {value * Decimal('41.8'):,.2f} TRY (41.8 a USDT, binance USDT/TRY, just now)")
    assert len(rate_reads(fake)) == 2
    profit = await fields_of(bot, "/profit")
    assert profit["Value now in TRY"] == "≈ 0.00 TRY (41.8 a USDT, binance USDT/TRY, just now)"


def fail_the_rate_read(fake: FakeExchange) -> None:
    """/status reads the BTC/USDT ticker, then (for the TRY value) the USDT/TRY one, on the same
    endpoint: the first passes untouched (a 0 s delay), the second is answered 503."""
    fake.inject(TICKER, Fault.slow(0), times=1)
    fake.inject(TICKER, Fault.server_error(503), times=1)


def assert_only_the_rate_read_failed(fake: FakeExchange) -> None:
    last_two = fake.requests_to(TICKER)[-2:]
    assert [(r.query.get("symbol"), r.status) for r in last_two] == [
        ("BTCUSDT", 200), ("USDTTRY", 503)]


async def test_when_the_market_cannot_be_read_the_card_says_so_and_still_answers(
        db: Database, clock: Clock, fake: FakeExchange, open_bot: OpenBot) -> None:
    bot = open_bot(db)
    await fields_of(bot, "/status")  # the exchange's markets and prices are known
    clock.advance(minutes=6)  # the rate it read is too old to keep
    fail_the_rate_read(fake)
    status = await fields_of(bot, "/status")
    assert_only_the_rate_read_failed(fake)
    assert status["Value in TRY"] == "the rate cannot be read now"
    assert status["Value"] == "10,000.00 USDT"
    assert status["Price"] == "100,000.00 USDT" and "Alerts" in status
    # a failure is not kept: the next /status reads the market again
    again = await fields_of(bot, "/status")
    assert again["Value in TRY"] == in_try(Decimal(10_000), RATE, f"{LABEL}, just now")


async def test_with_a_fixed_rate_too_a_failed_read_falls_back_to_it_labelled_fixed(
        db: Database, clock: Clock, fake: FakeExchange, open_bot: OpenBot) -> None:
    bot = open_bot(db, fiat_rate=Decimal("40.5"))
    first = await fields_of(bot, "/status")
    assert first["Value in TRY"] == in_try(Decimal(10_000), RATE, f"{LABEL}, just now")
    clock.advance(minutes=6)
    fail_the_rate_read(fake)
    status = await fields_of(bot, "/status")
    assert_only_the_rate_read_failed(fake)
    assert status["Value in TRY"] == "≈ 405,000.00 TRY (40.5 a USDT, fixed (DCABOT_FIAT_RATE))"
    assert status["Value"] == "10,000.00 USDT"


# --- two bugs found while writing these tests, each reproduced by a test that failed before its
# fix: a failed fiat read put the paper account's prices on the simulated market, and the quick
# /status waited for the fiat market's ticker ----------------------------------------------------


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """The checks below do not depend on the database: SQLite only, to keep the file quick."""
    database = Database(f"sqlite:///{tmp_path / 'dcabot.db'}")
    upgrade(database)
    yield database
    database.dispose()


@contextmanager
def setup_checks() -> Iterator[None]:
    """Checks of how the failure is reached: failing one says so apart from the real check."""
    try:
        yield
    except AssertionError as exc:
        pytest.fail(f"the setup did not hold: {exc}")


@pytest.mark.parametrize("failure", ["one 503", "a market the exchange does not list"])
async def test_a_failed_rate_read_leaves_the_paper_prices_on_the_exchange(
        failure: str, sqlite_db: Database, clock: Clock, fake: FakeExchange,
        open_bot: OpenBot) -> None:
    if failure == "one 503":
        bot = open_bot(sqlite_db, price_source="auto")
        await fields_of(bot, "/status")
        clock.advance(minutes=6)
        fail_the_rate_read(fake)
        failed = (await fields_of(bot, "/status"))["Value in TRY"]
        with setup_checks():
            assert_only_the_rate_read_failed(fake)
    else:  # the fake lists no USDT/BRL: as with a fiat the exchange has no market for
        bot = open_bot(sqlite_db, price_source="auto", display_fiat="BRL",
                       fiat_market="USDT/BRL")
        failed = (await fields_of(bot, "/status"))["Value in BRL"]
    with setup_checks():
        assert failed == "the rate cannot be read now"
    clock.advance(minutes=1)
    after = await bot.say("/status")
    price = {f.label: f.value for f in after.fields}["Price"]
    await buy_50(bot)
    held = (await bot.balances())["BTC"]
    seen = ("SIMULATED" in after.footer, price, held)
    assert seen == (False, "100,000.00 USDT", Decimal("0.0004995")), (after.footer, *seen)


async def test_the_quick_status_waits_for_no_rate_read(
        sqlite_db: Database, clock: Clock, fake: FakeExchange, open_bot: OpenBot) -> None:
    bot = open_bot(sqlite_db)
    await fields_of(bot, "/status")
    clock.advance(minutes=6)
    fake.inject(TICKER, Fault.slow(SLOW_S), times=None)
    started = time.perf_counter()
    quick = await bot.say("/status")
    took = time.perf_counter() - started
    if quick.followup is not None:
        await quick.followup
    with setup_checks():
        assert quick.footer.startswith("Last known figures"), quick.footer
    assert took < 0.8, f"the quick answer took {took:.2f} s (the exchange takes {SLOW_S} s)"
    kept = {f.label: f.value for f in quick.fields}["Value in TRY"]
    assert kept.endswith("(41.25 a USDT, binance USDT/TRY, 6 min ago)"), kept  # labelled
