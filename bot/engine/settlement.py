"""What a fill or a failure means for the books, by the order's cause, in the order's transaction.

Live runs and start-up reconciliation both settle through here, so an order found after a crash
moves the reserve and finishes its schedule run exactly as it would have at once.

* Every order: the hold on what it was to spend (`storage.holds`) is released.
* `deploy`, `flip_buy`: the reserve was debited into the hold before sending; change that the
  market's step left unspent, or the whole amount on a failure, goes back to the reserve.
* `flip_sell`, `sell_now`: the proceeds (after the fee) go into the reserve.
* `schedule`: the run is finished with the outcome.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from bot.exchanges.base import Fill
from storage import holds, ledger, schedules
from storage.models import Order

ALERT_KIND = {
    "buy_now": "order_filled",
    "schedule": "dca_bought",
    "flip_sell": "sold_on_red",
    "sell_now": "sold_to_reserve",
    "flip_buy": "reserve_deployed",
    "deploy": "reserve_deployed",
    "rotation": "s4_rotation",
}
HOLDS_RESERVE = {"deploy", "flip_buy"}
SELLS_TO_RESERVE = {"flip_sell", "sell_now"}


def on_fill(session: Session, order: Order, fill: Fill, quote_asset: str, now: datetime) -> str:
    """Book the fill; returns the alert kind."""
    holds.release(session, order.id, now)
    if order.cause in HOLDS_RESERVE and order.requested_quote is not None:
        change = order.requested_quote - fill.cost
        if change > 0:
            ledger.append(
                session,
                exchange=order.exchange,
                mode=order.mode,
                amount=change,
                reason="deploy_change",
                note=order.client_order_id,
                order_id=order.id,
                now=now,
            )
    if order.cause in SELLS_TO_RESERVE:
        ledger.append(
            session,
            exchange=order.exchange,
            mode=order.mode,
            amount=fill.net_quote(quote_asset),
            reason=order.cause,
            note=order.client_order_id,
            order_id=order.id,
            now=now,
        )
    if order.cause == "schedule":
        schedules.finish(
            session, order.cause_key, schedules.DONE, f"bought {fill.amount} for {fill.cost}", now
        )
    return ALERT_KIND.get(order.cause, "order_filled")


def on_failure(session: Session, order: Order, error: str, now: datetime) -> None:
    """Undo what was set aside for an order that was not placed."""
    holds.release(session, order.id, now)
    if order.cause in HOLDS_RESERVE and order.requested_quote is not None:
        ledger.append(
            session,
            exchange=order.exchange,
            mode=order.mode,
            amount=order.requested_quote,
            reason="deploy_refund",
            note=order.client_order_id,
            order_id=order.id,
            now=now,
        )
    if order.cause == "schedule":
        schedules.finish(session, order.cause_key, schedules.DONE, f"failed: {error}", now)


def hold_reserve(session: Session, order: Order, amount: Decimal, now: datetime) -> None:
    """Move `amount` out of the reserve for `order`, about to be sent (see `on_failure`)."""
    ledger.append(
        session,
        exchange=order.exchange,
        mode=order.mode,
        amount=-amount,
        reason="deploy_hold",
        note=order.client_order_id,
        order_id=order.id,
        now=now,
    )
