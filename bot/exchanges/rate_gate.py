"""The exchange's word on rate limits: after a 429 or a 418 ban, no request until it said.

Binance answers 429 with `Retry-After` (seconds to wait to avoid a ban) and, to a client that
keeps sending, 418 with `Retry-After` until an IP ban ends; bans grow from 2 minutes to 3 days
for repeat offenders. Every response also says the request weight used this minute
(`X-MBX-USED-WEIGHT-1M`, limit 6,000). So:

* a 429 or 418 pauses every request to that exchange until `Retry-After` has passed (a missing
  header: one minute for a 429, two for a 418); each request asked meanwhile is refused here,
  at once, with the time trading resumes;
* a used weight of 90% of the limit pauses until the minute is over, before Binance has to say so;
* a tenth of the wait, at most `PAUSE_MARGIN`, is added to every pause: the exchange times a ban
  on its clock, and this host's clock may be stepped (NTP correcting a drifting Raspberry Pi)
  while the bot waits.

The pause outlives the process and is shared by every process of the bot: the engine saves it
(`on_pause`, awaited by `tell` once the request that brought it is over) and `refresh` reads the
saved one back before the first request and every 30 s (see `bot.engine.exchange_state`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

from bot.exchanges.base import ExchangeUnavailable

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
PauseListener = Callable[[datetime, str], Awaitable[None]]
PauseLoader = Callable[[], Awaitable[tuple[datetime | None, str]]]
WEIGHT_LIMIT = 6000
WEIGHT_HEADROOM = 0.9
REFRESH_EVERY = timedelta(seconds=30)
DEFAULT_WAIT = {429: timedelta(minutes=1), 418: timedelta(minutes=2)}
PAUSE_MARGIN = timedelta(seconds=5)


def header(headers: Mapping[str, object] | None, name: str) -> str | None:
    """A response header by name, whatever its case."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            return str(value)
    return None


class RateGate:
    """Whether requests to one exchange (in one mode) may go out now."""

    def __init__(
        self,
        title: str,
        mode: str,
        clock: Clock,
        *,
        on_pause: PauseListener | None = None,
        load: PauseLoader | None = None,
    ) -> None:
        self.title = title
        self.mode = mode
        self.clock = clock
        self.on_pause = on_pause
        self.load = load
        self.paused_until: datetime | None = None
        self.reason = ""
        self.used_weight: int | None = None
        self._refreshed: datetime | None = None  # never: the first `check` reads the saved one
        self._untold: list[tuple[datetime, str]] = []  # pauses for `tell`

    async def refresh(self) -> None:
        """Take over a longer pause another process (or an earlier run) recorded."""
        self._refreshed = self.clock()
        if self.load is None:
            return
        try:
            until, reason = await self.load()
        except Exception as exc:  # the database may be down: keep what this process knows
            log.warning("could not read the saved pause of %s: %s", self.title, exc)
            return
        if until is not None and (self.paused_until is None or until > self.paused_until):
            self.paused_until, self.reason = until, reason

    async def check(self) -> None:
        """Raise `ExchangeUnavailable` (sending nothing) while the exchange asked to wait."""
        now = self.clock()
        if self._refreshed is None or now - self._refreshed >= REFRESH_EVERY:
            await self.refresh()
        if self.paused_until is not None and now < self.paused_until:
            raise ExchangeUnavailable(
                f"{self.title} ({self.mode}) asked the bot to wait ({self.reason}); nothing is "
                f"sent to it until {self.paused_until.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, "
                "when trading resumes"
            )

    def observe(self, status: int, headers: Mapping[str, object] | None) -> None:
        """Read what a response says about the limits: a 429/418 pause, the weight used."""
        weight = header(headers, "x-mbx-used-weight-1m")
        if weight is not None and weight.isdigit():
            self.used_weight = int(weight)
            if self.used_weight >= WEIGHT_LIMIT * WEIGHT_HEADROOM and status < 400:
                now = self.clock()
                minute_over = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
                self._pause(
                    minute_over,
                    f"{self.used_weight} of {WEIGHT_LIMIT} request weight used this minute",
                )
        if status not in DEFAULT_WAIT:
            return
        wait = DEFAULT_WAIT[status]
        retry_after = header(headers, "retry-after")
        if retry_after is not None and retry_after.strip().isdigit():
            wait = timedelta(seconds=int(retry_after.strip()))
        what = "banned this IP (HTTP 418)" if status == 418 else "rate limited (HTTP 429)"
        reason = f"{what}, Retry-After {int(wait.total_seconds())} s"
        self._pause(self.clock() + wait + min(PAUSE_MARGIN, wait / 10), reason)

    def _pause(self, until: datetime, reason: str) -> None:
        if self.paused_until is not None and until <= self.paused_until:
            return
        self.paused_until, self.reason = until, reason
        log.error(
            "[%s %s] %s: no requests until %s", self.mode, self.title, reason, until.isoformat()
        )
        if self.on_pause is not None:  # `observe` runs inside ccxt's response handling
            self._untold.append((until, reason))

    async def tell(self) -> None:
        """Give the listener (which saves them) the pauses met since the last call, in order."""
        while self._untold and self.on_pause is not None:
            until, reason = self._untold.pop(0)
            try:
                await self.on_pause(until, reason)
            except Exception:  # the pause holds in this process even if it cannot be saved
                log.exception("[%s %s] could not save the pause", self.mode, self.title)
