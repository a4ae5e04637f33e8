"""A value also in the owner's money, for the cards that show one (`DCABOT_DISPLAY_FIAT`)."""

from __future__ import annotations

from decimal import Decimal

from bot.cards import format as fmt
from bot.cards.reply import Field
from bot.chat.registry import Invocation
from bot.engine.fiat import fiat_rate
from bot.i18n import _


def _label(currency: str, now: bool, account: str) -> str:
    if not now:
        return _("Value in {currency}").format(currency=currency)
    if not account:
        return _("Value now in {currency}").format(currency=currency)
    return _("{account} value now in {currency}").format(account=account.capitalize(),
                                                         currency=currency)


async def fiat_field(call: Invocation, usdt: Decimal, *, now: bool = False,
                     account: str = "", read: bool = True) -> Field | None:
    """`≈ 365,000.00 THB (36.5 a USDT, fixed (DCABOT_FIAT_RATE))`; None when no fiat is set.
    Labelled `Value in THB`, or with `now`, `Value now in THB` (`Okx paper value now in THB`
    for one `account` of several). Without `read`, only a rate already known (`fiat_rate`)."""
    engine = call.services.engine
    currency = engine.settings.display_fiat
    if not currency:
        return None
    label = _label(currency, now, account)
    rate = await fiat_rate(engine, read=read)
    if rate is None:
        return Field(label, _("the rate cannot be read now"))
    shown = fmt.rounded(rate.of(usdt))
    return Field(label, f"≈ {shown} {currency} ({rate.label(engine.clock())})")
