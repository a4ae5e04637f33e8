"""Schedule use cases: add, list, pause, resume, remove. The table is the scheduler's truth."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from sqlalchemy.orm import Session

from bot.config import Carry
from bot.engine import strategy_settings
from bot.engine.accounts import Accounts
from bot.engine.context import Engine
from bot.engine.errors import UserError, shown
from bot.engine.reserve import check_exchange
from bot.engine.schedule_spec import ScheduleSpec, parse_spec
from bot.exchanges.base import BelowMinimum
from bot.exchanges.quantize import check_cost, fmt_plain
from bot.i18n import _
from storage import carry, ledger, outbox
from storage import schedules as rows
from storage.models import Schedule

MODES = ("cdc", "plain", "s4")
PAST = {"pause": "paused", "resume": "resumed", "remove": "removed"}
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class ScheduleView:
    id: int
    days: str
    local_time: str
    amount: Decimal
    exchange: str
    mode: str
    paused: bool
    next_run: datetime | None
    leg_of: int | None = None  # the first leg's id when the schedule is split across exchanges
    label: str | None = None  # the owner's name for it ("Payday")
    carried: Decimal = Decimal(0)  # set aside by earlier runs below the minimum (carry_run)
    minimum: Decimal | None = None  # the market's minimum order, when the amount is below it

    @property
    def group(self) -> int:
        """The id the owner knows the schedule by: its first leg's."""
        return self.leg_of or self.id


def _view(engine: Engine, row: Schedule) -> ScheduleView:
    spec = ScheduleSpec(row.days, row.local_time)
    upcoming = None if row.paused else spec.next_due(engine.settings.zone, engine.clock())
    return ScheduleView(
        row.id, row.days, row.local_time, row.amount, row.exchange, row.mode, row.paused,
        upcoming, row.leg_of, row.label,
    )


def split_evenly(amount: Decimal, exchanges: tuple[str, ...], quote_step: Decimal = CENT
                 ) -> dict[str, Decimal]:
    """`amount` shared among `exchanges` in equal parts of `quote_step`; what does not divide
    goes to the first, so the legs add up to `amount` exactly."""
    share = (amount / len(exchanges)).quantize(quote_step, rounding=ROUND_DOWN)
    legs = dict.fromkeys(exchanges, share)
    legs[exchanges[0]] += amount - share * len(exchanges)
    return legs


def list_schedules(engine: Engine) -> list[ScheduleView]:
    with engine.db.transaction() as session:
        views = [_view(engine, row) for row in rows.active(session)]
        carries = {
            name: carry.by_schedule(session, name, engine.settings.mode_for(name).value)
            for name in {view.exchange for view in views}
        }
    return [replace(view, carried=carries[view.exchange].get(view.id, Decimal(0)))
            for view in views]


async def add_schedule(
    engine: Engine,
    days: str,
    local_time: str,
    amount: Decimal,
    exchange: str | None,
    mode: str | None,
    *,
    requested_by: str,
) -> ScheduleView:
    """A schedule on one exchange of a one-exchange engine (the replay's, the tests')."""
    legs = {check_exchange(engine, exchange): amount}
    views = await add_schedule_legs(
        Accounts.of(engine), days, local_time, legs, mode, requested_by=requested_by
    )
    return views[0]


async def _check_leg(engine: Engine, amount: Decimal, mode: str) -> Decimal | None:
    """A leg's amount within its exchange's cap and above its market's minimum order; below
    it, the market's minimum when runs carry (`DCABOT_CARRY`, not for s4), else refused."""
    name = engine.exchange.name
    cap = (await engine.db.run(strategy_settings.current, engine)).order_cap
    limit = cap or engine.settings.max_order
    if amount > limit:
        raise UserError(
            _("{amount} is above the per-order cap of {cap} {quote} on {exchange}").format(
                amount=fmt_plain(amount), cap=fmt_plain(limit),
                quote=engine.settings.quote_asset, exchange=name)
        )
    try:
        check_cost(await engine.exchange.market_rules(engine.symbol), amount)
    except BelowMinimum as exc:
        if engine.settings.carry is Carry.ON and mode != "s4" and exc.minimum_cost:
            return exc.minimum_cost
        raise UserError(f"{name}: {exc}") from None
    return None


async def add_schedule_legs(
    accounts: Accounts,
    days: str,
    local_time: str,
    legs: dict[str, Decimal],
    mode: str | None,
    *,
    requested_by: str,
) -> list[ScheduleView]:
    """One schedule buying on one or several exchanges: a row per leg (each its own run, run
    key and outcome), all written in one transaction, or none when one leg is refused."""
    spec = parse_spec(days, local_time)
    mode = (mode or "cdc").lower()
    if mode not in MODES:
        raise UserError(_("{text} is not a mode; use cdc (trend-gated), plain or s4").format(
            text=repr(shown(mode))))
    if not legs:
        raise UserError(_("Name at least one exchange, e.g. /schedule add mon 07:00 100 binance"))
    minimums = {name: await _check_leg(accounts.on(name), amount, mode)
                for name, amount in legs.items()}
    engine, now = accounts.default, accounts.clock()
    made = await engine.db.run(_write_legs, engine, spec, legs, mode, now, requested_by)
    return [replace(view, minimum=minimums[view.exchange]) for view in made]


