"""What a sender is given (an alert's card, whether it is silent, its retry key) and what it
answers: delivered, or why not, so the dispatcher can choose the next channel."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.cards.reply import Reply
from bot.notify.routes import Route


class Outcome(StrEnum):
    DELIVERED = "delivered"  # or known to have been delivered before (LINE 409)
    RATE_LIMITED = "rate_limited"  # too many for now; `retry_in` says how long to wait
    EXHAUSTED = "exhausted"  # LINE's monthly quota is used up
    UNAVAILABLE = "unavailable"  # 5xx, timeout, network, blocked by the user: try elsewhere
    REFUSED = "refused"  # this channel will never take this message (a bad request)


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    detail: str = ""
    retry_in: float | None = None
    channel_wide: bool = False  # the trouble is the whole channel's, not this chat's

    @property
    def delivered(self) -> bool:
        return self.outcome is Outcome.DELIVERED


DELIVERED = SendResult(Outcome.DELIVERED)


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """One alert for one person. `retry_key` is stable for the outbox row (LINE dedupes on it)."""

    reply: Reply
    silent: bool
    retry_key: str


class Sender(Protocol):
    """One channel's client. `send` never raises for the channel's own failures."""

    channel: str

    async def send(self, route: Route, message: AlertMessage) -> SendResult: ...

    async def close(self) -> None: ...
