"""`dcabot` as a person runs it: the scripted chat from README, a restart, bad settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from importlib.metadata import entry_points
from pathlib import Path

CANDLES = """timestamp,open,high,low,close,volume
2026-01-04T00:00:00Z,91000,92000,90000,91500.5,10
2026-01-05T00:00:00Z,91500.5,94000,91000,93883.21,12
"""


def dcabot(tmp_path: Path, stdin: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    prices = tmp_path / "prices.csv"
    prices.write_text(CANDLES)
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DCABOT_", "TELEGRAM_", "LINE_")) and k != "DATABASE_URL"
    }
    clean.update({"DCABOT_DATA_DIR": str(tmp_path / "data"), "DCABOT_PRICES_CSV": str(prices)})
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean,
        timeout=60,
        check=False,
    )


def field(block: str, label: str) -> str:
    for line in block.splitlines():
        if line.strip().startswith(label):
            return line.strip()[len(label) :].strip()
    raise AssertionError(f"no {label!r} in {block}")


def amount(text: str) -> Decimal:
    return Decimal(text.split()[0].replace(",", ""))


def test_the_readme_example_buys_once_and_the_numbers_add_up(tmp_path: Path) -> None:
    run = dcabot(tmp_path, "/status\n/buy 50\nyes\n/status\n", "chat")
    assert run.returncode == 0, run.stderr
    before, confirm, fill, after = run.stdout.strip().split("\n\n")
    assert field(before, "BTC held") == "0.00000000 BTC"
    assert field(before, "USDT free") == "10,000.00 USDT"
    assert "Type yes to confirm" in confirm
    assert fill.startswith("== Bought ==")
    # 50 / 93883.21 = 0.000532576.. -> 0.00053 BTC (step 0.00001); fee 0.1% in BTC
    assert field(fill, "Amount") == "0.00053000 BTC"
    assert field(fill, "Cost") == "49.76 USDT"  # 49.7581013 in the books: cards show cents
    assert field(fill, "Fee") == "0.00000053 BTC"
    assert field(after, "BTC held") == "0.00052947 BTC"
    assert amount(field(after, "USDT free")) == (
        Decimal("10000") - Decimal("49.7581013")).quantize(Decimal("0.01"))
    assert amount(field(after, "BTC held")) == amount(field(fill, "Amount")) - amount(
        field(fill, "Fee")
    )
    assert "Traceback" not in run.stdout + run.stderr


def test_a_restart_keeps_balances_and_history(tmp_path: Path) -> None:
    first = dcabot(tmp_path, "/buy 50\nyes\n", "chat")
    assert first.returncode == 0, first.stderr
    second = dcabot(tmp_path, "/status\n/history\n", "chat")
    assert second.returncode == 0, second.stderr
    assert field(second.stdout, "BTC held") == "0.00052947 BTC"
    bought = "buy BTC/USDT  0.00053000 BTC for 49.76 USDT  [binance paper]"
    assert " ".join(second.stdout.split()).count(" ".join(bought.split())) == 1  # 80 columns


def test_an_invalid_setting_stops_start_up_with_one_line(tmp_path: Path) -> None:
    run = dcabot(tmp_path, "", "chat", DCABOT_TIMEZONE="Asia/Bangkk")
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "dcabot: DCABOT_TIMEZONE='Asia/Bangkk' is invalid: 'Asia/Bangkk' is not an IANA time "
        "zone name (e.g. DCABOT_TIMEZONE=Asia/Bangkok)"
    )
    assert not (tmp_path / "data").exists()


def test_db_upgrade_migrates_explicitly(tmp_path: Path) -> None:
    run = dcabot(tmp_path, "", "db", "upgrade")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("database at revision ")
    assert (tmp_path / "data" / "dcabot.db").exists()


def test_the_console_script_is_installed() -> None:
    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    assert scripts.get("dcabot") == "bot.cli:main"


def test_chat_leaves_its_alerts_in_the_outbox_for_dcabot_run(tmp_path: Path) -> None:
    import sqlite3

    run = dcabot(tmp_path, "/buy 50\nyes\n", "chat")
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("== ") == 2  # the confirmation and the fill, no alert printed
    with sqlite3.connect(tmp_path / "data" / "dcabot.db") as connection:
        rows = connection.execute("SELECT kind, status FROM alert_outbox").fetchall()
    assert rows == [("order_filled", "pending")]


def test_an_unreachable_database_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    for url in ("postgresql://dcabot:secret-pw@127.0.0.1:1/dcabot", "sqlite:////proc/no/such.db"):
        result = dcabot(tmp_path, "", "run", DATABASE_URL=url)
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.startswith("dcabot:")]
        assert len(lines) == 1 and "cannot open the database" in lines[0], result.stderr
        assert "Traceback" not in result.stderr and "secret-pw" not in result.stderr


def test_an_exchange_ccxt_does_not_know_stops_start_up_in_one_line(tmp_path: Path) -> None:
    result = dcabot(tmp_path, "", "run", DCABOT_EXCHANGE="bitkub")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dcabot: DCABOT_EXCHANGE='bitkub' is invalid: 'bitkub' is not an exchange ccxt knows; "
        "use binance or okx (e.g. DCABOT_EXCHANGE=binance)"
    ]


def test_report_prints_the_profit_figures_and_writes_the_chart(tmp_path: Path) -> None:
    assert dcabot(tmp_path, "/buy 50\nyes\n", "chat").returncode == 0
    run = dcabot(tmp_path, "", "report", "--chart", str(tmp_path / "performance.png"))
    assert run.returncode == 0, run.stderr
    first, chart = run.stdout.strip().splitlines()
    assert first.startswith("binance paper: invested 49.76, value ")  # 49.7581013 spent
    assert chart == f"  chart: {tmp_path / 'performance.png'}"
    assert (tmp_path / "performance.png").read_bytes()[:4] == b"\x89PNG"


THAI = re.compile(r"[\u0E00-\u0E7F]")
IDENTIFIERS = {"BTC", "USDT", "UTC", "paper", "binance", "yes", "prices", "csv"}  # and ids


def test_the_readme_example_answers_in_thai_with_dcabot_language_th(tmp_path: Path) -> None:
    """README's scripted session, exactly as written there, with DCABOT_LANGUAGE=th: every card
    is Thai; the only Latin words left are symbols and names (BTC, USDT, paper, binance)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    match = re.search(r"printf '([^']+)' \| dcabot chat", readme)
    assert match is not None
    script = match.group(1).replace("\\n", "\n")
    run = dcabot(tmp_path, script, "chat", DCABOT_LANGUAGE="th")
    assert run.returncode == 0, run.stderr
    cards = run.stdout.strip().split("\n\n")
    assert len(cards) == 4 and all(THAI.search(c.splitlines()[0]) for c in cards), cards
    assert [c.splitlines()[0] for c in cards][2::] == ["== ซื้อแล้ว ==", "== พอร์ต =="]
    shown = re.sub(r"\bdcb[0-9a-z]+", "", run.stdout)  # order ids
    english = set(re.findall(r"[A-Za-z]{2,}", shown)) - IDENTIFIERS
    assert english == set(), (english, run.stdout)
