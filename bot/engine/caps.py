"""The per-order cap of an exchange (`/strategy cap <exchange> <amount|off>`): no order on that
exchange spends, or brings in, more than the cap.

* /buy above the cap is refused before it asks for a confirmation, saying what is allowed;
* a scheduled run buys the cap (`dca_run`), a deploy spends the cap and leaves the rest in the
  reserve, a sale sells at most the cap's worth of BTC at the price now.

An S4 rotation is exempt: it moves the whole holding from one asset to the other, and a capped
rotation would leave the owner holding both.
"""

from __future__ import annotations

from decimal import Decimal

from bot.engine import strategy_settings
from bot.engine.context import Engine
from bot.engine.errors import UserError
from bot.exchanges.quantize import fmt_plain
from bot.i18n import _


def order_cap(engine: Engine) -> Decimal | None:
    return strategy_settings.current(engine).order_cap


def refuse_above_cap(engine: Engine, quote_amount: Decimal) -> None:
    """For an amount the owner typed: above the cap is a refusal that says what would do."""
    cap = order_cap(engine)
    if cap is not None and quote_amount > cap:
        name, quote = engine.exchange.name, engine.settings.quote_asset
        raise UserError(
            _("{amount} {quote} is above the per-order cap on {exchange} of {cap} {quote}: buy "
              "{cap} or less, or clear the cap with /strategy cap {exchange} off").format(
                amount=fmt_plain(quote_amount), quote=quote, exchange=name, cap=fmt_plain(cap))
        )


def capped_spend(engine: Engine, quote_amount: Decimal) -> Decimal:
    """What an order the bot sizes itself (a deploy) may spend."""
    cap = order_cap(engine)
    return quote_amount if cap is None else min(quote_amount, cap)


async def capped_sale(engine: Engine, base_amount: Decimal, symbol: str) -> Decimal:
    """What a sale may sell: at most the cap's worth at the price now."""
    cap = await engine.db.run(order_cap, engine)
    if cap is None:
        return base_amount
    price = (await engine.exchange.price(symbol)).price
    return min(base_amount, cap / price) if price > 0 else base_amount
