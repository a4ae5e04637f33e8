"""The settings that are a choice among a few words: trading mode, price source, partial rests."""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """Where orders go: a simulated account, the exchange's sandbox, or the real account."""

    PAPER = "paper"
    TESTNET = "testnet"
    LIVE = "live"


class PriceSource(StrEnum):
    """Where the paper exchange takes prices from when no candles CSV is given."""

    AUTO = "auto"  # the exchange's public ticker, or the simulated market when it is unreachable
    EXCHANGE = "exchange"  # the exchange's public ticker only
    SIMULATED = "simulated"  # the seeded simulated market only


class Carry(StrEnum):
    """What a scheduled buy below the exchange's minimum order does."""

    ON = "on"  # carry it: set aside until the carried total reaches the minimum, then bought
    OFF = "off"  # skip the run and say why


class BuddhistEra(StrEnum):
    """How Thai readers' dates count years."""

    ON = "on"  # in the Buddhist era (พ.ศ.; 2026 is 2569), as Thai calendars do
    OFF = "off"  # in the common era, as the exchanges do


class PartialRest(StrEnum):
    """What a scheduled run does with the part of its amount a partial fill did not buy."""

    RESERVE = "reserve"  # set it aside in the reserve
    RETRY = "retry"  # try once more to buy it; what that does not buy goes to the reserve
