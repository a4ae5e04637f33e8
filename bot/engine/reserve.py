"""The reserve's use cases: set USDT aside, spend it on BTC, sell BTC into it.

The reserve is part of the exchange's USDT balance that DCA buys may not touch. Spending it holds
the amount first (a ledger row, under the account row's lock, in the order intent's transaction),
so two deploys at once cannot both spend it; what the order did not use comes back (settlement).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from bot.engine import settlement
from bot.engine.context import Engine
from bot.engine.errors import UserError
from bot.engine.orders import OrderOutcome, OrderRequest, place_order
from bot.exchanges.base import BelowMinimum
from bot.exchanges.quantize import check_cost, fmt_plain
from storage import ledger, outbox
from storage.models import Order, ReserveEntry

RECENT_ROWS = 5


@dataclass(frozen=True, slots=True)
class ReserveView:
    exchange: str
    balance: Decimal
    quote_balance: Decimal
    recent: tuple[ReserveEntry, ...]

    @property
    def quote_free(self) -> Decimal:
        return max(self.quote_balance - self.balance, Decimal(0))


def check_exchange(engine: Engine, exchange: str | None) -> str:
    name = exchange or engine.exchange.name
    if name != engine.exchange.name:
        raise UserError(
            f"{name!r} is not an exchange this bot trades on; use {engine.exchange.name}"
        )
    return name


async def reserve_view(engine: Engine) -> ReserveView:
    held = await engine.exchange.balances()
    with engine.db.transaction() as session:
        name = engine.exchange.name
        return ReserveView(
            name,
            ledger.balance(session, name),
            held.get(engine.settings.quote_asset, Decimal(0)),
            tuple(ledger.latest(session, name, RECENT_ROWS)),
        )


def set_aside(
    session: Session,
    engine: Engine,
    amount: Decimal,
    quote_balance: Decimal,
    reason: str,
    note: str,
) -> Decimal:
    """Move free USDT into the reserve under the account lock; returns the new balance."""
    name = engine.exchange.name
    account = ledger.account(session, name, engine.clock())
    free = quote_balance - account.balance
    quote = engine.settings.quote_asset
    if amount > free:
        raise UserError(
            f"Only {fmt_plain(max(free, Decimal(0)))} {quote} is free to set aside "
            f"(the reserve already holds {fmt_plain(account.balance)}); "
            "add at most that"
        )
    ledger.append(
        session, exchange=name, amount=amount, reason=reason, note=note, now=engine.clock()
    )
    return account.balance


async def add_to_reserve(engine: Engine, amount: Decimal, *, requested_by: str) -> Decimal:
    """`/reserve add`: set free USDT aside. Returns the reserve's new balance."""
    quote_balance = (await engine.exchange.balances()).get(engine.settings.quote_asset, Decimal(0))
    with engine.db.transaction() as session:
        balance = set_aside(session, engine, amount, quote_balance, "manual_add", requested_by)
        outbox.enqueue(
            session,
            kind="reserve_added",
            now=engine.clock(),
            payload={
                "exchange": engine.exchange.name,
                "amount": amount,
                "balance": balance,
                "requested_by": requested_by,
            },
        )
    return balance


async def deploy_reserve(
    engine: Engine, *, cause: str, cause_key: str, requested_by: str | None
) -> OrderOutcome:
    """Buy BTC with the whole reserve, once for `cause_key`. Raises `UserError` if it cannot."""
    name, quote = engine.exchange.name, engine.settings.quote_asset
    with engine.db.transaction() as session:
        amount = ledger.balance(session, name)
    if amount <= 0:
        raise UserError("The reserve is empty; nothing to deploy")
    try:
        check_cost(await engine.exchange.market_rules(engine.symbol), amount)
    except BelowMinimum as exc:
        raise UserError(f"The reserve holds {fmt_plain(amount)} {quote}: {exc}") from None

    def hold(session: Session, order: Order) -> None:
        if ledger.account(session, name, engine.clock()).balance < amount:
            raise UserError("The reserve changed meanwhile; look at /reserve and try again")
        settlement.hold_reserve(session, name, amount, order.client_order_id, engine.clock())

    request = OrderRequest(
        cause=cause, cause_key=cause_key, side="buy", quote_amount=amount, requested_by=requested_by
    )
    return await place_order(engine, request, before_send=hold)


async def sell_into_reserve(
    engine: Engine, percent: Decimal, *, cause: str, cause_key: str, requested_by: str | None
) -> OrderOutcome:
    """Sell `percent` of the BTC held; the proceeds go into the reserve (settlement)."""
    base = engine.settings.base_asset
    held = (await engine.exchange.balances()).get(base, Decimal(0))
    quantity = held * percent / 100
    if quantity <= 0:
        raise UserError(f"No {base} to sell" if held <= 0 else "A sell of 0% sells nothing")
    request = OrderRequest(
        cause=cause,
        cause_key=cause_key,
        side="sell",
        base_amount=quantity,
        requested_by=requested_by,
    )
    return await place_order(engine, request)
