"""Alert cards for money that moved: fills (buys, sales, deploys) and a run's money saved."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.cards import alert_parts as part
from bot.cards import format as fmt
from bot.cards.alert_parts import Payload, status_buttons
from bot.cards.alerts_s4 import s4_buy_fields
from bot.cards.reply import Reply, Tone
from bot.i18n import _

TRADE, INFO = "alert_trade", "alert"


TITLES = ("order_filled", "dca_bought", "sold_on_red", "sold_to_reserve", "reserve_deployed")


def fill_title(kind: str) -> str:
    """A fill alert's title, in the reader's language."""
    return {
        "dca_bought": _("DCA bought"),
        "sold_on_red": _("Trend turned red: sold"),
        "sold_to_reserve": _("Sold into the reserve"),
        "reserve_deployed": _("Reserve deployed"),
    }.get(kind, _("Order filled"))


def fill_card(kind: str, payload: Payload, zone: ZoneInfo) -> Reply:
    base, quote = part.assets(payload)
    amount = part.amount(payload, "amount")
    buying = payload.get("side") == "buy"
    verb = _("Bought") if buying else _("Sold")
    what = f"{verb} {fmt.crypto(amount, base)}" if amount is not None else verb
    fee = part.amount(payload, "fee")
    fees = payload.get("fees") or []
    fee_text = fmt.crypto(fee, str(payload.get("fee_asset") or "")) if fee else None
    if isinstance(fees, list) and len(fees) > 1:
        fee_text = " + ".join(fmt.crypto(Decimal(str(a)), str(c)) for c, a in fees)
    held = part.amount(payload, "held_after")
    fields = part.fields(
        (_("Amount"), what + (" " + _("(partly filled)") if payload.get("partial") else "")),
        (_("Cost") if buying else _("Proceeds"), part.money(payload, "cost", quote)),
        (_("Price"), part.money(payload, "price", quote)),
        (_("Fee"), fee_text),
        (_("When"), part.local(payload, "at", zone)),
        (_("Where"), part.where(payload)),
        (_("Schedule"), part.schedule_name(payload)),
        (_("Why"), part.rule_text(payload.get("rule"))),
        (_("Trend"), part.trend_why(payload)),
        (_("{asset} now").format(asset=base),
         _("{amount} (the bot's books)").format(amount=fmt.crypto(held, base))
         if held is not None else None),
        (_("Reserve now"), part.money(payload, "reserve_after", quote)),
        (_("Asked by"), payload.get("requested_by")),
    )
    if payload.get("strategy") == "s4":
        fields += s4_buy_fields(payload)
    footer = (_("Order {id}").format(id=payload["client_order_id"])
              if payload.get("client_order_id") else "")
    name = _("S4 DCA bought") if payload.get("strategy") == "s4" else fill_title(kind)
    title = f"{name}: {payload.get('symbol', '')}".rstrip(": ")
    return Reply(
        kind=TRADE,
        title=title,
        fields=fields,
        tone=Tone.DEPLOY if kind == "reserve_deployed" else (
            Tone.SUCCESS if buying else Tone.SELL),
        footer=footer,
        buttons=status_buttons(),
    )


def dca_reserved(payload: Payload, zone: ZoneInfo) -> Reply:
    quote = "USDT"
    return Reply(
        kind=INFO,
        title=_("DCA saved to the reserve"),
        tone=Tone.SAVE,
        fields=part.fields(
            (_("Amount"), part.money(payload, "amount", quote)),
            (_("Reserve now"), part.money(payload, "reserve", quote)),
            (_("When"), part.local(payload, "at", zone)),
            (_("Where"), part.where(payload)),
            (_("Schedule"), part.schedule_name(payload)),
            (_("Trend"), part.trend_why(payload)),
        ),
        lines=((_("cdc schedule: the trend is red, so this run's money waits in the reserve; "
                  "the next green flip buys BTC with it."),) if not payload.get("reason") else
               (_("Saved to the reserve: {reason}.").format(
                   reason=part.reason_text(payload["reason"])),)),
    )


def dca_carried(payload: Payload, zone: ZoneInfo) -> Reply:
    quote = "USDT"
    needed = (part.money(payload, "needed", quote) if payload.get("needed")
              else _("the minimum"))
    return Reply(
        kind=INFO,
        title=_("DCA carried to the next run"),
        tone=Tone.SAVE,
        fields=part.fields(
            (_("Amount"), part.money(payload, "amount", quote)),
            (_("Carried"), _("{carried} of {needed} needed").format(
                carried=part.money(payload, "carried", quote), needed=needed)),
            (_("When"), part.local(payload, "at", zone)),
            (_("Where"), part.where(payload)),
            (_("Schedule"), part.schedule_name(payload)),
        ),
        lines=(_("This run's amount is below what the exchange takes in one order, so it is "
                 "set aside; the first run whose carried total reaches the minimum buys it "
                 "all."),),
    )


def reserve_added(payload: Payload, zone: ZoneInfo) -> Reply:
    return Reply(
        kind=INFO,
        title=_("Reserve topped up"),
        fields=part.fields(
            (_("Amount"), part.money(payload, "amount", "USDT")),
            (_("Reserve now"), part.money(payload, "balance", "USDT")),
            (_("Exchange"), payload.get("exchange")),
            (_("Asked by"), payload.get("requested_by")),
        ),
    )
