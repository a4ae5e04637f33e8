"""What `dcabot doctor` reports: one finding a line, each check bounded in time, no secret.

A check is a coroutine returning findings. `guarded` gives it a deadline and turns whatever it
raises into one FAIL line with a one-line reason; `Redactor` blanks every secret the checks
know of (tokens, keys, the database password) out of every line before it is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")
MAX_REASON = 240


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    status: Status
    check: str
    message: str

    def line(self) -> str:
        return f"{self.status.value:<4}  {self.check}: {self.message}"


def one_line(exc: BaseException) -> str:
    """A failure in one short line: the exchange's own words for ccxt errors, else the type
    and the first line of the message."""
    from bot.exchanges.ccxt_errors import exchange_reason, is_ccxt_error

    if is_ccxt_error(exc):
        return exchange_reason(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return reason[:MAX_REASON]


async def guarded(
    name: str, check: Callable[[], Awaitable[list[Finding]]], timeout_s: float
) -> list[Finding]:
    """The check's findings; a FAIL line when it raises or takes longer than `timeout_s`."""
    try:
        return await asyncio.wait_for(check(), timeout_s)
    except TimeoutError:
        return [Finding(Status.FAIL, name, f"no answer within {timeout_s:g} s")]
    except Exception as exc:
        return [Finding(Status.FAIL, name, one_line(exc))]


async def in_thread(work: Callable[[], T]) -> T:
    """`work()` in a daemon thread: a blocking call (a database connect) that overruns its
    deadline is abandoned, and never holds up the process's exit as an executor would."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            outcome = functools.partial(_set_result, future, work())
        except BaseException as exc:
            outcome = functools.partial(_set_exception, future, exc)
        with contextlib.suppress(RuntimeError):  # the loop closed: the check timed out long ago
            loop.call_soon_threadsafe(outcome)

    threading.Thread(target=run, name="doctor-check", daemon=True).start()
    return await future


def _set_result(future: asyncio.Future[T], result: T) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[T], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class Redactor:
    """Blanks known secrets out of text; secrets shorter than 6 characters are not tracked
    (they would blank ordinary words)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        self._secrets.update(s for s in secrets if s and len(s) >= 6)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text
