"""/signal and /backtest: what the CDC trend says now, and what a strategy would have done.

Read-only, so viewers may use them. The numbers come from `bot.engine.analysis`, which runs the
same `strategies/` code as `dcabot signal` and `dcabot backtest`; this module only words them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bot.cards import format as fmt
from bot.cards.alert_parts import zone_word
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
from bot.i18n import _
from strategies.backtest import BacktestResult, Strategy
from strategies.indicators import EMA_FAST_PERIOD, EMA_SLOW_PERIOD

BACKTEST_USAGE = "/backtest [strategy] [start] [end]"
SATOSHI = Decimal("0.00000001")


def _source_footer(quote: PriceQuote, candles_only: bool, offline_history: str = "") -> str:
    """Where the numbers came from; simulated ones are said to be so, loudly."""
    if offline_history:
        return _("No exchange reachable: candles are {history}. Price now: SIMULATED.").format(
            history=offline_history)
    if quote.simulated:
        if candles_only:
            return _("SIMULATED market: these candles are made up, not the exchange's. "
                     "{source}").format(source=quote.source)
        return _("SIMULATED market: these prices and candles are made up, not the exchange's. "
                 "{source}").format(source=quote.source)
    return _("Price source: {source}").format(source=quote.source)


def _flip_line(day: str, trend: str) -> str:
    """`  2024-01-05  up`: whole phrases, as `up` and `down` alone mean more than a trend."""
    return "  " + (_("{day}  up") if trend == "up" else _("{day}  down")).format(day=day)


def _trend_since(trend: str, day: str, days: int) -> str:
    """`up since 2024-01-05 (3 days)`."""
    if trend == "up":
        text = _("up since {day} (1 day)") if days == 1 else _("up since {day} ({days} days)")
    else:
        text = (_("down since {day} (1 day)") if days == 1
                else _("down since {day} ({days} days)"))
    return text.format(day=day, days=days)


def signal_card(view: SignalView, quote_asset: str) -> Reply:
    day = fmt.day(view.last_time)
    zone = _("none (EMAs warming up or tied)")
    if view.zone is not None and view.ema_fast is not None and view.ema_slow is not None:
        zone = (
            f"{zone_word(view.zone.value)} (EMA{EMA_FAST_PERIOD} {view.ema_fast:,.2f}, "
            f"EMA{EMA_SLOW_PERIOD} {view.ema_slow:,.2f})"
        )
    trend = _("not set yet (no green or red candle so far)")
    if view.since is not None:
        days = (view.last_time - view.since.time).days + 1
        trend = _trend_since(view.since.trend.value, fmt.day(view.since.time), days)
    flips = [_flip_line(fmt.day(flip.time), flip.trend.value) for flip in view.flips]
    return Reply(
        kind="signal",
        title=f"CDC Action Zone · {view.symbol}",
        fields=(
            Field(_("Price"), fmt.price(view.price, quote_asset)),
            Field(_("Last close"), _("{value} on {day}").format(
                value=fmt.money(view.close, quote_asset), day=day)),
            Field(_("Zone"), zone),
            Field(_("Trend"), trend),
        ),
        lines=(
            _("DCA buys while the trend is up and saves into the reserve while it is down."),
            *([_("Last flips:"), *flips] if flips else [_("No trend flips in this history.")]),
        ),
        image=view.chart,
        footer=_source_footer(view.price, False, view.offline_history),
        buttons=(Button(_("Refresh"), "/signal"), Button(_("Backtest"), "/backtest")),
    )


def _money(value: Decimal) -> str:
    return fmt.money(value.quantize(fmt.CENT), "USDT")


def _versus(a: str, b: str) -> str:
    return _("{a} vs {b}").format(a=a, b=b)


def backtest_card(view: ComparisonView) -> Reply:
    a, b = view.chosen, view.baseline

    def cost(r: BacktestResult) -> str:
        return _("n/a") if r.avg_cost is None else _money(r.avg_cost)

    fields = [
        Field(_("Strategy"), _versus(a.strategy.value, b.strategy.value)),
        Field(_("Window"), _("{start} to {end} ({days} days)").format(
            start=a.start, end=a.end, days=f"{a.candles:,}")),
        Field(_("Invested"), _money(a.invested)),  # same schedule, so the same for both
        Field(_("Final value"), _versus(_money(a.final_value), _money(b.final_value))),
        Field(_("Return"), _versus(fmt.percent(a.return_pct), fmt.percent(b.return_pct))),
        Field(
            _("Max drawdown"),
            _versus(f"{fmt.rounded(a.max_drawdown_pct)}%", f"{fmt.rounded(b.max_drawdown_pct)}%"),
        ),
        Field(
            _("{asset} held").format(asset="BTC"),
            _versus(fmt.crypto(a.btc.quantize(SATOSHI), "BTC"),
                    fmt.crypto(b.btc.quantize(SATOSHI), "BTC")),
        ),
    ]
    if a.strategy is Strategy.S4:
        gold = fmt.crypto(a.gold.quantize(SATOSHI), "PAXG")
        fields.append(Field(_("Gold held"), _("{gold} ({count} rotations)").format(
            gold=gold, count=len(a.rotations))))
    fields += [
        Field(_("Reserve"), _versus(_money(a.reserve), _money(b.reserve))),
        Field(_("Buys / sells"), _versus(f"{a.buys} / {a.sells}", f"{b.buys} / {b.sells}")),
        Field(_("Average cost"), _versus(cost(a), cost(b))),
    ]
    fee = fmt.number(view.fee * 100)
    lines = [
        _("{amount} USDT every {every} days, fee {fee}%. Decisions use the closed candle before "
          "and fill at the next open.").format(amount=fmt.number(view.amount), every=view.every,
                                                fee=fee)
    ]
    if Strategy.CDC in (a.strategy, b.strategy):
        lines.append(
            _("cdc saves into the reserve while the trend is down, sells {percent}% of the BTC "
              "on a flip to down and deploys the reserve on a flip to up.").format(
                  percent=fmt.number(view.sell_percent))
        )
    warmup = (a.start - view.history_start).days
    if warmup < EMA_WARMUP_DAYS:
        lines.append(
            _("Only {days} days of history before the start: the first zones may differ from "
              "those on a longer history.").format(days=warmup)
        )
    return Reply(
        kind="backtest",
        title=_("Backtest: {a} vs {b}").format(a=a.strategy.value, b=b.strategy.value),
        fields=tuple(fields),
        lines=tuple(lines),
        image=view.chart,
        footer=_source_footer(view.price, True, view.offline_history),
        buttons=(Button(_("Signal"), "/signal"),),
    )


def parse_backtest_args(args: tuple[str, ...]) -> tuple[Strategy, date | None, date | None]:
    """`[strategy] [start] [end]`; the strategy may be left out when a date comes first."""
    rest = list(args)
    strategy = Strategy.CDC
    if rest and not rest[0][:1].isdigit():  # a date always starts with a digit
        strategy = parse_strategy(rest.pop(0))
    if len(rest) > 2:
        raise UserError(_("Give at most a strategy, a start and an end: /backtest cdc "
                          "2023-01-01"))
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
            raise UserError(_("/signal takes nothing after it"))
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
