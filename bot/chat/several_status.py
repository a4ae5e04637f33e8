"""/status when the bot trades on several exchanges: each exchange, then the total."""

from __future__ import annotations

from bot.cards import format as fmt
from bot.cards.reply import Button, Field, Reply
from bot.engine.portfolio import PortfolioStatus
from bot.engine.portfolio_total import CENT, PortfolioTotal, Unreachable
from bot.i18n import _


def _exchange_fields(part: PortfolioStatus | Unreachable) -> tuple[Field, ...]:
    if isinstance(part, Unreachable):
        return (Field(f"{part.exchange} {part.mode}",
                      _("cannot be read now: {reason}").format(reason=part.reason)),)
    base, quote, name = part.base, part.quote, f"{part.exchange} {part.mode}"
    average = (
        fmt.money(part.average_cost.quantize(CENT), quote) if part.average_cost is not None
        else _("n/a")
    )
    held = _("{amount} at {price}").format(amount=fmt.crypto(part.base_held, base),
                                           price=fmt.price(part.price, quote))
    if part.as_of is not None:
        held += " " + _("(as of {time} UTC)").format(time=f"{part.as_of:%H:%M:%S}")
    return (
        Field(name, held),
        Field(
            f"{part.exchange} {quote}",
            _("free {free} · reserve {reserve}").format(
                free=fmt.money(part.quote_free.quantize(CENT), quote),
                reserve=fmt.money(part.reserve.quantize(CENT), quote)),
        ),
        Field(
            _("{exchange} value").format(exchange=part.exchange),
            _("{value} · average cost {average}").format(
                value=fmt.money(part.total_value.quantize(CENT), quote), average=average),
        ),
    )


def _total_fields(name: str, base: str, quote: str, sums: PortfolioTotal) -> list[Field]:
    """The total of one mode (`name` is empty when every exchange trades in the same mode)."""
    pnl = sums.unrealized_pnl
    if name:
        labels = (_("Total {mode} {asset}").format(mode=name, asset=base),
                  _("Total {mode} {asset} free").format(mode=name, asset=quote),
                  _("Total {mode} reserve").format(mode=name),
                  _("Total {mode} value").format(mode=name),
                  _("Total {mode} unrealized P&L").format(mode=name))
    else:
        labels = (_("Total {asset}").format(asset=base),
                  _("Total {asset} free").format(asset=quote),
                  _("Total reserve"), _("Total value"), _("Total unrealized P&L"))
    values = (fmt.crypto(sums.base_held, base), fmt.money(sums.quote_free, quote),
              fmt.money(sums.reserve, quote), fmt.money(sums.value, quote),
              fmt.money(pnl, quote) if pnl is not None else _("n/a"))
    return [Field(label, value) for label, value in zip(labels, values, strict=True)]


def several_status_card(total: PortfolioTotal, base: str, quote: str) -> Reply:
    fields: list[Field] = []
    for part in total.parts:
        fields += _exchange_fields(part)
    groups = total.by_mode
    for mode, sums in groups.items():
        fields += _total_fields("" if len(groups) == 1 else mode, base, quote, sums)
    notes = []
    if not total.complete:
        notes.append(_("The total counts only the exchanges that answered."))
    if len(groups) > 1:
        notes.append(_("Paper and real money are totalled apart."))
    if any(p.price.simulated for p in total.answered):
        notes.append(_("SIMULATED prices where no exchange was reachable."))
    return Reply(
        kind="status",
        title=_("Portfolio"),
        fields=tuple(fields),
        footer=" ".join(notes)
        or _("Each exchange's figures are its own; the total adds them up."),
        buttons=(Button(_("Refresh"), "/status"), Button(_("History"), "/history")),
    )
