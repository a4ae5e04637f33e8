"""The backtester's simulated account: holdings, the USDT reserve, fills with fees, and a log.

Fills follow the issue exactly: the fee is taken from what is received, so buying for `A` USDT
at `price` gets `A * (1 - fee) / price` of the asset, and selling `Q` gets
`Q * price * (1 - fee)` USDT. Every number is a `Decimal` computed in the caller's decimal
context (the backtester pins 28 significant digits, half-even), so a run is reproducible to the
last digit. Nothing is rounded to an exchange's lot step here: that is the exchange layer's job
in the live engine, and the replay comparison has to allow for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from strategies.s4 import Asset

_ZERO = Decimal(0)


class EventKind(StrEnum):
    DCA_BUY = "dca_buy"
    RESERVE_DEPOSIT = "reserve_deposit"
    FLIP_SELL = "flip_sell"
    RESERVE_DEPLOY = "reserve_deploy"
    ROTATION_SELL = "rotation_sell"
    ROTATION_BUY = "rotation_buy"


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """One thing the strategy did, at the open of the candle opened at `time`.

    For a buy, `quote` is the USDT paid (fee included) and `base` the asset received (fee
    deducted); for a sell, `base` is the asset sold and `quote` the USDT received (fee
    deducted); for a reserve deposit, `quote` is the amount saved and `base` is zero.
    """

    time: datetime
    kind: EventKind
    asset: Asset
    price: Decimal | None
    quote: Decimal
    base: Decimal


class Portfolio:
    """Mutable account state for one backtest run (never shared between runs)."""

    __slots__ = (
        "btc",
        "btc_bought",
        "buys",
        "events",
        "fee",
        "gold",
        "keep",
        "quote_spent_on_btc",
        "reserve",
        "sells",
    )

    def __init__(self, fee: Decimal) -> None:
        self.fee = fee
        self.keep = Decimal(1) - fee
        self.btc = _ZERO
        self.gold = _ZERO
        self.reserve = _ZERO
        self.buys = 0
        self.sells = 0
        self.quote_spent_on_btc = _ZERO
        self.btc_bought = _ZERO
        self.events: list[LedgerEvent] = []

    def holding(self, asset: Asset) -> Decimal:
        return self.btc if asset is Asset.BTC else self.gold

    def buy(
        self, asset: Asset, quote: Decimal, price: Decimal, time: datetime, kind: EventKind
    ) -> None:
        """Spend `quote` USDT (already taken from wherever the caller keeps it) on `asset`."""
        if quote <= _ZERO:
            return
        base = quote * self.keep / price
        if asset is Asset.BTC:
            self.btc += base
            self.quote_spent_on_btc += quote
            self.btc_bought += base
        else:
            self.gold += base
        self.buys += 1
        self.events.append(LedgerEvent(time, kind, asset, price, quote, base))

    def sell(
        self, asset: Asset, base: Decimal, price: Decimal, time: datetime, kind: EventKind
    ) -> Decimal:
        """Sell `base` of `asset`; returns the USDT received, for the caller to place."""
        if base <= _ZERO:
            return _ZERO
        quote = base * price * self.keep
        if asset is Asset.BTC:
            self.btc -= base
        else:
            self.gold -= base
        self.sells += 1
        self.events.append(LedgerEvent(time, kind, asset, price, quote, base))
        return quote

    def deposit_reserve(self, quote: Decimal, time: datetime) -> None:
        self.reserve += quote
        self.events.append(
            LedgerEvent(time, EventKind.RESERVE_DEPOSIT, Asset.BTC, None, quote, _ZERO)
        )

    def avg_cost(self) -> Decimal | None:
        """USDT paid for BTC (fees included) per BTC received; None if no BTC was bought."""
        if self.btc_bought <= _ZERO:
            return None
        return self.quote_spent_on_btc / self.btc_bought
