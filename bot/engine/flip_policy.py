"""Which exchange acts on a trend flip when the bot trades on several.

`auto` (the default, no row): each exchange sells its own BTC into its own reserve on a red flip
and deploys its own reserve on a green one. A named exchange: only that one acts; the others
record the flip as not acted on, with the reason, and their reserves stay until deployed by hand.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from bot.engine.context import Engine
from bot.engine.errors import UserError, shown
from bot.i18n import _
from storage.models import FlipPolicy

AUTO = "auto"
ROW = 1


def current(engine: Engine) -> str:
    with engine.db.transaction() as session:
        row = session.get(FlipPolicy, ROW)
        return AUTO if row is None else row.policy


def in_force(policy: str, exchanges: tuple[str, ...]) -> str:
    """The policy as it applies: one naming an exchange no longer traded is `auto` (else no
    exchange would ever act on a flip)."""
    return policy if policy in exchanges else AUTO


def acts_on_flips(engine: Engine, policy: str) -> bool:
    policy = in_force(policy, engine.settings.exchanges)
    return policy == AUTO or policy == engine.exchange.name


def set_policy(engine: Engine, policy: str, exchanges: tuple[str, ...], *, changed_by: str) -> str:
    """Set the policy (`auto` or one of `exchanges`); returns it."""
    chosen = policy.strip().lower()
    if chosen != AUTO and chosen not in exchanges:
        raise UserError(
            _("{text} is not a flip policy; use auto or {exchanges}, e.g. /strategy policy "
              "auto").format(text=repr(shown(policy)), exchanges=_(" or ").join(exchanges))
        )
    now = engine.clock()
    for _attempt in range(2):  # a concurrent first change makes the row too: then update theirs
        try:
            with engine.db.transaction() as session:
                row = session.get(FlipPolicy, ROW, with_for_update=True)
                if row is None:
                    session.add(FlipPolicy(id=ROW, policy=chosen, changed_by=changed_by[:80],
                                           changed_at=now))
                else:
                    row.policy, row.changed_by, row.changed_at = chosen, changed_by[:80], now
            return chosen
        except IntegrityError:
            continue
    raise UserError(_("The flip policy changed meanwhile; look at /strategy and try again"))


def not_acting_reason(engine: Engine, policy: str) -> str:
    return (
        f"policy {policy}: only {policy} acts on flips; the {engine.exchange.name} reserve "
        f"stays (/reserve deploy {engine.exchange.name} spends it)"
    )
