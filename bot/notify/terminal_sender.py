"""Alerts to the terminal (or, in a service, to its standard output and so its log)."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.cards.terminal_text import render
from bot.notify.outcomes import DELIVERED, AlertMessage, SendResult
from bot.notify.routes import TERMINAL, Route


class TerminalSender:
    channel = TERMINAL

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send(self, route: Route, message: AlertMessage) -> SendResult:
        stream = self._stream or sys.stdout
        print(f"[alert] {render(message.reply)}", file=stream, flush=True)
        return DELIVERED

    async def close(self) -> None:
        return None
