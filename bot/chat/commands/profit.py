"""/profit, /daily, /weekly, /monthly: what was put in, what it is worth, made and paid."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.cards import format as fmt
from bot.cards.reply import Button, Field, Reply
from bot.charts_profit import render_profit_chart
from bot.chat.arguments import parse_count
from bot.chat.fiat import fiat_field
from bot.chat.registry import Invocation, Registry
from bot.engine.analysis import render_chart
from bot.engine.context import Engine
from bot.engine.errors import UserError, shown
from bot.engine.number_text import read_count
from bot.engine.profit import cause_shown
from bot.engine.profit_history import profit_history
from bot.engine.profit_report import PeriodRow, ProfitView, period_rows, period_start, profit_view
from bot.i18n import _

TABLES = {"daily": ("day", 7, 90), "weekly": ("week", 8, 52), "monthly": ("month", 6, 24)}


def _since(engine: Engine, text: str | None) -> tuple[datetime | None, str]:
    """The period's start and its name; None for `all`."""
    word = (text or "all").lower()
    now, zone = engine.clock(), engine.settings.zone
    if word == "all":
        return None, _("since the start")
    if word == "today":
        return period_start(now, "day", zone), _("today")
    if word == "week":
        return period_start(now, word, zone), _("this week")
    if word == "month":
        return period_start(now, word, zone), _("this month")
    if word == "year":
        return period_start(now, "month", zone).replace(month=1), _("this year")
    days = read_count(word.removesuffix("d"), maximum=3650) if word.endswith("d") else None
    if not days:
        raise UserError(_("{word} is not a period; use all, today, week, month, year or a number "
                          "of days like 30d, e.g. /profit 30d").format(
                              word=repr(shown(text or ""))))
    return now - timedelta(days=days), _("the last {days} days").format(days=days)


def _fees_text(view: ProfitView, quote: str) -> str:
    parts = [f"{cause_shown(cause)} {fmt.cents(value, quote)}"
             for cause, value in sorted(view.fees.items())]
    return fmt.cents(view.fees_total, quote) + (f" ({', '.join(parts)})" if parts else "")


def _profit_fields(view: ProfitView, quote: str, name: str) -> tuple[Field, ...]:
    pct = view.return_pct
    figures = (
        (_("Invested"), fmt.cents(view.invested, quote)),
        (_("Value now"), fmt.cents(view.value, quote)),
        (_("Realized P&L"), fmt.cents(view.realized, quote, signed=True)),
        (_("Unrealized P&L"), fmt.cents(view.unrealized, quote, signed=True)),
        (_("Fees"), _fees_text(view, quote)),
        (_("Bought / sold"), f"{fmt.cents(view.bought, quote)} / {fmt.cents(view.sold, quote)}"),
        (_("Reserve"), fmt.cents(view.reserve, quote)),
        (_("Return since start"), fmt.percent(pct) if pct is not None else _("n/a")),
    ) + (((_("Sold without cost"), _("{amount} of coins the books never saw bought (not "
                                     "counted as profit)").format(
                                         amount=fmt.cents(view.uncosted, quote))),)
         if view.uncosted else ())
    return tuple(Field(f"{name} {label.lower()}" if name else label, value)
                 for label, value in figures)


def _row_line(row: PeriodRow, unit: str, quote: str) -> str:
    label = fmt.month(row.start) if unit == "month" else fmt.day(row.start)
    text = _("{period}  bought {bought}  sold {sold}  fees {fees}  value {value}  P&L {pnl}")
    return text.format(
        period=label, bought=fmt.rounded(row.bought), sold=fmt.rounded(row.sold),
        fees=fmt.rounded(row.fees), value=fmt.rounded(row.value),
        pnl=fmt.cents(row.pnl, quote, signed=True))


