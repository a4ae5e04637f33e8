"""The terminal channel: `dcabot chat` talks to the bot as the machine's owner (an admin).

Interactive on a terminal; from a pipe it reads one command per line and prints each reply, so it
can be scripted. A confirmation is answered by the next line: `yes` goes ahead, anything else
cancels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.cards.reply import Reply
from bot.cards.terminal_text import render
from bot.chat.registry import ChatServices, Registry
from bot.chat.roles import TERMINAL_USER, identify
from bot.i18n import _, speaking

ReadLine = Callable[[str], Awaitable[str | None]]
log = logging.getLogger(__name__)
YES, NO = frozenset({"yes", "y", "ใช่", "ยืนยัน"}), frozenset({"no", "n", "", "ไม่", "ยกเลิก"})


def stdin_reader(stream: TextIO) -> ReadLine:
    """Read lines on a daemon thread of its own, so Ctrl-C stops the bot at once (a line being
    typed never holds up the exit, as a thread of the loop's executor would). A prompt is shown
    only on a terminal."""
    interactive = stream.isatty()
    asks: queue.SimpleQueue[tuple[str, asyncio.AbstractEventLoop, asyncio.Future[str | None]]]
    asks = queue.SimpleQueue()

    def reader() -> None:
        while True:
            prompt, loop, answer = asks.get()
            try:
                if interactive:
                    line: str | None = input(prompt)
                else:
                    raw = stream.readline()
                    line = raw.rstrip("\n") if raw else None
            except EOFError:
                line = None
            except Exception as exc:  # a closed or broken stream: no more input
                log.warning("terminal input stopped: %s", exc)
                line = None
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_settle, answer, line)

    threading.Thread(target=reader, name="terminal-input", daemon=True).start()

    async def read(prompt: str) -> str | None:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str | None] = loop.create_future()
        asks.put((prompt, loop, answer))
        return await answer

    return read


def _settle(answer: asyncio.Future[str | None], line: str | None) -> None:
    if not answer.done():
        answer.set_result(line)


class TerminalChannel:
    def __init__(self, registry: Registry, services: ChatServices, out: TextIO) -> None:
        self.registry = registry
        self.services = services
        self.out = out
        self.user = identify(services.engine.settings, "terminal", TERMINAL_USER, "owner")

    def show(self, reply: Reply) -> None:
        print(render(reply), file=self.out, flush=True)
        print(file=self.out, flush=True)

    async def run(self, read: ReadLine, first_command: str | None = None) -> None:
        """Serve commands until end of input (or `quit`); `first_command` runs before the first.

        A confirmation is answered by the next line: `yes` goes ahead; anything else cancels,
        and a line that is not `no` is then run as the next command (it is never lost)."""
        line = first_command
        if line is None:
            line = await read("dcabot> ")
        while line is not None:
            if line.strip().lower() in {"quit", "exit"}:
                break
            following = None
            if line.strip():
                following = await self._serve(line, read)
            line = following if following is not None else await read("dcabot> ")

    async def _serve(self, line: str, read: ReadLine) -> str | None:
        """Run one command; returns a line typed at its confirmation that is to run next."""
        reply = await self.registry.dispatch(self.user, line, self.services)
        with speaking(reply.language):  # the terminal's own words: "Chart:", "confirm?"
            self.show(reply)
            if reply.followup is not None:  # the exchange was slow: the fresh figures follow
                fresh = await reply.followup
                if fresh is not None:
                    self.show(fresh)
            if not reply.confirm_token:
                return None
            prompt = _("confirm? ")
        answer = await read(prompt)
        word = (answer or "").strip().lower()
        answered = await self.registry.confirm(
            self.services, self.user, reply.confirm_token, accept=word in YES
        )
        with speaking(answered.language):
            self.show(answered)
        if answer is None:
            return "quit"  # end of input: nothing more to run
        return None if word in YES | NO else answer


def run_terminal(
    registry: Registry, services: ChatServices, first_command: str | None = None
) -> Awaitable[None]:
    channel = TerminalChannel(registry, services, sys.stdout)
    return channel.run(stdin_reader(sys.stdin), first_command)
