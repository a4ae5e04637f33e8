"""Buy now: check a quote amount against balance, limits and market rules, then buy once."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.engine.caps import refuse_above_cap
from bot.engine.context import Engine
from bot.engine.errors import UserError
from bot.engine.funds import require
from bot.engine.orders import OrderOutcome, OrderRequest, place_order
from bot.engine.portfolio import portfolio_status
from bot.exchanges.base import BelowMinimum, PriceQuote
from bot.exchanges.quantize import fmt_plain, plan_buy
from bot.i18n import _


@dataclass(frozen=True, slots=True)
class BuyPreview:
    """What a buy would do at the current price, shown before the owner confirms."""

    quote_amount: Decimal
    price: PriceQuote
    estimated_base: Decimal
    estimated_fee: Decimal
    quote_free: Decimal
    mode: str
    exchange: str


async def preview_buy(engine: Engine, quote_amount: Decimal) -> BuyPreview:
    """Validate a buy of `quote_amount`; raise `UserError` saying what is allowed instead."""
    settings = engine.settings
    quote = settings.quote_asset
    if quote_amount > settings.max_order:
        raise UserError(
            _("{amount} {quote} is above the per-order limit of {limit} {quote} "
              "(DCABOT_MAX_ORDER)").format(amount=fmt_plain(quote_amount), quote=quote,
                                           limit=fmt_plain(settings.max_order))
        )
    await engine.db.run(refuse_above_cap, engine, quote_amount)
    status = await portfolio_status(engine)
    require(status.quote_funds, quote_amount, "to spend")
    rules = await engine.exchange.market_rules(engine.symbol)
    try:
        plan = plan_buy(rules, quote_amount, status.price.price)
    except BelowMinimum as exc:
        raise UserError(str(exc)) from None
    fee = plan.amount * settings.taker_fee
    return BuyPreview(
        quote_amount=quote_amount,
        price=status.price,
        estimated_base=plan.amount - fee,
        estimated_fee=fee,
        quote_free=status.quote_free,
        mode=engine.mode,
        exchange=engine.exchange.name,
    )


async def buy_now(
    engine: Engine, quote_amount: Decimal, *, confirmation: str, requested_by: str
) -> OrderOutcome:
    """Buy for `quote_amount`; the confirmation token makes a second tap the same order."""
    await preview_buy(engine, quote_amount)  # the balance may have changed since the preview
    return await place_order(
        engine,
        OrderRequest(
            cause="buy_now",
            cause_key=confirmation,
            side="buy",
            quote_amount=quote_amount,
            requested_by=requested_by,
        ),
    )