def register(registry: Registry) -> None:
    @registry.add(
        "profit",
        "Invested, value, P&L, fees by cause, return; period: all, today, week, month, year, 30d",
        "/profit [period], /profit chart [exchange]",
        group="portfolio",
    )
    async def profit(call: Invocation) -> Reply:
        if call.args and call.args[0].lower() == "chart":
            return await _chart(call)
        if len(call.args) > 1:
            raise UserError(_("Give at most one period: all, today, week, month, year or a "
                              "number of days like 30d"))
        accounts = call.services.accounts
        quote = accounts.settings.quote_asset
        fields: list[Field] = []
        name = _("since the start")
        for engine in accounts:
            since, name = _since(engine, call.args[0] if call.args else None)
            view = await profit_view(engine, since)
            label = f"{engine.exchange.name} {engine.mode}" if accounts.several else ""
            fields += _profit_fields(view, quote, label)
            fiat = await fiat_field(call, view.value, now=True, account=label)
            fields += [fiat] if fiat else []
        return Reply(
            kind="status",
            title=_("Profit, {period}").format(period=name),
            fields=tuple(fields),
            footer=_("Average-cost method; fees valued in USDT when paid. Bought, sold, realized "
                     "P&L and fees are for the period; the rest is now."),
            buttons=(Button(_("Status"), "/status"), Button(_("Monthly"), "/monthly")),
        )

    for command, (unit, default, most) in TABLES.items():
        _register_table(registry, command, unit, default, most)


async def _chart(call: Invocation) -> Reply:
    """Value against invested since the first buy, with buys, sales and flips marked."""
    if len(call.args) > 2:
        raise UserError(_("Use /profit chart, or /profit chart okx for one exchange"))
    engine = call.services.accounts.on(call.args[1] if len(call.args) > 1 else None)
    history = await profit_history(engine)
    if history is None:
        raise UserError(_("Nothing was bought yet, so there is nothing to chart; try /buy 50"))
    chart = await render_chart(engine, lambda path: render_profit_chart(history, path))
    last = history.points[-1]
    return Reply(
        kind="status",
        title=_("Performance, {exchange} {mode}").format(exchange=engine.exchange.name,
                                                          mode=engine.mode),
        lines=(_("Value {value} USDT for {invested} USDT invested.").format(
            value=f"{last.value:,.2f}", invested=f"{last.invested:,.2f}"),),
        image=chart,
        footer=_("SIMULATED prices.") if history.simulated else _("Value at each daily close."),
    )


def _register_table(registry: Registry, command: str, unit: str, default: int, most: int
                    ) -> None:
    @registry.add(
        command,
        f"Per {unit}: bought, sold, fees, value at its end, P&L (default {default})",
        f"/{command} [n]",
        group="portfolio",
    )
    async def table(call: Invocation) -> Reply:
        count = parse_count(call.args[0] if call.args else None, default=default,
                            maximum=most, example=f"/{command} {default}")
        accounts = call.services.accounts
        quote = accounts.settings.quote_asset
        lines: list[str] = []
        for engine in accounts:
            if accounts.several:
                lines.append(f"{engine.exchange.name} {engine.mode}")
            rows = await period_rows(engine, unit, count)
            lines += [_row_line(row, unit, quote) for row in reversed(rows)]
        return Reply(
            kind="history",
            title=_table_title(unit).format(count=count),
            lines=tuple(lines),
            footer=_table_footer(unit).format(quote=quote),
        )


def _table_title(unit: str) -> str:
    if unit == "day":
        return _("Daily, last {count}")
    if unit == "week":
        return _("Weekly, last {count}")
    return _("Monthly, last {count}")


def _table_footer(unit: str) -> str:
    if unit == "day":
        return _("Amounts in {quote}; value is the holdings at each day's end; P&L is realized "
                 "plus the change of unrealized.")
    if unit == "week":
        return _("Amounts in {quote}; value is the holdings at each week's end; P&L is realized "
                 "plus the change of unrealized.")
    return _("Amounts in {quote}; value is the holdings at each month's end; P&L is realized "
             "plus the change of unrealized.")
