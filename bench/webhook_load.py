"""The parts of `bench/webhook.py` that drive processes and sockets: the fake chat APIs in a child
process, `dcabot serve` in another, signed webhooks planned ahead, and an open-loop sender over a
few kept-alive connections."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.line_events import make_text_event, sign_line_body  # noqa: E402
from tests.fakes.telegram_updates import make_message_update  # noqa: E402

SECRET = "bench-webhook-secret"
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
USERS = 100
TG_USERS = [7000 + i for i in range(USERS)]
LINE_USERS = [f"U{0xBE00 + i:032x}" for i in range(USERS)]


class ChatFakes:
    """bench/chat_fakes.py as a child process, spoken to in JSON lines."""

    def __enter__(self) -> ChatFakes:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "chat_fakes.py")],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.info: dict[str, str] = json.loads(self._line())
        return self

    def _line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline()

    def ask(self, op: str, **fields: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self._line())
        return answer

    def __exit__(self, *exc: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BotProcess:
    """`dcabot serve` with the fakes' addresses; stopped with SIGTERM like a platform does."""

    def __init__(
        self, fakes: ChatFakes, data_dir: Path, profile: str | None = None, **env: str
    ) -> None:
        self.profile = profile
        info = fakes.info
        viewers = [f"telegram:{u}" for u in TG_USERS] + [f"line:{u}" for u in LINE_USERS]
        own = ("DCABOT_", "TELEGRAM_", "LINE_")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
        self.env.update(
            DCABOT_DATA_DIR=str(data_dir),
            DCABOT_VIEWERS=",".join(viewers),
            DCABOT_PRICE_SOURCE="simulated",
            TELEGRAM_BOT_TOKEN=info["telegram_token"],
            TELEGRAM_API_URL=info["telegram_url"],
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            LINE_CHANNEL_ACCESS_TOKEN=info["line_token"],
            LINE_CHANNEL_SECRET=info["line_secret"],
            LINE_API_URL=info["line_url"],
            PUBLIC_URL="https://bench.example",
        )
        self.env.update(env)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BotProcess:
        command = [sys.executable, "-m", "bot.cli", "serve", "--port", str(self.port)]
        if self.profile:
            command[1:1] = ["-m", "cProfile", "-o", self.profile]
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dcabot serve did not start")
            time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.communicate(timeout=30)


@dataclass(frozen=True)
class Shot:
    channel: str
    key: str  # the Telegram chat id, or the LINE reply token, the reply is found by
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Sent:
    shot: Shot
    sent_at: float
    ack_s: float
    status: int


def plan(count: int, offset: int, info: dict[str, str], text: str = "/status") -> list[Shot]:
    """`count` webhooks alternating Telegram and LINE, each from a fresh chat or reply token."""
    shots: list[Shot] = []
    for i in range(offset, offset + count):
        if i % 2 == 0:
            chat = -(10_000_000 + i)
            update = make_message_update(i + 1, chat, TG_USERS[i % USERS], text, "group")
            headers = {"Content-Type": "application/json", TELEGRAM_SECRET_HEADER: SECRET}
            body = json.dumps(update).encode()
            shots.append(Shot("telegram", str(chat), "/webhook/telegram", body, headers))
        else:
            token = f"bench{i:012d}"
            event = make_text_event(text.lstrip("/"), LINE_USERS[i % USERS], reply_token=token)
            body = json.dumps({"destination": info["line_bot_user_id"], "events": [event]}).encode()
            signature = sign_line_body(info["line_secret"], body)
            headers = {"Content-Type": "application/json", "X-Line-Signature": signature}
            shots.append(Shot("line", token, "/webhook/line", body, headers))
    return shots


def register_tokens(fakes: ChatFakes, shots: list[Shot]) -> None:
    tokens = [s.key for s in shots if s.channel == "line"]
    owners = [LINE_USERS[int(token.removeprefix("bench")) % USERS] for token in tokens]
    fakes.ask("register", tokens=list(zip(tokens, owners, strict=True)))


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Loopback:
    """A few kept-alive HTTP/1.1 connections to the bot, written by hand: httpx's pool costs
    milliseconds of CPU a request under load, which would make this process the bottleneck."""

    def __init__(self, port: int, connections: int = 32) -> None:
        self.port = port
        self.size = connections
        self.idle: asyncio.Queue[Connection] = asyncio.Queue()

    async def __aenter__(self) -> Loopback:
        for _ in range(self.size):
            self.idle.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))
        return self

    async def __aexit__(self, *exc: object) -> None:
        while not self.idle.empty():
            self.idle.get_nowait()[1].close()

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        reader, writer = await self.idle.get()
        lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await reader.readexactly(length)
        self.idle.put_nowait((reader, writer))
        return status


async def fire(port: int, shots: list[Shot], rate: float) -> list[Sent]:
    """Send `shots` at `rate` per second (an open loop: a slow answer does not slow the sending;
    a request that waits for a free connection has the wait counted in its times)."""
    async with Loopback(port) as client:

        async def one(shot: Shot) -> Sent:
            sent_at, started = time.time(), time.perf_counter()
            try:
                status = await client.post(shot.path, shot.body, shot.headers)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                status = 0  # counted as not acknowledged
            return Sent(shot, sent_at, time.perf_counter() - started, status)

        start = time.perf_counter() + 0.05
        tasks = []
        for i, shot in enumerate(shots):
            wait = start + i / rate - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(one(shot)))
        return await asyncio.gather(*tasks)


def replies(fakes: ChatFakes, expected: int, timeout: float = 30.0) -> dict[str, float]:
    """When each reply reached the fakes, by chat id (Telegram) or reply token (LINE)."""
    deadline = time.monotonic() + timeout
    while True:
        arrived: dict[str, float] = {}
        for chat, at, _ in fakes.ask("telegram")["sent"]:
            arrived.setdefault(chat, at)
        for _, _, token, at in fakes.ask("line")["deliveries"]:
            if token:
                arrived.setdefault(token, at)
        if len(arrived) >= expected or time.monotonic() > deadline:
            return arrived
        time.sleep(0.2)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
