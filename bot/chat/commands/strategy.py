"""/strategy: show and change the CDC gate, the sell percent, the order cap and S4 execution."""

from __future__ import annotations

from bot.cards import format as fmt
from bot.cards.reply import Field, Reply, Tone
from bot.chat.arguments import parse_amount, parse_percent
from bot.chat.commands.s4 import ask_to_execute
from bot.chat.registry import Invocation, Registry, require_admin
from bot.engine import flip_policy, strategy_settings
from bot.engine.errors import UserError, shown
from bot.i18n import _

USAGE = (
    "/strategy [exchange], /strategy cdc on/off, /strategy sell <percent> [exchange], "
    "/strategy cap <exchange> <amount or off>, /strategy policy auto/<exchange>, "
    "/strategy s4 execute on/off"
)


def _on_off(text: str | None, example: str) -> bool:
    if text is None or text.lower() not in {"on", "off"}:
        raise UserError(_("Say on or off, e.g. {example}").format(example=example))
    return text.lower() == "on"


def strategy_card(view: strategy_settings.StrategyView, quote: str, title: str,
                  policy: str | None = None, *, updated: bool = False) -> Reply:
    """One exchange's settings; with several exchanges, the flip policy too."""
    acting = () if policy is None else (Field(_("Flip policy"), _policy_text(policy)),)
    return Reply(
        kind="strategy",
        title=title,
        fields=(
            Field(_("Exchange"), view.exchange),
            *acting,
            Field(
                _("CDC gate"),
                _("on: buy while up, save while down") if view.cdc_enabled
                else _("off: every DCA buys"),
            ),
            Field(_("Sell on red"), _("{percent}% of BTC into the reserve").format(
                percent=fmt.number(view.sell_percent))),
            Field(_("Per-order cap"),
                  fmt.money(view.order_cap, quote) if view.order_cap else _("none")),
            Field(_("S4 rotations"),
                  _("executed") if view.s4_execute else _("shadow (told, not traded)")),
        ),
        tone=Tone.SUCCESS if updated else Tone.INFO,
    )


def _policy_text(policy: str) -> str:
    if policy == flip_policy.AUTO:
        return _("auto: each exchange sells its own BTC and deploys its own reserve")
    return _("{exchange} sells on red and deploys on green; the others do not act on "
             "flips").format(exchange=policy)


def register(registry: Registry) -> None:
    @registry.add("strategy", "Show the strategy; admins change it", USAGE, group="strategy")
    async def strategy(call: Invocation) -> Reply:
        accounts = call.services.accounts
        engine = accounts.default
        quote = engine.settings.quote_asset
        policy: str | None = None
        if accounts.several:
            chosen = await engine.db.run(flip_policy.current, engine)
            policy = flip_policy.in_force(chosen, accounts.names)
        if not call.args or (len(call.args) == 1 and accounts.is_exchange(call.args[0])):
            engine = accounts.on(call.args[0] if call.args else None)
            view = await engine.db.run(strategy_settings.current, engine)
            return strategy_card(view, quote, _("Strategy"), policy)
        require_admin(call, _("Changing the strategy"))
        what, rest = call.args[0].lower(), call.args[1:]
        if what == "cdc":
            if len(rest) > 2:
                raise UserError(_("Say on or off, e.g. {example}").format(
                    example="/strategy cdc on"))
            engine = accounts.on(rest[1] if len(rest) > 1 else None)
            view = await engine.db.run(
                strategy_settings.update, engine,
                cdc_enabled=_on_off(rest[0] if rest else None, "/strategy cdc on"),
            )
        elif what == "sell":
            if not 1 <= len(rest) <= 2:
                raise UserError(_("Give one percent from 0 to 100, e.g. /strategy sell 50"))
            engine = accounts.on(rest[1] if len(rest) > 1 else None)
            view = await engine.db.run(
                strategy_settings.update, engine,
                sell_percent=parse_percent(rest[0], example="/strategy sell 50"),
            )
        elif what == "policy":
            if len(rest) != 1:
                raise UserError(_("Give auto or an exchange ({names}), e.g. /strategy policy "
                                  "auto").format(names=", ".join(accounts.names)))
            policy = await engine.db.run(flip_policy.set_policy, engine, rest[0], accounts.names,
                                         changed_by=call.user.key)
            view = await engine.db.run(strategy_settings.current, engine)
        elif what == "cap":
            if len(rest) != 2:
                raise UserError(
                    _("Give an exchange and an amount or off, e.g. /strategy cap binance 500")
                )
            engine = accounts.on(rest[0])
            name = engine.exchange.name
            if rest[1].lower() in {"off", "none"}:
                view = await engine.db.run(strategy_settings.update, engine, name, order_cap=None)
            else:
                if rest[1].strip() in {"0", "0.0"}:
                    raise UserError(_("A cap of 0 would refuse every order; /strategy cap "
                                      "{exchange} off clears the cap").format(exchange=name))
                cap = parse_amount(rest[1], example="/strategy cap binance 500")
                view = await engine.db.run(strategy_settings.update, engine, name, order_cap=cap)
        elif what == "s4":
            if not rest or rest[0].lower() != "execute" or len(rest) > 3:
                raise UserError(_("Use /strategy s4 execute on|off [exchange]"))
            engine = accounts.on(rest[2] if len(rest) > 2 else None)
            if _on_off(rest[1] if len(rest) > 1 else None, "/strategy s4 execute on"):
                return await ask_to_execute(call, engine)
            view = await engine.db.run(strategy_settings.update, engine, s4_execute=False)
        else:
            raise UserError(
                _("{word} is not a strategy setting; use cdc, sell, cap, policy or s4").format(
                    word=repr(shown(what)))
            )
        return strategy_card(view, quote, _("Strategy updated"), policy, updated=True)
