"""/status when the bot trades on several exchanges: each exchange, then the total."""

from __future__ import annotations

from bot.cards import format as fmt
from bot.cards.reply import Button, Field, Reply
from bot.engine.portfolio import PortfolioStatus
from bot.engine.portfolio_total import CENT, PortfolioTotal, Unreachable


def _exchange_fields(part: PortfolioStatus | Unreachable) -> tuple[Field, ...]:
    if isinstance(part, Unreachable):
        return (Field(f"{part.exchange} {part.mode}", f"cannot be read now: {part.reason}"),)
    base, quote, name = part.base, part.quote, f"{part.exchange} {part.mode}"
    average = (
        fmt.money(part.average_cost.quantize(CENT), quote) if part.average_cost is not None
        else "n/a"
    )
    held = f"{fmt.crypto(part.base_held, base)} at {fmt.price(part.price, quote)}"
    if part.as_of is not None:
        held += f" (as of {part.as_of:%H:%M:%S} UTC)"
    return (
        Field(name, held),
        Field(
            f"{part.exchange} {quote}",
            f"free {fmt.money(part.quote_free.quantize(CENT), quote)} · reserve "
            f"{fmt.money(part.reserve.quantize(CENT), quote)}",
        ),
        Field(
            f"{part.exchange} value",
            f"{fmt.money(part.total_value.quantize(CENT), quote)} · average cost {average}",
        ),
    )


def several_status_card(total: PortfolioTotal, base: str, quote: str) -> Reply:
    fields: list[Field] = []
    for part in total.parts:
        fields += _exchange_fields(part)
    groups = total.by_mode
    for mode, sums in groups.items():
        name = "Total" if len(groups) == 1 else f"Total {mode}"
        pnl = sums.unrealized_pnl
        fields += [
            Field(f"{name} {base}", fmt.crypto(sums.base_held, base)),
            Field(f"{name} {quote} free", fmt.money(sums.quote_free, quote)),
            Field(f"{name} reserve", fmt.money(sums.reserve, quote)),
            Field(f"{name} value", fmt.money(sums.value, quote)),
            Field(f"{name} unrealized P&L", fmt.money(pnl, quote) if pnl is not None else "n/a"),
        ]
    notes = []
    if not total.complete:
        notes.append("The total counts only the exchanges that answered.")
    if len(groups) > 1:
        notes.append("Paper and real money are totalled apart.")
    if any(p.price.simulated for p in total.answered):
        notes.append("SIMULATED prices where no exchange was reachable.")
    return Reply(
        kind="status",
        title="Portfolio",
        fields=tuple(fields),
        footer=" ".join(notes) or "Each exchange's figures are its own; the total adds them up.",
        buttons=(Button("Refresh", "/status"), Button("History", "/history")),
    )
