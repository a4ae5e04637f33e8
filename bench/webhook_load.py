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
from collections.abc import Sequence
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
TG_USERS = [7000 + i for i in range(USERS)]  # viewers (DCABOT_VIEWERS)
LINE_USERS = [f"U{0xBE00 + i:032x}" for i in range(USERS)]
ADMINS = 10
TG_ADMINS = [6000 + i for i in range(ADMINS)]  # admins, given with `admins_env()`
LINE_ADMINS = [f"U{0xAD00 + i:032x}" for i in range(ADMINS)]
STRANGER_TG = 900_000_000  # strangers' ids start here, one new id an update
STRANGER_LINE = 0x5700_0000


def admins_env() -> dict[str, str]:
    """The BotProcess environment that makes TG_ADMINS and LINE_ADMINS admins."""
    admins = [f"telegram:{u}" for u in TG_ADMINS] + [f"line:{u}" for u in LINE_ADMINS]
    return {"DCABOT_ADMINS": ",".join(admins)}


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
        self,
        fakes: ChatFakes,
        data_dir: Path,
        profile: str | None = None,
        workers: int = 1,
        **env: str,
    ) -> None:
        self.profile = profile
        self.workers = workers
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
        command = [sys.executable, "-m", "bot.cli", "serve", "--port", str(self.port),
                   "--workers", str(self.workers)]
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
    user: str  # the sender's id on its platform
    text: str  # what they typed


@dataclass(frozen=True)
class Sent:
    shot: Shot
    sent_at: float
    ack_s: float
    status: int


def _telegram(update: dict[str, Any], chat: int, user: int, text: str) -> Shot:
    headers = {"Content-Type": "application/json", TELEGRAM_SECRET_HEADER: SECRET}
    body = json.dumps(update).encode()
    return Shot("telegram", str(chat), "/webhook/telegram", body, headers, str(user), text)


def _line(info: dict[str, str], token: str, user: str, text: str) -> Shot:
    event = make_text_event(text.lstrip("/"), user, reply_token=token)
    body = json.dumps({"destination": info["line_bot_user_id"], "events": [event]}).encode()
    signature = sign_line_body(info["line_secret"], body)
    headers = {"Content-Type": "application/json", "X-Line-Signature": signature}
    return Shot("line", token, "/webhook/line", body, headers, user, text)


def plan(
    count: int,
    offset: int,
    info: dict[str, str],
    text: str | Sequence[str] = "/status",
    *,
    admins: bool = False,
) -> list[Shot]:
    """`count` webhooks alternating Telegram and LINE, each from a fresh chat or reply token,
    from the viewers (or the admins). Several texts take turns, each on both platforms."""
    texts = [text] if isinstance(text, str) else list(text)
    tg_users, line_users = (TG_ADMINS, LINE_ADMINS) if admins else (TG_USERS, LINE_USERS)
    shots: list[Shot] = []
    for i in range(offset, offset + count):
        typed = texts[(i - offset) // 2 % len(texts)]
        if i % 2 == 0:
            chat, user = -(10_000_000 + i), tg_users[i % len(tg_users)]
            update = make_message_update(i + 1, chat, user, typed, "group")
            shots.append(_telegram(update, chat, user, typed))
        else:
            token = f"bench{i:012d}"
            shots.append(_line(info, token, line_users[i % len(line_users)], typed))
    return shots


def plan_strangers(
    count: int, offset: int, info: dict[str, str], text: str = "/status"
) -> list[Shot]:
    """`count` webhooks alternating Telegram and LINE, each from a new stranger: a private
    Telegram chat (its id the user's) or a LINE user id never seen before."""
    shots: list[Shot] = []
    for i in range(offset, offset + count):
        if i % 2 == 0:
            user = STRANGER_TG + i
            update = make_message_update(50_000_000 + i, user, user, text, "private")
            shots.append(_telegram(update, user, user, text))
        else:
            shots.append(_line(info, f"stranger{i:012d}", f"U{STRANGER_LINE + i:032x}", text))
    return shots


def register_tokens(fakes: ChatFakes, shots: list[Shot]) -> None:
    tokens = [[s.key, s.user] for s in shots if s.channel == "line"]
    fakes.ask("register", tokens=tokens)


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


def replies(
    fakes: ChatFakes, expected: int, timeout: float = 30.0, wanted: set[str] | None = None
) -> dict[str, float]:
    """When each reply reached the fakes, by chat id (Telegram) or reply token (LINE); waits
    for `expected` of them, or for every key in `wanted`."""
    deadline = time.monotonic() + timeout
    while True:
        arrived: dict[str, float] = {}
        for chat, at, _ in fakes.ask("telegram")["sent"]:
            arrived.setdefault(chat, at)
        for _, _, token, at in fakes.ask("line")["deliveries"]:
            if token:
                arrived.setdefault(token, at)
        done = wanted <= arrived.keys() if wanted is not None else len(arrived) >= expected
        if done or time.monotonic() > deadline:
            return arrived
        time.sleep(0.2)


def delivered_to(fakes: ChatFakes, telegram_chats: set[str], line_users: set[str]) -> list[int]:
    """How many messages the fakes received for these Telegram chats and LINE users (by reply
    or push), and how many calls each fake refused: [telegram, line, refused]."""
    telegram, line = fakes.ask("telegram"), fakes.ask("line")
    to_telegram = sum(1 for chat, _, _ in telegram["sent"] if chat in telegram_chats)
    to_line = sum(1 for _, to, _, _ in line["deliveries"] if to in line_users)
    return [to_telegram, to_line, telegram["refused"] + line["refused"]]


def reply_texts(fakes: ChatFakes, keys: list[str]) -> dict[str, list[str]]:
    """The text of every message received for these Telegram chats or LINE reply tokens (for
    a LINE Flex card, the texts in it, one a line)."""
    texts: dict[str, list[str]] = fakes.ask("texts", keys=keys)["texts"]
    return texts


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
