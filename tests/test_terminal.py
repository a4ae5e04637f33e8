"""The terminal channel as its owner meets it: cards fit 80 columns, a command typed at a
confirmation is not lost, and Ctrl-C stops `dcabot chat` and `dcabot run` at once."""

from __future__ import annotations

import codecs
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.cards.reply import Field, Reply
from bot.cards.terminal_text import WIDTH, render
from storage.db import Database
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings


@pytest.fixture
def bot(tmp_path: Path, db: Database, clock: Clock) -> Bot:
    return make_bot(make_settings(tmp_path), db, clock)


async def test_help_and_every_card_fit_80_columns(bot: Bot) -> None:
    out = await bot.terminal("/help", "/status", "/schedule", "/strategy", "/version")
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= WIDTH, [x for x in lines if len(x) > WIDTH]
    assert "/schedule add <days> <HH:MM> <amount> [exchange] [mode]," in out  # usages kept whole
    assert "Buy BTC now for an amount of USDT" in out


def test_a_long_value_wraps_under_its_label_and_loses_no_word() -> None:
    words = " ".join(f"word{i}" for i in range(60))
    text = render(Reply(kind="text", title="T", fields=(Field("Why", words),), lines=(words,)))
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert text.split().count("word59") == 2 and "Why" in text.splitlines()[1]


async def test_a_command_typed_at_a_confirmation_cancels_it_and_then_runs(bot: Bot) -> None:
    out = await bot.terminal("/buy 50", "/status", "/buy 20", "no", "/history")
    assert out.count("cancelled, nothing was done") == 2
    assert out.index("== Portfolio") > out.index("cancelled")  # /status ran after cancelling
    assert "== Last 0 orders" in out  # and "no" only cancelled: /history ran next
    assert bot.counts()[0] == 0  # no order


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DCABOT_", "TELEGRAM_", "LINE_")) and k != "DATABASE_URL"}
    env.update(DCABOT_DATA_DIR=str(tmp_path / "data"), DCABOT_PRICE_SOURCE="simulated",
               DCABOT_LOG_FILE="off")
    return env


def _wait_for(read: object, needle: str, deadline: float) -> str:
    seen = ""
    while needle not in seen:
        assert time.monotonic() < deadline, f"never saw {needle!r}: {seen[-500:]!r}"
        seen += read()  # type: ignore[operator]
    return seen


def test_ctrl_c_stops_dcabot_chat_at_once_while_it_waits_for_a_line(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat"], cwd=tmp_path, env=_env(tmp_path),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write("/version\n")
        process.stdin.flush()
        _wait_for(process.stdout.readline, "== dcabot", time.monotonic() + 60)
        time.sleep(0.3)  # back waiting for the next line, which never comes
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        code = process.wait(timeout=20)
        assert time.monotonic() - started < 20
        assert code == 130
        assert "Traceback" not in (process.stderr.read() if process.stderr else "")
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize(("language", "greeting", "card"), [
    ("en", "so this terminal is the chat", "Unrealized P&L"),
    ("th", "หน้าจอนี้จึงเป็นแชตกับบอท", "กำไร/ขาดทุนที่ยังไม่รับรู้"),  # DCABOT_LANGUAGE=th
])
def test_ctrl_c_stops_dcabot_run_on_a_terminal(tmp_path: Path, language: str, greeting: str,
                                                card: str) -> None:
    leader, follower = pty.openpty()  # `dcabot run` takes the terminal as its chat
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path,
        env={**_env(tmp_path), "DCABOT_LANGUAGE": language},
        stdin=follower, stdout=follower, stderr=subprocess.PIPE, close_fds=True,
    )
    os.close(follower)
    text = codecs.getincrementaldecoder("utf-8")(errors="replace")  # Thai split across reads

    def read() -> str:
        ready, _, _ = select.select([leader], [], [], 1.0)
        try:
            return text.decode(os.read(leader, 4096)) if ready else ""
        except OSError:
            return ""

    try:
        seen = _wait_for(read, card, time.monotonic() + 60)  # greeted, then its /status
        assert greeting in seen, seen
        time.sleep(0.5)  # at the prompt (which Python writes to stderr on a terminal)
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=20)
        assert code == 130
        assert process.stderr is not None and b"Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
