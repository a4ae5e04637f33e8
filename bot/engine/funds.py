"""Money rules: what an account may spend, held in the transaction that checks it.

Free money on an account (an exchange in one mode) is

    the exchange's free balance  -  the reserve  -  the carry  -  every active hold

and an order takes a hold on what it will spend in the same transaction that checks this, under
the account row's lock (see `storage.holds`). The balance itself comes from the exchange, over
the network, so it is read *before* the lock; it is trusted only if no hold was settled on the
account since (the account's `epoch` did not move), because a settlement is when the exchange
balance and the holds change together. Otherwise the balance is read again.

Money set aside in the reserve can only be spent by the reserve's own orders (a deploy), which
move it from the reserve into a hold; everything else sees it as taken. So is the carry of small
schedules (`storage.carry`): only the carrying schedule's own buy spends it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from sqlalchemy.orm import Session

from bot.engine.context import Engine
from bot.engine.errors import UserError
from bot.exchanges.quantize import fmt_plain
from bot.i18n import _
from storage import carry, holds, ledger

T = TypeVar("T")
ATTEMPTS = 5


class NotEnoughFree(UserError):
    """An order (or a transfer into the reserve) asks for more than the account has free."""

    def __init__(self, message: str, available: Decimal) -> None:
        super().__init__(message)
        self.available = available


class BalanceMoved(Exception):
    """An order settled between reading the balance and taking the lock: read it again."""


@dataclass(frozen=True, slots=True)
class BalanceReading:
    """The exchange's free balances, and the account's epoch read just before them."""

    balances: dict[str, Decimal]
    epoch: int

    def free(self, asset: str) -> Decimal:
        return self.balances.get(asset, Decimal(0))


@dataclass(frozen=True, slots=True)
class Funds:
    """An asset's money on the account: the free balance, the reserve, what orders hold, and
    what small schedules carry."""

    asset: str
    balance: Decimal
    reserve: Decimal
    held: Decimal
    carried: Decimal = Decimal(0)

    @property
    def available(self) -> Decimal:
        return self.balance - self.reserve - self.carried - self.held

    @property
    def spendable(self) -> Decimal:
        return max(self.available, Decimal(0))


async def read_balances(engine: Engine) -> BalanceReading:
    """The exchange's balances, with the epoch that says whether they can be trusted later."""
    exchange = engine.exchange
    seen = await engine.db.transact(ledger.epoch, exchange.name, exchange.mode)
    return BalanceReading(await exchange.balances(), seen)


def funds_under_lock(
    session: Session, engine: Engine, reading: BalanceReading, asset: str
) -> Funds:
    """The asset's funds, with the account row locked; `BalanceMoved` if `reading` is stale."""
    exchange = engine.exchange
    account = ledger.account(session, exchange.name, exchange.mode, engine.clock())
    if account.epoch != reading.epoch:
        raise BalanceMoved
    return _funds(session, engine, reading, asset, account.balance)


def funds_now(session: Session, engine: Engine, reading: BalanceReading, asset: str) -> Funds:
    """The asset's funds for a view (no lock, no staleness check)."""
    exchange = engine.exchange
    reserve = ledger.balance(session, exchange.name, exchange.mode)
    return _funds(session, engine, reading, asset, reserve)


def _funds(
    session: Session, engine: Engine, reading: BalanceReading, asset: str, reserve: Decimal
) -> Funds:
    exchange = engine.exchange
    held = holds.held(session, exchange.name, exchange.mode).get(asset, Decimal(0))
    if asset != engine.settings.quote_asset:
        return Funds(asset, reading.free(asset), Decimal(0), held)
    carried = carry.total(session, exchange.name, exchange.mode)
    return Funds(asset, reading.free(asset), reserve, held, carried)


async def under_account_lock(engine: Engine, work: Callable[[Session, BalanceReading], T]) -> T:
    """Run `work` in one transaction with a fresh balance reading it may trust.

    `work` checks and holds (through `funds_under_lock`), and writes whatever must commit with
    the hold: an order intent, a ledger row, an alert.
    """
    for _attempt in range(ATTEMPTS):
        reading = await read_balances(engine)
        try:
            return await engine.db.transact(work, reading)
        except BalanceMoved:
            continue
    raise UserError(
        _("Orders kept settling while your balance was checked; try again in a moment")
    )


def require(funds: Funds, amount: Decimal, what: str) -> None:
    """Refuse `amount` above what is free, saying what is free and why; `what` is "to spend",
    "to set aside" or "to sell"."""
    if amount <= funds.available:
        return
    parts = [_("{amount} {asset} on the exchange").format(amount=fmt_plain(funds.balance),
                                                          asset=funds.asset)]
    if funds.reserve:
        parts.append(_("{amount} set aside in the reserve").format(
            amount=fmt_plain(funds.reserve)))
    if funds.carried:
        parts.append(_("{amount} carried by small schedules").format(
            amount=fmt_plain(funds.carried)))
    if funds.held:
        parts.append(_("{amount} held by orders in flight").format(amount=fmt_plain(funds.held)))
    refusals = {
        "to spend": _("Only {free} {asset} is free to spend ({parts}); you asked for {amount}"),
        "to set aside": _("Only {free} {asset} is free to set aside ({parts}); you asked for "
                          "{amount}"),
        "to sell": _("Only {free} {asset} is free to sell ({parts}); you asked for {amount}"),
    }
    refusal = refusals.get(what, "Only {free} {asset} is free " + what
                           + " ({parts}); you asked for {amount}")
    raise NotEnoughFree(
        refusal.format(free=fmt_plain(funds.spendable), asset=funds.asset,
                       parts="; ".join(parts), amount=fmt_plain(amount)),
        funds.spendable,
    )
