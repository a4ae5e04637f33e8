"""The reserve's use cases: set USDT aside, spend it on BTC, sell BTC into it.

The reserve is part of the exchange's USDT balance that DCA buys may not touch. Setting money
aside checks it is free (`funds`) under the account lock; spending it (a deploy) moves it from
the reserve into the order's hold in the intent's transaction, so two deploys at once cannot
both spend it; what the order did not use comes back (settlement).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from bot.engine.caps import capped_sale, capped_spend
from bot.engine.context import Engine
from bot.engine.errors import UserError, shown
from bot.engine.funds import (
    BalanceReading,
    Funds,
    funds_now,
    funds_under_lock,
    read_balances,
    require,
    under_account_lock,
)
from bot.engine.orders import OrderOutcome, OrderRequest, place_order
from bot.exchanges.base import BelowMinimum, OrderRejected
from bot.exchanges.quantize import check_cost, fmt_plain, plan_sell
from bot.i18n import _
from storage import ledger, outbox
from storage.models import ReserveEntry

RECENT_ROWS = 5


@dataclass(frozen=True, slots=True)
class ReserveView:
    exchange: str
    mode: str
    balance: Decimal
    quote: Funds
    recent: tuple[ReserveEntry, ...]

    @property
    def quote_free(self) -> Decimal:
        return self.quote.spendable


def check_exchange(engine: Engine, exchange: str | None) -> str:
    name = exchange or engine.exchange.name
    if name != engine.exchange.name:
        raise UserError(
            _("{text} is not an exchange this bot trades on; use {exchanges}").format(
                text=repr(shown(name)), exchanges=engine.exchange.name)
        )
    return name


def recorded_reserve(engine: Engine) -> Decimal:
    """The reserve as the ledger records it (no exchange asked)."""
    with engine.db.transaction() as session:
        return ledger.balance(session, engine.exchange.name, engine.exchange.mode)


async def reserve_view(engine: Engine) -> ReserveView:
    reading = await read_balances(engine)
    return await engine.db.transact(_view, engine, reading)


def _view(session: Session, engine: Engine, reading: BalanceReading) -> ReserveView:
    exchange = engine.exchange
    return ReserveView(
        exchange.name,
        exchange.mode,
        ledger.balance(session, exchange.name, exchange.mode),
        funds_now(session, engine, reading, engine.settings.quote_asset),
        tuple(ledger.latest(session, exchange.name, exchange.mode, RECENT_ROWS)),
    )


def set_aside(
    session: Session,
    engine: Engine,
    reading: BalanceReading,
    amount: Decimal,
    reason: str,
    note: str,
) -> Decimal:
    """Move free USDT into the reserve under the account lock; returns the new balance."""
    exchange = engine.exchange
    funds = funds_under_lock(session, engine, reading, engine.settings.quote_asset)
    require(funds, amount, "to set aside")
    entry = ledger.append(
        session,
        exchange=exchange.name,
        mode=exchange.mode,
        amount=amount,
        reason=reason,
        note=note,
        now=engine.clock(),
    )
    return funds.reserve + entry.amount


async def add_to_reserve(engine: Engine, amount: Decimal, *, requested_by: str) -> Decimal:
    """`/reserve add`: set free USDT aside. Returns the reserve's new balance."""
    if amount <= 0:
        raise UserError(_("Only a positive amount can be set aside; e.g. /reserve add 100"))

    def add(session: Session, reading: BalanceReading) -> Decimal:
        balance = set_aside(session, engine, reading, amount, "manual_add", requested_by)
        outbox.enqueue(
            session,
            kind="reserve_added",
            now=engine.clock(),
            payload={
                "exchange": engine.exchange.name,
                "mode": engine.exchange.mode,
                "amount": amount,
                "balance": balance,
                "requested_by": requested_by,
            },
        )
        return balance

    return await under_account_lock(engine, add)


async def deploy_reserve(
    engine: Engine, *, cause: str, cause_key: str, requested_by: str | None
) -> OrderOutcome:
    """Buy BTC with the whole reserve, once for `cause_key`. Raises `UserError` if it cannot.

    The order takes the reserve into its hold in the intent's transaction (`orders`), so two
    deploys at once cannot both spend it: the second finds the reserve emptied."""
    exchange, quote = engine.exchange, engine.settings.quote_asset
    amount = await engine.db.run(recorded_reserve, engine)
    if amount <= 0:
        raise UserError(_("The reserve is empty; nothing to deploy"))
    # above the cap, the rest stays in the reserve
    amount = await engine.db.run(capped_spend, engine, amount)
    try:
        check_cost(await exchange.market_rules(engine.symbol), amount)
    except BelowMinimum as exc:
        raise UserError(_("The reserve holds {amount} {quote}: {reason}").format(
            amount=fmt_plain(amount), quote=quote, reason=exc)) from None
    request = OrderRequest(
        cause=cause, cause_key=cause_key, side="buy", quote_amount=amount, requested_by=requested_by
    )
    return await place_order(engine, request)


async def check_sale(engine: Engine, quantity: Decimal) -> None:
    """Refuse, before anything is written or sent, a sale the market would refuse (below its
    minimum, above its maximum), in the asker's words."""
    symbol = engine.symbol
    rules = await engine.exchange.market_rules(symbol)
    try:
        plan_sell(rules, quantity, (await engine.exchange.price(symbol)).price)
    except OrderRejected as exc:
        raise UserError(str(exc)) from None


async def sell_into_reserve(
    engine: Engine, percent: Decimal, *, cause: str, cause_key: str, requested_by: str | None
) -> OrderOutcome:
    """Sell `percent` of the BTC free (not held by another sale); the proceeds go into the
    reserve (settlement)."""
    base = engine.settings.base_asset
    reading = await read_balances(engine)
    held = (await engine.db.transact(funds_now, engine, reading, base)).spendable
    quantity = held * percent / 100
    if quantity <= 0:
        raise UserError(_("No {asset} to sell").format(asset=base) if held <= 0
                        else _("A sell of 0% sells nothing"))
    quantity = await capped_sale(engine, quantity, engine.symbol)
    await check_sale(engine, quantity)
    request = OrderRequest(
        cause=cause,
        cause_key=cause_key,
        side="sell",
        base_amount=quantity,
        requested_by=requested_by,
    )
    return await place_order(engine, request)
