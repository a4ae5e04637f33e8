"""/signal and /backtest: what the CDC trend says now, and what a strategy would have done.

Read-only, so viewers may use them. The numbers come from `bot.engine.analysis`, which runs the
same `strategies/` code as `dcabot signal` and `dcabot backtest`; this module only words them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bot.cards import format as fmt
from bot.cards.reply import Button, Field, Reply
from bot.chat.registry import Invocation, Registry
from bot.engine.analysis import (
    EMA_WARMUP_DAYS,
    ComparisonView,
    SignalView,
    compare_backtests,
    parse_strategy,
    trend_signal,
)
from bot.engine.days import parse_day
from bot.engine.errors import UserError
from bot.exchanges.base import PriceQuote
from strategies.backtest import BacktestResult, Strategy
from strategies.indicators import EMA_FAST_PERIOD, EMA_SLOW_PERIOD

BACKTEST_USAGE = "/backtest [strategy] [start] [end]"
SATOSHI = Decimal("0.00000001")


def _source_footer(quote: PriceQuote, what: str, offline_history: str = "") -> str:
    """Where the numbers came from; simulated ones are said to be so, loudly."""
    if offline_history:
        return f"No exchange reachable: candles are {offline_history}. Price now: SIMULATED."
    if quote.simulated:
        return f"SIMULATED market: these {what} are made up, not the exchange's. {quote.source}"
    return f"Price source: {quote.source}"


def signal_card(view: SignalView, quote_asset: str) -> Reply:
    day = f"{view.last_time:%Y-%m-%d}"
    zone = "none (EMAs warming up or tied)"
    if view.zone is not None and view.ema_fast is not None and view.ema_slow is not None:
        zone = (
            f"{view.zone.value} (EMA{EMA_FAST_PERIOD} {view.ema_fast:,.2f}, "
            f"EMA{EMA_SLOW_PERIOD} {view.ema_slow:,.2f})"
        )
    trend = "not set yet (no green or red candle so far)"
    if view.since is not None:
        days = (view.last_time - view.since.time).days + 1
        trend = (f"{view.since.trend.value} since {view.since.time:%Y-%m-%d} "
                 f"({days} day{'' if days == 1 else 's'})")
    flips = [f"  {flip.time:%Y-%m-%d}  {flip.trend.value}" for flip in view.flips]
    return Reply(
        kind="signal",
        title=f"CDC Action Zone · {view.symbol}",
        fields=(
            Field("Price", fmt.price(view.price, quote_asset)),
            Field("Last close", f"{fmt.money(view.close, quote_asset)} on {day}"),
            Field("Zone", zone),
            Field("Trend", trend),
        ),
        lines=(
            "DCA buys while the trend is up and saves into the reserve while it is down.",
            *(["Last flips:", *flips] if flips else ["No trend flips in this history."]),
        ),
        image=view.chart,
        footer=_source_footer(view.price, "prices and candles", view.offline_history),
        buttons=(Button("Refresh", "/signal"), Button("Backtest", "/backtest")),
    )


def _money(value: Decimal) -> str:
    return fmt.money(value.quantize(fmt.CENT), "USDT")


def backtest_card(view: ComparisonView) -> Reply:
    a, b = view.chosen, view.baseline

    def cost(r: BacktestResult) -> str:
        return "n/a" if r.avg_cost is None else _money(r.avg_cost)

    fields = [
        Field("Strategy", f"{a.strategy.value} vs {b.strategy.value}"),
        Field("Window", f"{a.start} to {a.end} ({a.candles:,} days)"),
        Field("Invested", _money(a.invested)),  # same schedule, so the same for both
        Field("Final value", f"{_money(a.final_value)} vs {_money(b.final_value)}"),
        Field("Return", f"{fmt.percent(a.return_pct)} vs {fmt.percent(b.return_pct)}"),
        Field(
            "Max drawdown",
            f"{fmt.rounded(a.max_drawdown_pct)}% vs {fmt.rounded(b.max_drawdown_pct)}%",
        ),
        Field(
            "BTC held",
            f"{fmt.crypto(a.btc.quantize(SATOSHI), 'BTC')} vs "
            f"{fmt.crypto(b.btc.quantize(SATOSHI), 'BTC')}",
        ),
    ]
    if a.strategy is Strategy.S4:
        gold = fmt.crypto(a.gold.quantize(SATOSHI), "PAXG")
        fields.append(Field("Gold held", f"{gold} ({len(a.rotations)} rotations)"))
    fields += [
        Field("Reserve", f"{_money(a.reserve)} vs {_money(b.reserve)}"),
        Field("Buys / sells", f"{a.buys} / {a.sells} vs {b.buys} / {b.sells}"),
        Field("Average cost", f"{cost(a)} vs {cost(b)}"),
    ]
    fee = fmt.number(view.fee * 100)
    lines = [
        f"{fmt.number(view.amount)} USDT every {view.every} days, fee {fee}%. Decisions use "
        "the closed candle before and fill at the next open."
    ]
    if Strategy.CDC in (a.strategy, b.strategy):
        lines.append(
            f"cdc saves into the reserve while the trend is down, sells "
            f"{fmt.number(view.sell_percent)}% of the BTC on a flip to down and deploys the "
            "reserve on a flip to up."
        )
    warmup = (a.start - view.history_start).days
    if warmup < EMA_WARMUP_DAYS:
        lines.append(
            f"Only {warmup} days of history before the start: the first zones may differ "
            "from those on a longer history."
        )
    return Reply(
        kind="backtest",
        title=f"Backtest: {a.strategy.value} vs {b.strategy.value}",
        fields=tuple(fields),
        lines=tuple(lines),
        image=view.chart,
        footer=_source_footer(view.price, "candles", view.offline_history),
        buttons=(Button("Signal", "/signal"),),
    )


def parse_backtest_args(args: tuple[str, ...]) -> tuple[Strategy, date | None, date | None]:
    """`[strategy] [start] [end]`; the strategy may be left out when a date comes first."""
    rest = list(args)
    strategy = Strategy.CDC
    if rest and not rest[0][:1].isdigit():  # a date always starts with a digit
        strategy = parse_strategy(rest.pop(0))
    if len(rest) > 2:
        raise UserError("Give at most a strategy, a start and an end: /backtest cdc 2023-01-01")
    start = parse_day(rest[0], "start") if rest else None
    end = parse_day(rest[1], "end") if len(rest) > 1 else None
    return strategy, start, end


def register(registry: Registry) -> None:
    @registry.add(
        "signal",
        "CDC zone and trend, since when, the last flips, with a chart",
        "/signal",
        group="analysis",
    )
    async def signal(call: Invocation) -> Reply:
        if call.args:
            raise UserError("/signal takes nothing after it")
        # the market every exchange takes the trend from (DCABOT_SIGNAL_EXCHANGE)
        engine = call.services.accounts.on(call.services.engine.settings.trend_exchange)
        return signal_card(await trend_signal(engine), engine.settings.quote_asset)

    @registry.add(
        "backtest",
        "Backtest dca, cdc or s4 (default cdc) beside plain DCA; dates YYYY-MM-DD",
        BACKTEST_USAGE,
        group="analysis",
    )
    async def backtest(call: Invocation) -> Reply:
        strategy, start, end = parse_backtest_args(call.args)
        return backtest_card(await compare_backtests(call.services.engine, strategy, start, end))
