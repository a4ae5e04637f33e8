"""The exchange's clock, as this host sees it: measured at first use and hourly after.

Signed requests carry a timestamp the exchange checks against its own clock (Binance: within
`recvWindow` and not a second ahead; OKX: within 30 s), and "never placed" is only proven once a
request's deadline has passed on the exchange's clock. A Raspberry Pi drifts, so the offset is
measured with ccxt's `load_time_difference` (ccxt then signs with the exchange's time), logged
when over a second, and re-measured after a -1021 / 50102 refusal (`order_flow`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.exchanges.ccxt_calls import CcxtCalls

Clock = Callable[[], datetime]
ClockListener = Callable[[int], Awaitable[None]]
DRIFT_WARN_MS = 1000
SYNC_EVERY = timedelta(hours=1)


class ExchangeClock:
    def __init__(
        self,
        calls: CcxtCalls,
        clock: Clock,
        admit: Callable[[], Awaitable[None]],
        on_clock: ClockListener | None = None,
    ) -> None:
        self.calls = calls
        self.clock = clock
        self.admit = admit
        self.on_clock = on_clock
        self.offset_ms: int | None = None  # local minus the exchange's, once measured
        self.synced_at: datetime | None = None

    def server_now(self) -> datetime:
        """Now on the exchange's clock, as far as the last sync measured it: the very time
        ccxt signs requests with (its own clock less the measured difference), so a deadline
        computed here is on the same clock as the request's timestamp."""
        client = self.calls.client
        local_ms = int(client.milliseconds())
        offset = int((client.options or {}).get("timeDifference") or 0)
        return datetime.fromtimestamp((local_ms - offset) / 1000, UTC)

    async def sync(self) -> int:
        """Measure the offset (ms, local - exchange); a drift over a second is logged."""
        await self.admit()
        client = self.calls.client
        offset = int(await self.calls.once("the server time", client.load_time_difference) or 0)
        self.offset_ms, self.synced_at = offset, self.clock()
        if abs(offset) > DRIFT_WARN_MS:
            self.calls.log.warning(
                "this host's clock is %.1f s %s %s's; signing with the exchange's time",
                abs(offset) / 1000,
                "ahead of" if offset > 0 else "behind",
                self.calls.title,
            )
        if self.on_clock is not None:
            await self.on_clock(offset)
        return offset

    async def fresh(self) -> None:
        """Sync when never done, or over an hour ago (before an order is signed)."""
        if self.synced_at is None or self.clock() - self.synced_at >= SYNC_EVERY:
            await self.sync()
