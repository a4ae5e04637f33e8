"""A dispatcher in a process of its own, for the crash test: `python -m tests.notify_child`
with the settings in the environment. It runs until killed, or until its stdin closes."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from bot.config import load_settings
from bot.notify.delivery import Backoff
from bot.notify.dispatcher import DispatcherOptions
from bot.notify.service import build_dispatcher, build_senders
from storage.db import Database

OPTIONS = DispatcherOptions(
    lease=timedelta(seconds=3),
    poll_s=0.05,
    claim_gap_s=0.01,
    backoff=Backoff(first=0.1, most=0.5),
)


async def main() -> None:
    settings = load_settings(_env_file=None)
    db = Database(settings.effective_database_url)
    senders = build_senders(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.read(1) else None)
    print("ready", flush=True)
    await build_dispatcher(settings, db, senders, options=OPTIONS).run(stop)
    for sender in senders.values():
        await sender.close()
    db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
