"""A value also in the owner's money, for the cards that show one (`DCABOT_DISPLAY_FIAT`)."""

from __future__ import annotations

from decimal import Decimal

from bot.cards import format as fmt
from bot.cards.reply import Field
from bot.chat.registry import Invocation
from bot.engine.fiat import fiat_rate


async def fiat_field(call: Invocation, label: str, usdt: Decimal) -> Field | None:
    """`≈ 365,000.00 THB (36.5 a USDT, fixed (DCABOT_FIAT_RATE))`; None when no fiat is set."""
    engine = call.services.engine
    currency = engine.settings.display_fiat
    if not currency:
        return None
    rate = await fiat_rate(engine)
    if rate is None:
        return Field(f"{label} in {currency}", "the rate cannot be read now")
    shown = fmt.rounded(rate.of(usdt))
    return Field(f"{label} in {currency}", f"≈ {shown} {currency} ({rate.label(engine.clock())})")
