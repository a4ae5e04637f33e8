"""The terminal channel: `dcabot chat` talks to the bot as the machine's owner (an admin).

Interactive on a terminal; from a pipe it reads one command per line and prints each reply, so it
can be scripted. A confirmation is answered by the next line: `yes` goes ahead, anything else
cancels.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.chat.registry import ChatServices, Registry
from bot.chat.replies import Reply
from bot.chat.roles import TERMINAL_USER, identify

ReadLine = Callable[[str], Awaitable[str | None]]
LABEL_WIDTH = 16


def render(reply: Reply) -> str:
    """A reply as plain text for a terminal."""
    out = [f"== {reply.title} =="]
    width = max([LABEL_WIDTH, *(len(f.label) + 2 for f in reply.fields)])
    out += [f"  {f.label.ljust(width)}{f.value}" for f in reply.fields]
    out += [f"  {line}" for line in reply.lines]
    if reply.footer:
        out.append(f"  {reply.footer}")
    if reply.image is not None:
        out.append(f"  Chart: {reply.image}")
    if reply.confirm_token:
        out.append("  Type yes to confirm; anything else cancels.")
    return "\n".join(out)


def stdin_reader(stream: TextIO) -> ReadLine:
    """Read lines without blocking the event loop; a prompt is shown only on a terminal."""
    interactive = stream.isatty()

    async def read(prompt: str) -> str | None:
        def blocking() -> str | None:
            if interactive:
                try:
                    return input(prompt)
                except EOFError:
                    return None
            line = stream.readline()
            return line.rstrip("\n") if line else None

        return await asyncio.to_thread(blocking)

    return read


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
        """Serve commands until end of input (or `quit`); `first_command` runs before the first."""
        if first_command is not None:
            self.show(await self.registry.dispatch(self.user, first_command, self.services))
        while (line := await read("dcabot> ")) is not None:
            if line.strip().lower() in {"quit", "exit"}:
                break
            if not line.strip():
                continue
            reply = await self.registry.dispatch(self.user, line, self.services)
            self.show(reply)
            if reply.followup is not None:  # the exchange was slow: the fresh figures follow
                fresh = await reply.followup
                if fresh is not None:
                    self.show(fresh)
            if reply.confirm_token:
                answer = await read("confirm? ")
                accepted = answer is not None and answer.strip().lower() == "yes"
                self.show(
                    await self.services.confirmations.answer(
                        self.user, reply.confirm_token, accept=accepted
                    )
                )


def run_terminal(
    registry: Registry, services: ChatServices, first_command: str | None = None
) -> Awaitable[None]:
    channel = TerminalChannel(registry, services, sys.stdout)
    return channel.run(stdin_reader(sys.stdin), first_command)
