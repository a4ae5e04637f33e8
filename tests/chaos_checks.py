"""What a chaos year must show (see `tests/chaos_year.py`), computed from the database and from the
fake exchange's own record, independently of the bot's code paths.

* Every due run has exactly one final outcome (done or missed) and exactly one final alert.
* No order was placed twice: every order on the fake has a distinct client order id, and each is
  one filled order row with the same amounts.
* The books equal the fills: BTC and USDT moved by the recorded fills equal what the fake's
  account moved; the reserve ledger sums to the recorded reserve and is backed by USDT.
* No request reached the fake inside a ban window.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from bot.engine.dca_run import run_key
from storage import ledger
from storage.models import Order, OrderFee, OutboxAlert, ScheduleRun
from tests.chaos_year import OPENING_USDT, START, World

FINAL_KINDS = {"dca_bought", "dca_reserved", "dca_carried", "schedule_missed", "order_failed",
               "below_minimum"}


@dataclass
class Verdict:
    runs_due: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    orders_on_exchange: int = 0
    duplicate_orders: int = 0
    ban_violations: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def outcome_kind(run: ScheduleRun) -> str:
    if run.status == "missed":
        return "missed"
    text = run.outcome
    for word, kind in (("bought", "bought"), ("to reserve", "saved to the reserve"),
                       ("skipped", "skipped"), ("failed", "failed")):
        if word in text:
            return kind
    return f"other: {text[:40]}"


def check(world: World) -> Verdict:
    verdict = Verdict()
    year, db, fake = world.year, world.db, world.fake
    due = [START + timedelta(weeks=w, hours=7) for w in range(year.weeks)]
    verdict.runs_due = len(due)
    with db.transaction() as session:
        runs = {r.due_at: r for r in session.scalars(select(ScheduleRun))}
        alerts = list(session.scalars(select(OutboxAlert).where(OutboxAlert.recipient.is_(None))))
        rows = list(session.scalars(select(Order)))
        fees = list(session.scalars(select(OrderFee)))
        reserve = ledger.balance(session, year.exchange_id, "live")
        reserve_sum = ledger.ledger_sum(session, year.exchange_id, "live")
    finals = _final_alerts_by_run(alerts, rows)
    for when in due:
        run = runs.get(when)
        if run is None:
            verdict.problems.append(f"no outcome for the run due {when:%Y-%m-%d}")
            continue
        if run.status not in ("done", "missed"):
            verdict.problems.append(f"run {run.run_key} ended {run.status}: {run.outcome}")
        verdict.outcomes[outcome_kind(run)] += 1
        count = finals.get(run.run_key, 0)
        if count != 1:
            verdict.problems.append(f"run {run.run_key} has {count} final alerts")
    _check_orders(verdict, fake.orders, rows)
    _check_books(verdict, world, rows, fees, reserve, reserve_sum)
    verdict.ban_violations = fake.ban_violations if year.exchange_id == "binance" else 0
    if verdict.ban_violations:
        verdict.problems.append(f"{verdict.ban_violations} requests inside a ban window")
    if year.errors:
        verdict.problems += [f"unexpected error: {e}" for e in year.errors]
    return verdict


def _final_alerts_by_run(alerts: list[OutboxAlert], rows: list[Order]) -> Counter[str]:
    runs_of_orders = {o.client_order_id: o.cause_key.split("#")[0] for o in rows}
    counted: Counter[str] = Counter()
    for alert in alerts:
        if alert.kind not in FINAL_KINDS:
            continue
        payload = json.loads(alert.payload)
        if alert.kind == "order_failed" and str(payload.get("status", "")).startswith("unknown"):
            continue  # "may have been placed": the fill or the refusal follows
        key = payload.get("run") or payload.get("cause_key")
        if key is None and "client_order_id" in payload:
            key = runs_of_orders.get(payload["client_order_id"])
        if key is None and alert.kind == "schedule_missed":
            key = run_key(int(payload["schedule_id"]), datetime.fromisoformat(payload["due_at"]))
        if key and str(key).startswith("schedule:"):
            counted[str(key)] += 1
    return counted


def _check_orders(verdict: Verdict, placed: list[object], rows: list[Order]) -> None:
    ids = [o.client_order_id for o in placed]
    verdict.orders_on_exchange = len(ids)
    verdict.duplicate_orders = len(ids) - len(set(ids))
    if verdict.duplicate_orders:
        verdict.problems.append(f"{verdict.duplicate_orders} client ids placed twice")
    by_id = {o.client_order_id: o for o in rows}
    for order in placed:
        row = by_id.get(order.client_order_id)
        if row is None or row.status != "filled":
            state = "missing" if row is None else row.status
            verdict.problems.append(f"order {order.client_order_id} on the exchange "
                                    f"is {state} in the books")
            continue
        if (row.filled_base, row.filled_quote) != (order.amount, order.cost):
            verdict.problems.append(f"order {row.client_order_id} recorded with other amounts")


def _check_books(verdict: Verdict, world: World, rows: list[Order], fees: list[OrderFee],
                 reserve: Decimal, reserve_sum: Decimal) -> None:
    fee_by_order: dict[int, dict[str, Decimal]] = {}
    for fee in fees:
        fee_by_order.setdefault(fee.order_id, {})[fee.asset] = (
            fee_by_order.get(fee.order_id, {}).get(fee.asset, Decimal(0)) + fee.amount
        )
    btc = usdt = Decimal(0)
    for row in rows:
        if row.status != "filled":
            continue
        paid = fee_by_order.get(row.id, {})
        base, cost = row.filled_base or Decimal(0), row.filled_quote or Decimal(0)
        sign = 1 if row.side == "buy" else -1
        btc += sign * base - paid.get("BTC", Decimal(0))
        usdt += -sign * cost - paid.get("USDT", Decimal(0))
    balances = world.fake.balances
    if btc != balances.get("BTC", Decimal(0)):
        verdict.problems.append(f"BTC in the books {btc} != on the exchange {balances.get('BTC')}")
    if OPENING_USDT + usdt != balances.get("USDT", Decimal(0)):
        verdict.problems.append(
            f"USDT in the books {OPENING_USDT + usdt} != on the exchange {balances.get('USDT')}"
        )
    if reserve != reserve_sum:
        verdict.problems.append(f"reserve {reserve} != its ledger {reserve_sum}")
    if balances.get("USDT", Decimal(0)) < reserve:
        verdict.problems.append("the reserve is not backed by USDT on the exchange")
