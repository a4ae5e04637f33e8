"""Benchmark the alert dispatcher: a backlog drained through a rate-limited fake Telegram.

10,000 alerts to 100 people go through the real python-telegram-bot to the fake Telegram Bot API
running in a process of its own (`FakeTelegramProcess`), which enforces the limits given (by
default 300 messages/s overall and 1/s per chat, and answers 429 past them). Prints:

* the achieved rate, against the limit that binds: the overall one, or people x per-chat rate
  (100 chats at 1/s cannot take more than 100/s, whatever the overall limit); target >= 90%;
* the 429s received (target 0);
* while the backlog drains, a webhook command (`/status`, posted to the real ASGI app in the same
  event loop, as `dcabot run` serves it) timed from the POST until its reply reaches Telegram:
  p50 / p95 / max (target p95 < 100 ms). The app answers through a second fake Telegram, in this
  process, so its replies are not counted against the alerts' limits.

Run: `python bench/alerts.py` from the repository root (`--help` for the knobs; `--chat-rate 5`
makes the overall limit the binding one).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PTB_TIMEDELTA", "true")

from bot.config import Settings, load_settings  # noqa: E402
from bot.notify.dispatcher import Dispatcher, DispatcherOptions  # noqa: E402
from bot.notify.routes import Person, Route  # noqa: E402
from bot.notify.telegram_sender import TelegramSender  # noqa: E402
from storage import outbox  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI, make_message_update  # noqa: E402
from tests.fakes.telegram_process import FakeTelegramProcess  # noqa: E402

FILL = {
    "side": "buy",
    "symbol": "BTC/USDT",
    "exchange": "binance",
    "mode": "paper",
    "amount": "0.00052",
    "cost": "49.92",
    "price": "96000.5",
    "fee": "0.00000052",
    "fee_asset": "BTC",
}
SECRET = "bench-webhook-secret"
ADMIN = 111
FIRST_CHAT = 10_000


def write_backlog(db: Database, alerts: int, people: list[Person]) -> None:
    now = datetime.now(UTC)
    with db.transaction() as session:
        for n in range(alerts):
            person = people[n % len(people)]
            payload = {**FILL, "client_order_id": f"bench-{n}"}
            outbox.enqueue(
                session, kind="dca_bought", payload=payload, now=now, recipient=person.name
            )


def app_settings(data: Path, database_url: str, chat_api: FakeTelegramAPI) -> Settings:
    return load_settings(
        _env_file=None,
        data_dir=data,
        database_url=database_url,
        price_source="simulated",
        telegram_bot_token=chat_api.token,
        telegram_api_url=chat_api.url,
        telegram_webhook_secret=SECRET,
        admins=f"telegram:{ADMIN}",
    )


class Webhooks:
    """The real app on uvicorn in this event loop; `/status` posted and timed to its reply."""

    def __init__(self, settings: Settings, chat_api: FakeTelegramAPI) -> None:
        import uvicorn

        from bot.app import create_app

        self.chat_api = chat_api
        config = uvicorn.Config(
            # the app's own dispatcher stays off: the benchmark's dispatcher drains the backlog
            create_app(settings, dispatch=False), host="127.0.0.1", port=0, log_level="warning",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.timings: list[float] = []
        self._update_id = 0

    async def start(self) -> str:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task

    async def command(self, client: Any, url: str) -> None:
        import httpx

        self._update_id += 1
        before = len(self.chat_api.messages(ADMIN))
        update = make_message_update(self._update_id, ADMIN, ADMIN, "/status")
        started = time.perf_counter()
        answer = await client.post(
            f"{url}/webhook/telegram",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert isinstance(answer, httpx.Response) and answer.status_code == 200
        while len(self.chat_api.messages(ADMIN)) <= before:
            await asyncio.sleep(0.0005)
        self.timings.append((time.perf_counter() - started) * 1000)


async def drain(args: argparse.Namespace, tg: FakeTelegramProcess, database_url: str) -> None:
    db = Database(database_url)
    upgrade(db)
    people = [
        Person(f"p{i}", (Route("telegram", str(FIRST_CHAT + i)),)) for i in range(args.recipients)
    ]
    started = time.perf_counter()
    write_backlog(db, args.alerts, people)
    print(
        f"backlog: {args.alerts:,} alerts to {args.recipients} people written in "
        f"{time.perf_counter() - started:.1f} s ({'SQLite' if db.is_sqlite else 'PostgreSQL'})"
    )
    sender = TelegramSender(
        tg.token,
        base_url=tg.base_url,
        per_second=args.global_rate,
        chat_per_second=args.chat_rate,
        connections=args.in_flight,
    )
    dispatcher = Dispatcher(
        db,
        people,
        {"telegram": sender},
        zone=load_settings(_env_file=None).zone,
        options=DispatcherOptions(poll_s=0.2),
    )
    webhooks: Webhooks | None = None
    chat_api: FakeTelegramAPI | None = None
    url = ""
    try:
        import bot.app  # noqa: F401
    except ImportError as exc:
        print(f"webhook p95: not measured, the app does not exist yet ({exc})")
    else:
        if not args.no_webhook:
            chat_api = FakeTelegramAPI(token="654321:CHAT-TOKEN").start()
            data = Path(tempfile.mkdtemp(prefix="dcabot-bench-"))
            webhooks = Webhooks(app_settings(data, database_url, chat_api), chat_api)
            url = await webhooks.start()
    stop = asyncio.Event()
    began = time.perf_counter()
    task = asyncio.create_task(dispatcher.run(stop))
    import httpx

    async with httpx.AsyncClient(timeout=10) as client:
        while dispatcher.counts[outbox.DELIVERED] < args.alerts:
            if webhooks is not None and time.perf_counter() - began > 2:
                await webhooks.command(client, url)
            await asyncio.sleep(args.command_every)
            if time.perf_counter() - began > args.timeout:
                print("timed out before the backlog drained")
                break
    elapsed = time.perf_counter() - began
    stop.set()
    await task
    await sender.close()
    if webhooks is not None:
        await webhooks.stop()
    if chat_api is not None:
        chat_api.stop()
    report(args, tg.stats(), dispatcher, elapsed, webhooks)
    db.dispose()


def report(
    args: argparse.Namespace,
    stats: dict[str, Any],
    dispatcher: Dispatcher,
    elapsed: float,
    webhooks: Webhooks | None,
) -> None:
    sent = stats["sent_messages"]
    span = (stats["last_sent_at"] or 0) - (stats["first_sent_at"] or 0)
    rate = sent / span if span else 0.0
    binding = min(args.global_rate, args.recipients * args.chat_rate)
    which = "overall" if binding == args.global_rate else f"{args.recipients} chats x per-chat"
    print(
        f"delivered: {dispatcher.counts[outbox.DELIVERED]:,} (fake counted {sent:,}) in "
        f"{elapsed:.1f} s; limits {args.global_rate:g}/s overall, {args.chat_rate:g}/s per chat"
    )
    print(
        f"achieved rate: {rate:.1f} msg/s = {100 * rate / binding:.1f}% of the binding limit "
        f"({binding:g}/s, {which}); target >= 90%"
    )
    print(f"429s received: {stats['rate_limited_count']} (target 0)")
    if webhooks is not None and webhooks.timings:
        times = sorted(webhooks.timings)
        p95 = times[max(0, round(0.95 * len(times)) - 1)]
        print(
            f"webhook /status while draining: n={len(times)}, p50 "
            f"{statistics.median(times):.1f} ms, p95 {p95:.1f} ms, max {times[-1]:.1f} ms "
            f"(target p95 < 100 ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--recipients", type=int, default=100)
    parser.add_argument("--global-rate", type=float, default=300.0)
    parser.add_argument("--chat-rate", type=float, default=1.0)
    parser.add_argument("--in-flight", type=int, default=16, help="sends in flight at most")
    parser.add_argument("--database", default="", help="a PostgreSQL URL (default: SQLite)")
    parser.add_argument("--command-every", type=float, default=0.25, help="seconds")
    parser.add_argument("--no-webhook", action="store_true")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with (
        tempfile.TemporaryDirectory() as folder,
        FakeTelegramProcess(
            global_per_second=int(args.global_rate), per_chat_per_second=int(args.chat_rate)
        ) as tg,
    ):
        database_url = args.database or f"sqlite:///{folder}/bench.db"
        asyncio.run(drain(args, tg, database_url))


if __name__ == "__main__":
    main()
