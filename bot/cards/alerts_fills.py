"""Alert cards for money that moved: fills (buys, sales, deploys) and a run's money saved."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.cards import alert_parts as part
from bot.cards import format as fmt
from bot.cards.alert_parts import STATUS_BUTTONS, Payload
from bot.cards.alerts_s4 import s4_buy_fields
from bot.cards.reply import Reply, Tone

TRADE, INFO = "alert_trade", "alert"


TITLES = {
    "order_filled": "Order filled",
    "dca_bought": "DCA bought",
    "sold_on_red": "Trend turned red: sold",
    "sold_to_reserve": "Sold into the reserve",
    "reserve_deployed": "Reserve deployed",
}


def fill_card(kind: str, payload: Payload, zone: ZoneInfo) -> Reply:
    base, quote = part.assets(payload)
    amount = part.amount(payload, "amount")
    verb = "Bought" if payload.get("side") == "buy" else "Sold"
    what = f"{verb} {fmt.crypto(amount, base)}" if amount is not None else verb
    fee = part.amount(payload, "fee")
    fees = payload.get("fees") or []
    fee_text = fmt.crypto(fee, str(payload.get("fee_asset") or "")) if fee else None
    if isinstance(fees, list) and len(fees) > 1:
        fee_text = " + ".join(fmt.crypto(Decimal(str(a)), str(c)) for c, a in fees)
    held = part.amount(payload, "held_after")
    fields = part.fields(
        ("Amount", what + (" (partly filled)" if payload.get("partial") else "")),
        ("Cost" if verb == "Bought" else "Proceeds", part.money(payload, "cost", quote)),
        ("Price", part.money(payload, "price", quote)),
        ("Fee", fee_text),
        ("When", part.local(payload, "at", zone)),
        ("Where", part.where(payload)),
        ("Schedule", part.schedule_name(payload)),
        ("Why", payload.get("rule")),
        ("Trend", part.trend_why(payload)),
        (f"{base} now", f"{fmt.crypto(held, base)} (the bot's books)" if held is not None
         else None),
        ("Reserve now", part.money(payload, "reserve_after", quote)),
        ("Asked by", payload.get("requested_by")),
    )
    if payload.get("strategy") == "s4":
        fields += s4_buy_fields(payload)
    footer = f"Order {payload['client_order_id']}" if payload.get("client_order_id") else ""
    name = "S4 DCA bought" if payload.get("strategy") == "s4" else TITLES.get(kind, "Order filled")
    title = f"{name}: {payload.get('symbol', '')}".rstrip(": ")
    return Reply(
        kind=TRADE,
        title=title,
        fields=fields,
        tone=Tone.DEPLOY if kind == "reserve_deployed" else (
            Tone.SUCCESS if verb == "Bought" else Tone.SELL),
        footer=footer,
        buttons=STATUS_BUTTONS,
    )


def dca_reserved(payload: Payload, zone: ZoneInfo) -> Reply:
    quote = "USDT"
    return Reply(
        kind=INFO,
        title="DCA saved to the reserve",
        tone=Tone.SAVE,
        fields=part.fields(
            ("Amount", part.money(payload, "amount", quote)),
            ("Reserve now", part.money(payload, "reserve", quote)),
            ("When", part.local(payload, "at", zone)),
            ("Where", part.where(payload)),
            ("Schedule", part.schedule_name(payload)),
            ("Trend", part.trend_why(payload)),
        ),
        lines=(("cdc schedule: the trend is red, so this run's money waits in the reserve; "
                "the next green flip buys BTC with it.",) if not payload.get("reason") else
               (f"Saved to the reserve: {payload['reason']}.",)),
    )


def dca_carried(payload: Payload, zone: ZoneInfo) -> Reply:
    quote = "USDT"
    needed = part.money(payload, "needed", quote) if payload.get("needed") else "the minimum"
    return Reply(
        kind=INFO,
        title="DCA carried to the next run",
        tone=Tone.SAVE,
        fields=part.fields(
            ("Amount", part.money(payload, "amount", quote)),
            ("Carried", f"{part.money(payload, 'carried', quote)} of {needed} needed"),
            ("When", part.local(payload, "at", zone)),
            ("Where", part.where(payload)),
            ("Schedule", part.schedule_name(payload)),
        ),
        lines=("This run's amount is below what the exchange takes in one order, so it is set "
               "aside; the first run whose carried total reaches the minimum buys it all.",),
    )


def reserve_added(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=INFO,
        title="Reserve topped up",
        fields=part.fields(
            ("Amount", part.money(payload, "amount", "USDT")),
            ("Reserve now", part.money(payload, "balance", "USDT")),
            ("Exchange", payload.get("exchange")),
            ("Asked by", payload.get("requested_by")),
        ),
    )
