"""Webhook benchmark, several workers on PostgreSQL (`bench/webhook.py --workers N --database
URL`; README "Deployment").

5. `workers`: `/status` at `--rate` for `--seconds` against `dcabot serve` with 1 worker, then
   with N, each on a fresh schema of the database: replies, ack and reply times side by side.
6. `lock`: N workers take `/status` at 50 a second for 8 s while another connection holds an
   ACCESS EXCLUSIVE lock on `reserve_accounts` (which /status reads) for `--lock` seconds from
   the second second on. Target: webhook acknowledgements p95 under 20 ms all along: the
   commands wait for the lock in the database pool's threads, never on a worker's event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.webhook_load import BotProcess, ChatFakes, Sent, fire, plan, register_tokens, replies
from storage.db import normalise_url

LOCKED_TABLE = "reserve_accounts"


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A URL whose connections use a new schema of their own, dropped afterwards."""
    url = normalise_url(url)
    if not url.startswith("postgresql"):
        raise SystemExit("--database must be a PostgreSQL URL: several workers need PostgreSQL")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * len(values))] if values else float("inf")


def _ms(values: list[float], q: float) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.1f}" if values else "-"


def _run(fakes: ChatFakes, bot: BotProcess, rate: float, seconds: float,
         offset: int) -> tuple[list[Sent], dict[str, float]]:
    warm = plan(20, 10_000_000 + offset, fakes.info)
    register_tokens(fakes, warm)
    asyncio.run(fire(bot.port, warm, 50))
    replies(fakes, len(warm))
    fakes.ask("reset")
    shots = plan(int(rate * seconds), offset, fakes.info)
    register_tokens(fakes, shots)
    sent = asyncio.run(fire(bot.port, shots, rate))
    return sent, replies(fakes, len(shots), timeout=60)


def side_by_side(fakes: ChatFakes, tmp: Path, database: str, workers: int, rate: float,
                 seconds: float) -> bool:
    print(f"\n5. /status at {rate:.0f}/s for {seconds:.0f} s on PostgreSQL: 1 worker, then "
          f"{workers}")
    print(f"  {'workers':>7} {'sent':>5} {'replied':>7} {'replies/s':>9}  {'ack p50/p95 ms':>15}"
          f"  {'reply p50/p95/p99 ms':>21}")
    met = True
    for n in sorted({1, workers}):
        with fresh_schema(database) as url, BotProcess(
            fakes, tmp / f"workers-{n}", workers=n, DATABASE_URL=url
        ) as bot:
            sent, arrived = _run(fakes, bot, rate, seconds, offset=n * 1_000_000)
        latency = [arrived[s.shot.key] - s.sent_at for s in sent if s.shot.key in arrived]
        first = min(s.sent_at for s in sent)
        span = max(arrived.get(s.shot.key, s.sent_at) for s in sent) - first
        acks = [s.ack_s for s in sent]
        print(f"  {n:>7} {len(sent):>5} {len(latency):>7} {len(latency) / span:>9.0f}  "
              f"{_ms(acks, 0.5):>7}/{_ms(acks, 0.95):<7}  "
              f"{_ms(latency, 0.5)}/{_ms(latency, 0.95)}/{_ms(latency, 0.99)}")
        met = met and len(latency) == len(sent)
        fakes.ask("reset")
    print(f"  target: every reply with 1 and {workers} workers: {'met' if met else 'NOT met'}")
    return met


def _hold_lock(url: str, after_s: float, hold_s: float, held: list[float]) -> None:
    engine = create_engine(url)
    time.sleep(after_s)
    with engine.begin() as connection:
        connection.execute(text(f"LOCK TABLE {LOCKED_TABLE} IN ACCESS EXCLUSIVE MODE"))
        held.append(time.time())
        time.sleep(hold_s)
    held.append(time.time())
    engine.dispose()


def held_lock(fakes: ChatFakes, tmp: Path, database: str, workers: int, lock_s: float) -> bool:
    rate, seconds = 50.0, 8.0
    with fresh_schema(database) as url, BotProcess(
        fakes, tmp / "lock", workers=workers, DATABASE_URL=url
    ) as bot:
        warm = plan(20, 20_000_000, fakes.info)
        register_tokens(fakes, warm)
        asyncio.run(fire(bot.port, warm, 50))
        replies(fakes, len(warm))
        fakes.ask("reset")
        shots = plan(int(rate * seconds), 30_000_000, fakes.info)
        register_tokens(fakes, shots)
        held: list[float] = []
        locker = threading.Thread(target=_hold_lock, args=(url, 2.0, lock_s, held))
        locker.start()
        sent = asyncio.run(fire(bot.port, shots, rate))
        locker.join()
        arrived = replies(fakes, len(shots), timeout=60)
    start, end = held if len(held) == 2 else (0.0, 0.0)
    during = [s for s in sent if start <= s.sent_at <= end]
    acks = [s.ack_s for s in sent]
    during_acks = [s.ack_s for s in during]
    latency = [arrived[s.shot.key] - s.sent_at for s in during if s.shot.key in arrived]
    print(f"\n6. {workers} workers, /status at {rate:.0f}/s for {seconds:.0f} s; {LOCKED_TABLE} "
          f"locked for {end - start:.1f} s by another connection")
    print(f"  all {len(sent)} webhooks: ack p50/p95/max {_ms(acks, 0.5)}/{_ms(acks, 0.95)}/"
          f"{_ms(acks, 1.0)} ms, {sum(s.shot.key in arrived for s in sent)} replied")
    print(f"  the {len(during)} sent while locked: ack p50/p95/max {_ms(during_acks, 0.5)}/"
          f"{_ms(during_acks, 0.95)}/{_ms(during_acks, 1.0)} ms; their replies p50/max "
          f"{_ms(latency, 0.5)}/{_ms(latency, 1.0)} ms (they wait for the lock)")
    met = bool(during) and p95(acks) < 0.020 and p95(during_acks) < 0.020
    print(f"  target: acks p95 under 20 ms while the lock is held: {'met' if met else 'NOT met'}")
    return met
