"""The fake Telegram Bot API in a process of its own, for benchmarks.

In the test process the fake shares the GIL with python-telegram-bot, which costs throughput
under load; here the bot has its interpreter to itself. Only counters cross the boundary
(`stats()`); use the in-process `FakeTelegramAPI` when a test needs faults or message contents.

    with FakeTelegramProcess(global_per_second=300, per_chat_per_second=1) as tg:
        app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).updater(None).build()
        ...
        assert tg.stats()["rate_limited_count"] == 0
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Self

import httpx

from .telegram_api import FakeTelegramAPI

_PACKAGE = __package__ or "tests.fakes"
# The directory holding the top-level package, so `python -m` finds us from there.
_IMPORT_ROOT = Path(__file__).resolve().parents[len(_PACKAGE.split("."))]


class FakeTelegramProcess:
    """Starts `FakeTelegramAPI(token, **limits)` in a child process; stops it on exit."""

    def __init__(self, token: str = "123456:TEST-TOKEN", **options: Any) -> None:
        self.token = token
        self._options = {"token": token, **options}
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 15.0) -> Self:
        self._process = subprocess.Popen(
            [sys.executable, "-m", f"{_PACKAGE}.telegram_process", json.dumps(self._options)],
            cwd=_IMPORT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise RuntimeError("the fake Telegram process did not start")
        return self

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def stats(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(f"{self.url}/_fake/stats", timeout=5).json()
        return answer

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the child exits when its stdin closes
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str]) -> None:
    fake = FakeTelegramAPI(**json.loads(argv[1])).start()
    print(fake.url, flush=True)
    sys.stdin.read()
    fake.stop()


if __name__ == "__main__":
    main(sys.argv)
