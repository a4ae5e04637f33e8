"""The detector behind the policy "no blocking database work on the event loop" (docs/design.md).

A listener on every SQLAlchemy engine sees each statement before it goes to the driver. When the
thread running it also runs an asyncio loop, the statement blocks that loop: the stack is walked
to the nearest frame of a coroutine (or async generator) function, and when that frame is product
code (bot/, storage/, strategies/) the site is recorded (so is product code a library calls
back on the loop, see `check`). Test code doing SQL on the loop (a test's
own coroutine setting up rows) is allowed; so is work in `Database.run`'s threads, which run no
loop. `tests/conftest.py` switches it on for every test and fails the test on a violation.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

import bot
import storage
import strategies

# Where the product is imported from (this worktree, or an installed copy), as code objects say.
PRODUCT = tuple(
    str(Path(folder)) + os.sep
    for package in (bot, storage, strategies)
    for folder in package.__path__
)
TESTS = str(Path(__file__).resolve().parent) + os.sep
ASYNC_FLAGS = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


@dataclass(frozen=True)
class Violation:
    module: str
    function: str
    line: int
    sql: str

    @property
    def site(self) -> str:
        return f"{self.module}:{self.function}"

    def __str__(self) -> str:
        return f"{self.site} (line {self.line}) ran {self.sql!r} on the event loop"


_lock = threading.Lock()
_found: list[Violation] = []


def is_product(filename: str) -> bool:
    return filename.startswith(PRODUCT)


def nearest_coroutine(frame: FrameType | None) -> FrameType | None:
    while frame is not None:
        if frame.f_code.co_flags & ASYNC_FLAGS:
            return frame
        frame = frame.f_back
    return None


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def first_words(statement: str, words: int = 3) -> str:
    return " ".join(statement.split()[:words])


def check(frame: FrameType | None, statement: str) -> Violation | None:
    """The violation a statement run from `frame` on a loop's thread makes, if any.

    The culprit is the nearest coroutine when it is product code. When it is a library's (or
    there is none: a callback the loop or a library calls), the product's own outermost frame
    below it is: product code a library calls back on the loop (a ccxt response hook) blocks
    the loop just the same. Test code's own coroutines may run SQL on the loop."""
    owner = nearest_coroutine(frame)
    if owner is not None and is_product(owner.f_code.co_filename):
        return _violation(owner, statement)
    if owner is not None and owner.f_code.co_filename.startswith(TESTS):
        return None
    culprit = None
    while frame is not None and frame is not owner and not _is_asyncio(frame):
        if is_product(frame.f_code.co_filename):
            culprit = frame
        frame = frame.f_back
    return _violation(culprit, statement) if culprit is not None else None


def _is_asyncio(frame: FrameType) -> bool:
    """The loop's own frames (running a callback): the boundary of what the loop was asked."""
    return str(frame.f_globals.get("__name__", "")).startswith("asyncio")


def _violation(frame: FrameType, statement: str) -> Violation:
    module = str(frame.f_globals.get("__name__", frame.f_code.co_filename))
    return Violation(module, frame.f_code.co_qualname, frame.f_lineno, first_words(statement))


def _before_cursor_execute(
    _conn: Any, _cursor: Any, statement: str, *_rest: Any
) -> None:
    if not _on_loop():
        return
    found = check(sys._getframe(1), statement)
    if found is not None:
        with _lock:
            _found.append(found)


def install() -> None:
    if not event.contains(Engine, "before_cursor_execute", _before_cursor_execute):
        event.listen(Engine, "before_cursor_execute", _before_cursor_execute)


def take() -> list[Violation]:
    """The violations seen since the last call, forgotten."""
    with _lock:
        found = list(_found)
        _found.clear()
    return found
