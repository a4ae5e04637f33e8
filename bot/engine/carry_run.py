"""Small savers: a scheduled amount below the exchange's minimum order is carried, not refused.

At a run the schedule's carry (`storage.carry`) and its amount are planned together as one buy,
quantized to the market's step at the current price: when that buy would be below the market's
minimum, the amount joins the carry (set aside under the account lock, like the reserve: no other
order may spend it) and the run is done, saying how much is carried of how much is needed; when
it is not, one buy spends the amount and the whole carry (`OrderRequest.from_carry`), and what
the step leaves unspent is carried again (settlement). So every scheduled cent is bought or
carried. `DCABOT_CARRY=off` turns it off (such runs are skipped and say why).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from bot.config import Carry
from bot.engine.context import Engine
from bot.engine.fill_context import trend_context
from bot.engine.funds import BalanceReading, funds_under_lock, require, under_account_lock
from bot.exchanges.base import BelowMinimum, MarketRules, OrderRejected
from bot.exchanges.quantize import plan_buy
from storage import carry, outbox, schedules


@dataclass(frozen=True, slots=True)
class CarryPlan:
    carried: Decimal  # the schedule's carry now
    below: BelowMinimum | None  # the amount and the carry together are still too small
    blocked: str = ""  # why carrying cannot help (the per-order cap is below the minimum)

    @property
    def needed(self) -> Decimal | None:
        return self.below.minimum_cost if self.below is not None else None


async def plan(engine: Engine, schedule_id: int, amount: Decimal, symbol: str | None,
               cap: Decimal | None) -> CarryPlan | None:
    """None when the schedule carries nothing and its amount is buyable (or carrying is off and
    nothing is carried); else the carry to spend with this run's amount, or why it must be
    carried once more. With `DCABOT_CARRY=off` what was carried before is still spent."""
    if symbol not in (None, engine.symbol):
        return None
    exchange = engine.exchange
    carried = await engine.db.transact(carry.of_schedule, exchange.name, exchange.mode,
                                       schedule_id)
    if not carried and engine.settings.carry is not Carry.ON:
        return None
    total = amount + carried
    if cap is not None:
        total = min(total, max(cap, amount))
    rules = await exchange.market_rules(engine.symbol)
    price = await exchange.price(engine.symbol)
    try:
        plan_buy(rules, total, price.price)
    except BelowMinimum as exc:
        if engine.settings.carry is not Carry.ON:
            return None  # the run is refused as below the minimum, as before carrying
        if cap is not None and _below(rules, cap, price.price):
            return CarryPlan(carried, exc, blocked=(
                f"the per-order cap of {cap} {engine.settings.quote_asset} on {exchange.name} "
                f"is below its minimum order ({exc}); raise it with /strategy cap"))
        return CarryPlan(carried, exc)
    except OrderRejected:  # above a maximum: the order itself says so
        return None
    if not carried:
        return None
    return CarryPlan(total - amount, None)


def _below(rules: MarketRules, quote: Decimal, price: Decimal) -> bool:
    try:
        plan_buy(rules, quote, price)
    except BelowMinimum:
        return True
    except OrderRejected:
        return False
    return False


async def carry_over(engine: Engine, key: str, schedule_id: int, amount: Decimal,
                     planned: CarryPlan) -> str:
    """Set the run's amount aside in its schedule's carry, finish the run, tell the owner;
    returns the run's outcome."""
    exchange, quote = engine.exchange, engine.settings.quote_asset
    carried = planned.carried + amount
    needed = planned.needed
    outcome = f"carried {amount}: {carried} of {needed or 'the minimum'} {quote} needed"

    def keep(session: Session, reading: BalanceReading) -> str:
        funds = funds_under_lock(session, engine, reading, quote)
        now = engine.clock()
        if not carry.schedule_active(session, schedule_id):  # removed while the run was on
            schedules.finish(session, key, schedules.DONE, "skipped: the schedule was removed",
                             now)
            return "skipped: the schedule was removed"
        require(funds, amount, "to carry")
        carry.append(session, exchange=exchange.name, mode=exchange.mode,
                     schedule_id=schedule_id, amount=amount, reason=carry.CARRIED, note=key,
                     now=now)
        schedules.finish(session, key, schedules.DONE, outcome, now)
        leg = schedules.find(session, schedule_id)
        outbox.enqueue(
            session,
            kind="dca_carried",
            now=now,
            payload={
                "exchange": exchange.name,
                "mode": exchange.mode,
                "amount": amount,
                "carried": carried,
                "needed": needed,
                "why": str(planned.below),
                "run": key,
                "at": now,
                "schedule_id": (leg.leg_of or leg.id) if leg else schedule_id,
                "schedule_label": leg.label if leg else None,
                **trend_context(engine),
            },
        )
        return outcome

    return await under_account_lock(engine, keep)