def _write_legs(
    engine: Engine, spec: ScheduleSpec, legs: dict[str, Decimal], mode: str, now: datetime,
    requested_by: str,
) -> list[ScheduleView]:
    with engine.db.transaction() as session:
        made: list[Schedule] = []
        for name, amount in legs.items():
            row = Schedule(
                days=spec.days,
                local_time=spec.local_time,
                amount=amount,
                exchange=name,
                mode=mode,
                paused=False,
                removed=False,
                created_at=now,
                leg_of=made[0].id if made else None,
            )
            session.add(row)
            session.flush()
            made.append(row)
            if len(legs) > 1 and row.leg_of is None:
                row.leg_of = row.id
        outbox.enqueue(
            session,
            kind="schedule_changed",
            now=now,
            payload={"schedule_id": made[0].id, "change": "added", "requested_by": requested_by},
        )
        return [_view(engine, row) for row in made]


def change_schedule(
    engine: Engine, schedule_id: int, change: str, *, requested_by: str,
    exchange: str | None = None,
) -> list[ScheduleView]:
    """`pause`, `resume` or `remove` a schedule: every leg of it, or its leg on `exchange`.
    Returns the legs left (all of them when the whole schedule was removed)."""
    now = engine.clock()
    with engine.db.transaction() as session:
        group = rows.legs(session, schedule_id)
        if not group:
            raise UserError(_("There is no schedule #{id}; /schedule lists them").format(
                id=schedule_id))
        legs = [leg for leg in group if exchange is None or leg.exchange == exchange]
        if not legs:
            raise UserError(_("Schedule #{id} buys nothing on {exchange}; /schedule lists each "
                              "leg's exchange").format(id=schedule_id,
                                                       exchange=shown(exchange or "")))
        released = Decimal(0)
        if change == "remove":  # the accounts' locks first, as an order's intent takes them
            _lock_carrying_accounts(session, legs, now)
        for row in legs:
            if change == "pause":
                row.paused = True
            elif change == "resume":
                row.paused = False
            else:
                row.removed = True
                released += _release_carry(session, row, now)
        outbox.enqueue(
            session,
            kind="schedule_changed",
            now=now,
            payload={"schedule_id": schedule_id, "change": PAST[change],
                     "requested_by": requested_by, "exchange": exchange,
                     **({"carry_released": released} if released else {})},
        )
        left = [row for row in group if not row.removed]
        return [_view(engine, row) for row in left or group]


def _lock_carrying_accounts(session: Session, legs: list[Schedule], now: datetime) -> None:
    """Lock every account a leg carries money on, in one order, before any schedule row is
    changed: intents, carries and settlements lock the account first and the schedule second,
    so a removal must too, or the two could wait for each other."""
    accounts = sorted({(row.exchange, mode) for row in legs
                       for mode in carry.modes_of(session, row.exchange, row.id)})
    for exchange, mode in accounts:
        ledger.account(session, exchange, mode, now)


def _release_carry(session: Session, row: Schedule, now: datetime) -> Decimal:
    """A removed schedule's carry is free money again, in every mode it carries some (paper and
    live apart); returns how much. Each account's lock is taken first, as an order's intent
    takes it, so a buy spending this carry is either written before (and its change or refund
    then finds the schedule removed: free money) or finds the carry gone."""
    released = Decimal(0)
    for mode in carry.modes_of(session, row.exchange, row.id):  # accounts locked already
        carried = carry.of_schedule(session, row.exchange, mode, row.id)
        if carried > 0:
            carry.append(session, exchange=row.exchange, mode=mode, schedule_id=row.id,
                         amount=-carried, reason=carry.RELEASED, note="schedule removed",
                         now=now)
            released += carried
    return released


MAX_LABEL = 40


def label_schedule(engine: Engine, schedule_id: int, label: str) -> list[ScheduleView]:
    """Name a schedule (every leg of it); an empty label clears the name."""
    text = " ".join(label.split())
    if len(text) > MAX_LABEL or any(not c.isprintable() for c in text):
        raise UserError(_("A label is at most {count} characters on one line, e.g. "
                          "/schedule label {id} Payday").format(count=MAX_LABEL, id=schedule_id))
    with engine.db.transaction() as session:
        legs = rows.legs(session, schedule_id)
        if not legs:
            raise UserError(_("There is no schedule #{id}; /schedule lists them").format(
                id=schedule_id))
        for row in legs:
            row.label = text or None
        return [_view(engine, row) for row in legs]
