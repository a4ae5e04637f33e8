"""Webhook benchmark: signed Telegram and LINE webhooks on loopback to `dcabot serve`.

    python bench/webhook.py [--rate 200] [--seconds 10] [--slow 3]

The fakes of both chat APIs run in a child process (bench/chat_fakes.py), the bot in another
(`python -m bot.cli serve`), and this process only sends: an open loop at `--rate` requests per
second, half Telegram `/status` from many group chats, half LINE `status` from many users, each
webhook signed as the platform signs it. For every request it reports the acknowledgement time
and the time from sending the webhook to the fake receiving the reply.

Two scenarios: (1) simulated prices, the throughput target (200 /status per second, p95 under
100 ms); (2) the paper exchange reading prices from the fake Binance, one user's ticker call held
`--slow` seconds, while others' webhooks must still be acknowledged under 20 ms (p95).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.webhook_load import (  # noqa: E402
    BotProcess,
    ChatFakes,
    Sent,
    cpu_seconds,
    fire,
    plan,
    register_tokens,
    replies,
)
from tests.fakes.exchange import FakeExchange, Fault, shared_data_missing  # noqa: E402


def percentiles(values: list[float]) -> str:
    """p50/p95/p99 in milliseconds."""
    if not values:
        return "n/a"
    ordered = sorted(values)
    picked = [ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in (0.5, 0.95, 0.99)]
    return "/".join(f"{v * 1000:.1f}" for v in picked)


def report(
    title: str, sent: list[Sent], arrived: dict[str, float], seconds: float
) -> dict[str, Any]:
    print(f"\n{title}")
    print(
        f"  {'':9} {'sent':>5} {'ok':>5} {'replied':>7}  {'ack p50/p95/p99 ms':>20}  "
        f"{'reply p50/p95/p99 ms':>22}"
    )
    summary: dict[str, Any] = {}
    for channel in ("telegram", "line", "all"):
        mine = [s for s in sent if channel in ("all", s.shot.channel)]
        ok = [s for s in mine if s.status == 200]
        latency = [arrived[s.shot.key] - s.sent_at for s in ok if s.shot.key in arrived]
        acks = [s.ack_s for s in mine]
        print(
            f"  {channel:9} {len(mine):5} {len(ok):5} {len(latency):7}  "
            f"{percentiles(acks):>20}  {percentiles(latency):>22}"
        )
        summary[channel] = {"ack": acks, "reply": latency, "replied": len(latency)}
    if sent:
        first = min(s.sent_at for s in sent)
        span = max(arrived.get(s.shot.key, s.sent_at) for s in sent) - first
        print(
            f"  offered {len(sent) / seconds:.0f} webhooks/s; the last reply came {span:.1f} s "
            f"after the first webhook: {summary['all']['replied'] / span:.0f} replies/s"
        )
    return summary


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * len(values))] if values else float("inf")


def throughput(
    fakes: ChatFakes, tmp: Path, rate: float, seconds: float, profile: str | None
) -> bool:
    with BotProcess(fakes, tmp / "throughput", profile) as bot:
        warm = plan(20, 10_000_000, fakes.info)
        register_tokens(fakes, warm)
        asyncio.run(fire(bot.port, warm, 50))
        replies(fakes, len(warm))
        fakes.ask("reset")
        shots = plan(int(rate * seconds), 0, fakes.info)
        register_tokens(fakes, shots)
        pids = (bot.process.pid, fakes.process.pid)
        before = [*(cpu_seconds(pid) for pid in pids), time.process_time()]
        sent = asyncio.run(fire(bot.port, shots, rate))
        arrived = replies(fakes, len(shots))
        after = [*(cpu_seconds(pid) for pid in pids), time.process_time()]
        bot_cpu, fakes_cpu, load_cpu = (b - a for a, b in zip(before, after, strict=True))
    title = f"1. /status at {rate:.0f}/s for {seconds:.0f} s, simulated price"
    summary = report(title, sent, arrived, seconds)
    print(
        f"  CPU seconds: bot {bot_cpu:.1f} ({bot_cpu / len(shots) * 1000:.1f} ms a request), "
        f"fake APIs {fakes_cpu:.1f}, load generator {load_cpu:.1f}"
    )
    met = summary["all"]["replied"] == len(shots) and p95(summary["all"]["reply"]) < 0.100
    print(f"  target: every reply, p95 under 100 ms: {'met' if met else 'NOT met'}")
    return met


def slow_exchange(fakes: ChatFakes, tmp: Path, rate: float, slow_s: float) -> bool:
    missing = shared_data_missing()
    if missing:
        print(f"\n2. skipped: the fake exchange needs {missing}")
        return True
    with (
        FakeExchange("binance") as exchange,
        BotProcess(
            fakes, tmp / "slow", DCABOT_PRICE_SOURCE="exchange", DCABOT_BINANCE_API_URL=exchange.url
        ) as bot,
    ):
        warm = plan(2, 20_000_000, fakes.info)  # loads the markets through ccxt
        register_tokens(fakes, warm)
        asyncio.run(fire(bot.port, warm, 10))
        replies(fakes, len(warm))
        fakes.ask("reset")
        tickers = {r.endpoint for r in exchange.requests if "ticker" in r.path}
        for endpoint in tickers:
            exchange.inject(endpoint, Fault.slow(slow_s))
        slow_one = plan(1, 30_000_000, fakes.info)
        others = plan(int(rate * (slow_s - 0.5)), 0, fakes.info)
        register_tokens(fakes, slow_one + others)

        async def scenario() -> tuple[list[Sent], list[Sent]]:
            first = await fire(bot.port, slow_one, 100)
            await asyncio.sleep(0.2)  # the slow ticker call is now in flight
            return first, await fire(bot.port, others, rate)

        first, sent = asyncio.run(scenario())
        arrived = replies(fakes, len(others) + 1, timeout=slow_s + 30)
    title = (
        f"2. /status at {rate:.0f}/s while one user's ticker call ({', '.join(sorted(tickers))}) "
        f"takes {slow_s:.0f} s, prices from the fake Binance"
    )
    summary = report(title, sent, arrived, slow_s - 0.5)
    slow_reply = arrived.get(first[0].shot.key, float("nan")) - first[0].sent_at
    ack_ms = first[0].ack_s * 1000
    print(f"  the slow user's own reply came after {slow_reply:.2f} s (ack {ack_ms:.1f} ms)")
    met = p95(summary["all"]["ack"]) < 0.020
    verdict = "met" if met else "NOT met"
    print(f"  target: ack p95 under 20 ms while the slow call is in flight: {verdict}")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to send")
    parser.add_argument("--slow", type=float, default=3.0, help="seconds of the slow ticker call")
    parser.add_argument("--only", choices=("throughput", "slow"), help="run one scenario")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the bot in scenario 1")
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"dcabot webhook benchmark: {os.cpu_count()} CPUs, load average {load} before starting, "
        f"Python {sys.version.split()[0]}"
    )
    with ChatFakes() as fakes, tempfile.TemporaryDirectory() as folder:
        ok = True
        if args.only in (None, "throughput"):
            ok = throughput(fakes, Path(folder), args.rate, args.seconds, args.profile)
            fakes.ask("reset")
        if args.only in (None, "slow"):
            ok = slow_exchange(fakes, Path(folder), min(args.rate, 100.0), args.slow) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
