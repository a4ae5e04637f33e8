"""Looking after the bot: the daily summary (once a day, what yesterday did and where things
stand), the heartbeat an outside monitor listens for, and the started/stopped notices."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.cards.alerts import alert_card
from bot.chat.roles import Role, User
from bot.engine.daily_summary import send_daily_summary
from bot.scheduler import DcaScheduler
from storage import outbox
from storage.db import Database
from storage.models import OutboxAlert
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings

ADMIN = User("telegram", "1", Role.ADMIN)
BANGKOK_EVENING = datetime(2026, 3, 11, 14, 0, tzinfo=UTC)  # 21:00 in Bangkok


class Monitor:
    """A local stand-in for healthchecks.io: counts GETs; answers 200, or `status`."""

    def __init__(self) -> None:
        self.pings = 0
        self.status = 200
        monitor = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                monitor.pings += 1
                self.send_response(monitor.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/ping/abc-123"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def monitor() -> Iterator[Monitor]:
    running = Monitor()
    yield running
    running.server.shutdown()


def alerts(db: Database, kind: str) -> list[dict[str, Any]]:
    with db.transaction() as session:
        return [outbox.payload_of(a) for a in session.scalars(
            select(OutboxAlert).where(OutboxAlert.kind == kind).order_by(OutboxAlert.id))]


def bangkok_bot(tmp_path: Path, db: Database, clock: Clock, **extra: Any) -> Bot:
    return make_bot(make_settings(tmp_path, timezone="Asia/Bangkok", **extra), db, clock)


async def test_the_summary_tells_yesterday_once_and_where_things_stand(
        tmp_path: Path, db: Database, clock: Clock) -> None:
    clock.now = BANGKOK_EVENING - timedelta(days=1)  # yesterday, Bangkok time
    bot = bangkok_bot(tmp_path, db, clock)
    ask = await bot.say("/buy 120")
    await bot.registry.confirm(bot.services, ADMIN, ask.confirm_token or "", accept=True)
    await bot.say("/schedule add daily 08:00 50")
    clock.now = BANGKOK_EVENING
    assert await send_daily_summary(bot.services.accounts)
    assert not await send_daily_summary(bot.services.accounts)  # once a day
    (payload,) = alerts(db, "daily_summary")
    assert payload["day"] == "2026-03-10"
    assert (payload["actions"]["buys"], payload["actions"]["sells"]) == (1, 0)
    assert Decimal(payload["actions"]["bought"]) <= 120
    (account,) = payload["accounts"]
    assert account["exchange"] == "binance" and Decimal(account["value"]) > 0
    card = alert_card("daily_summary", payload, bot.services.engine.settings.zone)
    shown = {f.label: f.value for f in card.fields}
    assert card.title == "Daily summary for 2026-03-10"
    assert shown["Yesterday"].startswith("1 buys for ")
    assert shown["Next run"] == "2026-03-12 08:00 +07"


async def test_the_scheduler_sends_it_at_the_local_time_and_pings_after_each_good_minute(
        tmp_path: Path, db: Database, clock: Clock, monitor: Monitor) -> None:
    clock.now = BANGKOK_EVENING
    bot = bangkok_bot(tmp_path, db, clock, daily_summary_at="21:00",
                      heartbeat_url=monitor.url)
    scheduler = DcaScheduler(bot.services.accounts)
    lead = asyncio.ensure_future(scheduler.lead())
    try:
        for _ in range(200):  # leading, its jobs set and its start announced (in the pool)
            if (scheduler.role == "leader" and scheduler.scheduler.get_job("daily-summary")
                    and alerts(db, "bot_started")):
                break
            await asyncio.sleep(0.02)
        job = scheduler.scheduler.get_job("daily-summary")
        assert job is not None and "hour='21', minute='0'" in str(job.trigger)
        assert f"{job.next_run_time.astimezone(ZoneInfo('Asia/Bangkok')):%H:%M}" == "21:00"
        assert alerts(db, "bot_started")[0]["trading_on"] == "paper mode on binance"
        await scheduler._settle()
        assert monitor.pings == 1
        monitor.status = 500  # the monitor's trouble is logged, never the bot's
        await scheduler._settle()
        assert monitor.pings == 2
        await scheduler._daily_summary()
        assert len(alerts(db, "daily_summary")) == 1
    finally:
        lead.cancel()
        await scheduler.stop()
    assert len(alerts(db, "bot_stopped")) == 1
