"""The web app around the channels: health, charts, claims, shutdown, polling, the CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from storage.db import Database
from storage.inbound import claim_update, forget_processed_before
from tests.app_harness import (
    SECRET,
    TG_ADMIN,
    TG_VIEWER,
    World,
    chat_settings,
    line,
    next_update_id,
    running_world,
    tg,
    world,
)
from tests.conftest import Clock
from tests.fakes.line_api import FakeLineAPI
from tests.fakes.telegram_api import FakeTelegramAPI, make_message_update

__all__ = ["line", "tg", "world"]  # fixtures


def test_claims_are_once_per_channel_and_key_and_age_out(db: Database) -> None:
    now = datetime(2026, 11, 21, tzinfo=UTC)
    assert claim_update(db, "telegram", "42", now)
    assert not claim_update(db, "telegram", "42", now + timedelta(seconds=1))
    assert claim_update(db, "line", "42", now)  # another channel's key space
    assert claim_update(db, "telegram", "43", now + timedelta(days=8))
    assert forget_processed_before(db, now + timedelta(days=1)) == 2
    assert claim_update(db, "telegram", "42", now + timedelta(days=9))
    with pytest.raises(ValueError):
        claim_update(db, "line", "x" * 81, now)


def test_health_reports_every_part(world: World) -> None:
    answer = world.client.get("/health")
    assert answer.status_code == 200
    body = answer.json()
    alerts = body.pop("alerts")
    assert alerts["backlog"] == 0
    assert {name: state["state"] for name, state in alerts["channels"].items()} == {
        "telegram": "ok", "line": "ok", "terminal": "ok"}
    tasks = body.pop("tasks")
    assert {name: task["state"] for name, task in tasks.items()} == {"prune-updates": "running"}
    assert body == {
        "status": "ok",
        "version": "0.1.0",
        "database": "ok",
        "scheduler": "off",
        "jobs": {},
        "exchange": {"name": "binance", "mode": "paper"},
        "exchanges": [{"name": "binance", "mode": "paper"}],
        "channels": {"telegram": "webhook", "line": "webhook"},
        "replies_in_flight": 0,
    }


def test_health_shows_the_scheduler_leader(
    tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, clock: Clock
) -> None:
    with running_world(chat_settings(tmp_path, tg, line), tg, line, clock, schedule=True) as w:
        deadline = time.monotonic() + 10
        while w.client.get("/health").json()["scheduler"] != "leader":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        body = w.client.get("/health").json()
        # no schedules yet: the watches, the minute's settling and the hourly runway check
        assert set(body["jobs"]) == {"trend-watch", "s4-watch", "settle", "runway"}
        assert body["tasks"]["scheduler"]["state"] == "running"
        assert body["status"] == "ok"


def test_charts_are_served_by_strict_id_only(world: World) -> None:
    charts = world.settings.data_dir / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    (charts / "0123abcd.png").write_bytes(b"\x89PNG chart")
    (world.settings.data_dir / "secret.png").write_bytes(b"not for you")
    ok = world.client.get("/charts/0123abcd.png")
    assert ok.status_code == 200 and ok.content == b"\x89PNG chart"
    assert ok.headers["content-type"] == "image/png"
    for path in (
        "/charts/missing.png",
        "/charts/..%2Fsecret.png",
        "/charts/../secret.png",
        "/charts/a.b.png",
        "/charts/0123abcd.PNG",
        "/charts/%2e%2e.png",
        "/charts/" + "a" * 65 + ".png",
    ):
        assert world.client.get(path).status_code == 404, path


def test_shutdown_drains_replies_in_flight(
    tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, clock: Clock
) -> None:
    tg.delay_next("sendMessage", 0.5)
    with running_world(chat_settings(tmp_path, tg, line), tg, line, clock) as w:
        update = make_message_update(next_update_id(), TG_ADMIN, TG_ADMIN, "/status")
        assert w.post_telegram(update).status_code == 200
    assert [m.text.split("\n")[0] for m in tg.messages(TG_ADMIN) if m.text] == ["ℹ️ Portfolio"]


def test_a_slow_reply_for_one_user_holds_up_nobody_else(world: World) -> None:
    world.tg.delay_next("sendMessage", 1.5, chat_id=TG_ADMIN)  # Telegram slow for one chat
    slow = make_message_update(next_update_id(), TG_ADMIN, TG_ADMIN, "/status")
    started = time.monotonic()
    assert world.post_telegram(slow).status_code == 200
    assert time.monotonic() - started < 0.5  # acknowledged before the reply went out
    for viewer in (TG_VIEWER, TG_VIEWER + 1, TG_VIEWER + 2):
        update = make_message_update(next_update_id(), viewer, viewer, "/whoami")
        started = time.monotonic()
        assert world.post_telegram(update).status_code == 200
        assert time.monotonic() - started < 0.5
    world.tg.wait_for_messages(TG_VIEWER + 2)
    assert world.tg.messages(TG_ADMIN) == []  # still on its way while the others were answered
    world.settle()
    assert "Portfolio" in (world.tg.messages(TG_ADMIN)[0].text or "")


def test_polling_serves_telegram_without_a_webhook(
    tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, clock: Clock
) -> None:
    with running_world(chat_settings(tmp_path, tg, line), tg, line, clock, polling=True) as w:
        assert w.client.get("/health").json()["channels"]["telegram"] == "polling"
        update = make_message_update(next_update_id(), TG_ADMIN, TG_ADMIN, "/status")
        tg.push_update(update)
        tg.wait_for_messages(TG_ADMIN)
        assert w.post_telegram(update).status_code == 404  # no webhook while polling
        assert w.line_says("/whoami")  # LINE still comes by webhook
    assert "Portfolio" in (tg.messages(TG_ADMIN)[0].text or "")
    assert tg.calls_to("deleteWebhook")


def test_set_webhook_registers_secret_updates_and_menu(
    tg: FakeTelegramAPI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", tg.token)
    monkeypatch.setenv("TELEGRAM_API_URL", tg.url)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", SECRET)
    assert main(["telegram", "set-webhook", "--url", "https://bot.example"]) == 0
    assert tg.webhook == {
        "url": "https://bot.example/webhook/telegram",
        "secret_token": SECRET,
        "allowed_updates": ["message", "edited_message", "callback_query"],
    }
    menu = [c["command"] for c in tg.commands()]
    assert menu[:3] == ["start", "help", "whoami"] and "status" in menu and "buy" not in menu
    assert main(["telegram", "webhook-info"]) == 0
    assert "url: https://bot.example/webhook/telegram" in capsys.readouterr().out
    assert main(["telegram", "set-webhook", "--url", "http://bot.example"]) == 2
    assert "not an https:// address" in capsys.readouterr().err
    assert main(["telegram", "delete-webhook"]) == 0
    assert not tg.webhook.get("url")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_dcabot_run_serves_webhooks_with_the_scheduler(
    tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI
) -> None:
    port = _free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DCABOT_", "TELEGRAM_", "LINE_"))
    }
    env.update(
        DCABOT_DATA_DIR=str(tmp_path / "data"),
        DCABOT_PRICE_SOURCE="simulated",
        DCABOT_ADMINS=f"telegram:{TG_ADMIN}",
        TELEGRAM_BOT_TOKEN=tg.token,
        TELEGRAM_API_URL=tg.url,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/health", timeout=1).json()
                if health["scheduler"] == "leader":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
        update = make_message_update(next_update_id(), TG_ADMIN, TG_ADMIN, "/status")
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        assert (
            httpx.post(f"{base}/webhook/telegram", json=update, headers=headers).status_code == 200
        )
        deadline = time.monotonic() + 10
        while not any("Portfolio" in (m.text or "") for m in tg.messages(TG_ADMIN)):
            assert time.monotonic() < deadline, [m.text for m in tg.messages(TG_ADMIN)]
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    texts = [m.text or "" for m in tg.messages(TG_ADMIN)]
    assert any(t.startswith("ℹ️ dcabot started") for t in texts), texts  # the owner hears it
    assert tg.token not in output and SECRET not in output  # never a secret in the log


def test_settings_that_would_leave_a_webhook_open_stop_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DCABOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", "a-token")
    assert main(["serve"]) == 2
    assert "LINE_CHANNEL_SECRET is not" in capsys.readouterr().err
    monkeypatch.setenv("LINE_CHANNEL_SECRET", "a-secret")
    monkeypatch.setenv("PUBLIC_URL", "http://bot.example")
    assert main(["serve"]) == 2
    error = capsys.readouterr().err
    assert "PUBLIC_URL='http://bot.example' is invalid" in error and "https://" in error
    monkeypatch.setenv("PUBLIC_URL", "https://bot.example")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "has spaces")
    assert main(["serve"]) == 2
    error = capsys.readouterr().err
    assert "TELEGRAM_WEBHOOK_SECRET is invalid" in error and "has spaces" not in error


def test_dcabot_run_delivers_the_fill_alert_to_the_admin(
    tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, clock: Clock
) -> None:
    """With the dispatcher on, as `dcabot run` has it: the buy's alert reaches the owner."""
    settings = chat_settings(tmp_path, tg, line, alert_routes=f"owner=telegram:{TG_ADMIN}")
    with running_world(settings, tg, line, clock, dispatch=True) as w:
        [ask] = w.telegram_says("/buy 50")
        confirm = ask.reply_markup["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index]
        w.telegram_taps(confirm, ask)
        deadline = time.monotonic() + 15
        while not any("filled" in (m.text or "").lower() or "bought" in (m.text or "").lower()
                      for m in tg.messages(TG_ADMIN)[2:]):
            assert time.monotonic() < deadline, [m.text for m in tg.messages(TG_ADMIN)]
            time.sleep(0.1)
        alert = tg.messages(TG_ADMIN)[2].text or ""
        assert "50" in alert or "0.0005" in alert, alert  # the fill's numbers, not the reply
        assert len(tg.messages(TG_ADMIN)) == 3  # delivered once
