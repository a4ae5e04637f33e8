"""`DCABOT_HEARTBEAT_URL`: a GET after every successful scheduler minute, for an outside monitor
(healthchecks.io, Uptime Kuma, a cron-job dead man's switch) that raises the alarm when the pings
stop. A failed ping is logged, never raised: the monitor's own silence is the alert."""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger(__name__)
TIMEOUT_S = 10.0


class Heartbeat:
    def __init__(self, url: str, *, timeout_s: float = TIMEOUT_S) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.sent = 0  # pings the monitor acknowledged (2xx)

    async def ping(self) -> None:
        if not self.url:
            return
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                answer = await client.get(self.url, headers={"User-Agent": "dcabot"})
            if answer.is_success:
                self.sent += 1
            else:
                log.warning("heartbeat: the monitor answered HTTP %d", answer.status_code)
        except httpx.HTTPError as exc:
            log.warning("heartbeat: the monitor could not be reached (%s)", type(exc).__name__)
