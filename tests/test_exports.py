"""Exports: CSV files a spreadsheet reads back to the database's exact figures, by /export in the
terminal, as a document through the fake Telegram Bot API, as a one-time 10-minute link on LINE,
and by `dcabot export`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import cli
from bot.chat.roles import Role, User
from storage import ledger
from storage.db import Database
from storage.models import Order, OrderFee
from tests.app_harness import PUBLIC_URL, World, line, tg, world
from tests.chat_harness import Bot, make_bot
from tests.conftest import Clock, make_settings

__all__ = ["line", "tg", "world"]  # fixtures
ADMIN = User("telegram", "1", Role.ADMIN)
START = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


async def confirmed(bot: Bot, command: str) -> None:
    ask = await bot.say(command)
    assert ask.confirm_token, ask
    await bot.registry.confirm(bot.services, ADMIN, ask.confirm_token, accept=True)


@pytest.fixture
async def trading(tmp_path: Path, db: Database, clock: Clock) -> Bot:
    """Three days of a paper account in Bangkok: buys, a sale into the reserve, a deposit."""
    clock.now = START
    bot = make_bot(make_settings(tmp_path, timezone="Asia/Bangkok"), db, clock)
    await confirmed(bot, "/buy 100")
    clock.now += timedelta(days=1)
    await confirmed(bot, "/buy 250.5")
    await bot.say("/reserve add 40")
    clock.now += timedelta(days=1)
    await confirmed(bot, "/sell 50")
    return bot


async def test_every_file_reads_back_to_the_books_exactly(trading: Bot) -> None:
    reply = await trading.say("/export")
    assert [p.name for p in reply.documents] == [
        "dcabot-orders.csv", "dcabot-reserve.csv", "dcabot-fees.csv"]
    assert all(p.stat().st_mode & 0o077 == 0 for p in reply.documents)  # private files
    orders, reserve, fees = (rows_of(p.read_text(encoding="utf-8")) for p in reply.documents)
    with trading.db.transaction() as session:
        stored = session.scalars(select(Order).order_by(Order.id)).all()
        fee_rows = session.scalars(select(OrderFee).order_by(OrderFee.id)).all()
        balance = ledger.balance(session, "binance", "paper")
        assert [(r["client_order_id"], Decimal(r["quote_amount"]), Decimal(r["base_amount"]),
                 r["side"], r["cause"]) for r in orders] == [
            (o.client_order_id, o.filled_quote, o.filled_base, o.side, o.cause) for o in stored]
        assert [datetime.fromisoformat(r["time_utc"]) for r in orders] == [
            o.created_at for o in stored]
    assert orders[0]["time_local"].endswith("+07:00")  # the owner's zone beside UTC
    assert sum(Decimal(r["value_usdt"]) for r in fees) == sum(
        f.quote_value or 0 for f in fee_rows)
    assert [r["reason"] for r in reserve] and Decimal(reserve[-1]["balance_after"]) == balance
    assert sum(Decimal(r["amount"]) for r in reserve) == balance


async def test_a_period_is_days_in_the_owners_zone(trading: Bot) -> None:
    reply = await trading.say("/export orders 2026-01-11 2026-01-11")
    (only,) = reply.documents
    assert only.name == "dcabot-orders-20260111-20260112.csv"  # [start, end) in Bangkok
    assert reply.lines[-1] == "From 2026-01-11 to 2026-01-11, times in UTC and Asia/Bangkok."
    (row,) = rows_of(only.read_text(encoding="utf-8"))  # the 16:00 Bangkok buy of that day
    assert row["side"] == "buy" and Decimal("250") < Decimal(row["quote_amount"]) <= 250.5
    assert row["time_local"].startswith("2026-01-11T16:00")
    for wrong, says in [("/export trades", "not an export"),
                        ("/export orders 2026-13-01", "not a date"),
                        ("/export all 2026-02-01 2026-01-01", "after its start")]:
        answer = await trading.say(wrong)
        assert answer.kind == "error" and says in answer.lines[0], (wrong, answer)


def test_telegram_sends_the_files_as_documents(world: World) -> None:
    sent = world.telegram_says("/export reserve")
    documents = [m for m in sent if m.method == "sendDocument"]
    assert len(documents) == 1
    assert documents[0].message["document"]["file_name"] == "dcabot-reserve.csv"
    assert isinstance(documents[0].photo, bytes)
    assert documents[0].photo.decode().startswith("time_utc,time_local,exchange,mode,amount")


def test_line_links_work_once_and_for_ten_minutes(world: World) -> None:
    messages = world.line_says("/export")
    links = [line for m in messages if m.get("type") == "text"
             for line in str(m["text"]).splitlines() if line.startswith(PUBLIC_URL)]
    assert len(links) == 3
    first = links[0].removeprefix(PUBLIC_URL)
    for _ in range(2):  # opening, previewing or HEAD shows the button and uses nothing up
        page = world.client.get(first)
        assert page.status_code == 200 and "<form method=post>" in page.text
        assert "dcabot-orders.csv" in page.text
    assert world.client.head(first).status_code == 200
    got = world.client.post(first)
    assert got.status_code == 200 and got.text.startswith("time_utc,time_local")
    assert "attachment" in got.headers["content-disposition"]
    assert world.client.post(first).status_code == 404  # once
    assert world.client.get(first).status_code == 404
    world.clock.advance(minutes=10, seconds=1)
    assert world.client.get(links[1].removeprefix(PUBLIC_URL)).status_code == 404  # expired
    assert world.client.post(links[1].removeprefix(PUBLIC_URL)).status_code == 404
    assert world.client.post("/downloads/not-a-token-at-all-xxxxxxxxxx").status_code == 404


def test_the_command_line_writes_the_same_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        database_url: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DCABOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert cli.main(["export", "fees", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    (path,) = [Path(line.split()[0]) for line in out.splitlines()]
    assert path.parent.parent == tmp_path / "out" and path.name == "dcabot-fees.csv"
    assert path.read_text(encoding="utf-8").startswith("time_utc,time_local,exchange,mode,cause")
    assert cli.main(["export", "trades"]) == 2


async def test_an_owner_in_utc_is_told_utc_once(tmp_path: Path, db: Database,
                                                clock: Clock) -> None:
    bot = make_bot(make_settings(tmp_path), db, clock)
    assert (await bot.say("/export")).lines[-1] == "From the start to now, times in UTC."
