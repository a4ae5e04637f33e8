"""/status and /history: reading, never changing."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.cards import format as fmt
from bot.cards.alert_parts import side_word, status_word
from bot.cards.reply import Button, Field, Reply
from bot.chat.arguments import parse_count
from bot.chat.fiat import fiat_field
from bot.chat.registry import Invocation, Registry
from bot.chat.several_status import several_status_card
from bot.engine.history import MAX_HISTORY, recent_orders
from bot.engine.portfolio import PortfolioStatus, refreshing_status, remembered_status
from bot.engine.portfolio_total import portfolio_total
from bot.exchanges.base import ExchangeError
from bot.i18n import _
from bot.notify.health import alerts_field
from storage.models import Order

DEFAULT_HISTORY = 10
QUICK_S = 0.25  # a /status answer waits this long for fresh figures, then shows the last known
log = logging.getLogger(__name__)


async def _with_alerts(call: Invocation, card: Reply, value: Decimal | None = None, *,
                       quick: bool = False) -> Reply:
    """The card with the value in the owner's money (when set) and the alert delivery line;
    `quick` (an answer from the last known figures) waits for no rate from the exchange."""
    engine = call.services.engine
    alerts = await engine.db.run(alerts_field, engine.settings, engine.db, engine.clock())
    fiat = await fiat_field(call, value, read=not quick) if value is not None else None
    return dataclasses.replace(card, fields=(*card.fields, *([fiat] if fiat else []), alerts))


def status_card(status: PortfolioStatus, now: datetime | None = None) -> Reply:
    base, quote = status.base, status.quote
    pnl = status.unrealized_pnl
    pnl_text = _("n/a (nothing held)")
    if pnl is not None:
        pct = status.unrealized_pct
        pnl_text = fmt.money(pnl.quantize(fmt.CENT), quote) + (
            f" ({fmt.percent(pct)})" if pct is not None else ""
        )
    fields: tuple[Field, ...] = (
        Field(_("Mode"), f"{status.mode} · {status.exchange}"),
        Field(_("Price"), fmt.price(status.price, quote)),
        Field(_("{asset} held").format(asset=base), fmt.crypto(status.base_held, base)),
        Field(_("{asset} free").format(asset=quote), fmt.money(status.quote_free, quote)),
        Field(_("Reserve"), fmt.money(status.reserve, quote)),
        *((Field(_("Carried"), _("{amount} (small schedules waiting to reach the exchange's "
                                 "minimum; /schedule)").format(
                                     amount=fmt.money(status.quote_funds.carried, quote))),)
          if status.quote_funds.carried else ()),
        Field(
            _("Average cost"),
            fmt.money(status.average_cost.quantize(fmt.CENT), quote)
            if status.average_cost is not None
            else _("n/a"),
        ),
        Field(_("Value"), fmt.money(status.total_value.quantize(fmt.CENT), quote)),
        Field(_("Unrealized P&L"), pnl_text),
    )
    for mode, count in status.waiting_in_other_modes.items():
        fields += (
            Field(
                _("Waiting"),
                (_("{count} {mode} orders of an earlier run: start the bot in {mode} mode to "
                   "settle them") if count > 1
                 else _("{count} {mode} order of an earlier run: start the bot in {mode} mode "
                        "to settle it")).format(count=count, mode=mode),
            ),
        )
    footer = _("Price source: {source}").format(source=status.price.source)
    if status.price.simulated:
        footer = _("SIMULATED prices: no exchange reachable.") + " " + footer
    if status.as_of is not None and now is not None:
        age = int((now - status.as_of).total_seconds())
        footer = _("Last known figures, from {time} UTC ({age} s ago): the exchange is slow to "
                   "answer; the fresh ones follow.").format(
                       time=f"{status.as_of:%H:%M:%S}", age=age) + " " + footer
    return Reply(
        kind="status",
        title=_("Portfolio"),
        fields=fields,
        footer=footer,
        buttons=(Button(_("Refresh"), "/status"), Button(_("History"), "/history")),
    )


def history_line(order: Order, zone: ZoneInfo) -> str:
    base, quote = order.symbol.split("/")
    when = fmt.local_time(order.created_at, zone)
    if order.status == "filled" and order.filled_base is not None and order.filled_quote:
        what = _("{amount} for {cost}").format(amount=fmt.crypto(order.filled_base, base),
                                                cost=fmt.money(order.filled_quote, quote))
        if order.partial:
            what += " " + _("(partly filled)")
    else:
        what = f"{status_word(order.status)}: {order.error or _('no fill')}"
    where = (_("{exchange} {mode}, on the exchange") if order.cause == "external"
             else "{exchange} {mode}").format(exchange=order.exchange, mode=order.mode)
    return f"{when}  {side_word(order.side)} {order.symbol}  {what}  [{where}]"


def register(registry: Registry) -> None:
    @registry.add("status", "Holdings, average cost, value, P&L and reserve", "/status")
    async def status(call: Invocation) -> Reply:
        """Fresh figures when the exchange answers within `QUICK_S`; else at once the last
        known ones, labelled with their age, and the fresh card follows (`Reply.followup`)."""
        if call.services.accounts.several:
            settings = call.services.engine.settings
            total = await portfolio_total(call.services.accounts, QUICK_S)
            card = several_status_card(total, settings.base_asset, settings.quote_asset)
            first = next(iter(total.by_mode.values()))
            return await _with_alerts(call, card, first.value)
        engine = call.services.engine
        fresh, waited = refreshing_status(engine)
        try:
            now = await asyncio.wait_for(asyncio.shield(fresh), max(QUICK_S - waited, 0.001))
            return await _with_alerts(call, status_card(now), now.total_value)
        except TimeoutError:
            remembered = await remembered_status(engine)
            if remembered is None or (fresh.done() and not fresh.cancelled()
                                      and fresh.exception() is None):
                figures = await fresh  # none to show, or the fresh ones came meanwhile
                return await _with_alerts(call, status_card(figures), figures.total_value)

        async def followup() -> Reply | None:
            try:
                figures = await fresh
                return await _with_alerts(call, status_card(figures), figures.total_value)
            except ExchangeError as exc:
                log.info("/status: the fresh figures did not come: %s", exc)
                return None

        card = await _with_alerts(call, status_card(remembered, engine.clock()),
                                  remembered.total_value, quick=True)
        return dataclasses.replace(card, followup=asyncio.ensure_future(followup()))

    @registry.add("history", f"Your last orders (default {DEFAULT_HISTORY})", "/history [n]")
    async def history(call: Invocation) -> Reply:
        count = parse_count(
            call.args[0] if call.args else None,
            default=DEFAULT_HISTORY,
            maximum=MAX_HISTORY,
            example="/history 5",
        )
        engine = call.services.engine
        zone = engine.settings.zone
        several = call.services.accounts.several
        rows = await engine.db.run(recent_orders, engine, count, every_exchange=several)
        lines = tuple(history_line(order, zone) for order in rows)
        return Reply(
            kind="history",
            title=_("Last order") if len(rows) == 1 else _("Last {count} orders").format(
                count=len(rows)),
            lines=lines or (_("No orders yet. Try /buy 50."),),
        )
