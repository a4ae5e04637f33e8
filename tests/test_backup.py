"""`dcabot backup` and `dcabot restore` as a person runs them, on real SQLite files written by
the project's own storage and engine functions: a consistent copy while a writer keeps
committing, everything back row by row in a fresh data dir, refusals that change nothing, the
master key never in the backup, and PostgreSQL's commands without the password."""

from __future__ import annotations

import asyncio
import shlex
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot import cli
from bot.config import load_settings
from bot.engine import pause
from bot.engine.exchange_keys import master_key, stored_credentials
from bot.engine.schedules import add_schedule, change_schedule
from bot.engine.setup import open_database, open_engine
from storage import credentials, ledger, orders
from storage.credentials import ApiCredentials
from storage.db import Database
from storage.leader import LeaderLock
from storage.sqlite_backup import inspect

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
KEYS = ApiCredentials("binance", "BackupKeyAbCd0123456789wXyZ", "backup-SECRET-never-shown")
TABLES = ("orders", "reserve_ledger", "schedules", "exchange_credentials")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DCABOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("DCABOT_PRICE_SOURCE", "simulated")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def write_order_and_ledger(db: Database, number: int) -> None:
    """One order intent and one reserve row, in one transaction: a consistent copy always has
    as many of one as of the other."""
    with db.transaction() as session:
        order = orders.write_intent(
            session,
            client_order_id=f"dcbtest{number}",
            cause="buy_now",
            cause_key=f"test:{number}",
            side="buy",
            symbol="BTC/USDT",
            exchange="binance",
            mode="paper",
            requested_quote=Decimal("25.5"),
            requested_base=None,
            requested_by="telegram:1",
            now=NOW,
        )
        ledger.append(
            session,
            exchange="binance",
            mode="paper",
            amount=Decimal("1.000000000000000001"),
            reason="deposit",
            note=f"row {number}",
            order_id=order.id,
            now=NOW,
        )


def populate(home: Path) -> None:
    """Schedules through the engine's use cases, orders and ledger rows through storage, and
    stored exchange keys under the master key: what a running bot leaves."""
    settings = load_settings()
    engine = open_engine(settings)
    try:
        asyncio.run(add_schedule(engine, "mon,thu", "09:00", Decimal(50), None, "cdc",
                                 requested_by="telegram:1"))
        view = asyncio.run(add_schedule(engine, "daily", "21:30", Decimal("12.5"), None, "plain",
                                        requested_by="telegram:1"))
        change_schedule(engine, view.id, "pause", requested_by="telegram:1")
        for number in range(5):
            write_order_and_ledger(engine.db, number)
        key = master_key(settings, create=True)
        assert key is not None
        with engine.db.transaction() as session:
            credentials.store(session, KEYS, "live", key, NOW)
    finally:
        asyncio.run(engine.exchange.close())
        engine.db.dispose()


def rows(database: Path) -> dict[str, list[tuple[object, ...]]]:
    connection = sqlite3.connect(database)
    try:
        return {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
            for table in TABLES
        }
    finally:
        connection.close()


def backup_path(out: str) -> Path:
    return Path(out.split(" to ", 1)[1].split(" (", 1)[0])


def test_a_backup_while_a_writer_commits_is_one_consistent_moment(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(home)
    db = open_database(load_settings())
    written, stop, failures = [0], threading.Event(), []

    def writer() -> None:
        try:
            while not stop.is_set():
                write_order_and_ledger(db, 1000 + written[0])
                written[0] += 1
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        copies = []
        for _ in range(3):
            while written[0] < 20 + 20 * len(copies):  # the writer is busy before and during
                stop.wait(0.005)
            before = written[0]
            code, out, _ = run(capsys, "backup")
            assert code == 0, out
            copies.append((backup_path(out), before, written[0]))
    finally:
        stop.set()
        thread.join()
        db.dispose()
    assert not failures
    for path, before, after in copies:
        snapshot = inspect(path)  # integrity_check ok, a known revision
        assert path.stat().st_mode & 0o777 == 0o600
        assert snapshot.counts["orders"] == snapshot.counts["reserve_ledger"]
        assert 5 + before <= snapshot.counts["orders"] <= 5 + after
        with sqlite3.connect(path) as copy:
            balance = copy.execute("SELECT balance FROM reserve_accounts").fetchone()[0]
            amounts = [Decimal(a) for (a,) in copy.execute("SELECT amount FROM reserve_ledger")]
        assert Decimal(balance) == sum(amounts)  # the account row and its ledger, same moment
    assert len({path for path, _, _ in copies}) == 3
    assert any(after > before for _, before, after in copies)  # commits went on meanwhile


def test_restore_into_a_fresh_data_dir_brings_everything_back(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(home)
    original = rows(home / "data" / "dcabot.db")
    assert [len(original[t]) for t in TABLES] == [5, 5, 2, 1]
    code, out, _ = run(capsys, "backup", "--to", str(home / "backups"))
    assert code == 0
    backup = backup_path(out)
    assert backup.parent == home / "backups" and backup.name.startswith("dcabot-")
    assert [p.name for p in (home / "backups").iterdir()] == [backup.name]  # no key beside it
    assert "orders 5, reserve ledger rows 5, schedules 2, stored exchange key sets 1" in out
    key_file = home / "config" / "dcabot" / "master.key"
    assert f"the master key is NOT in this backup; it is the file {key_file}" in out
    assert key_file.read_text().strip() not in out and KEYS.secret not in out

    monkeypatch.setenv("DCABOT_DATA_DIR", str(home / "fresh"))
    code, out, _ = run(capsys, "restore", str(backup))
    assert code == 0, out
    restored = home / "fresh" / "dcabot.db"
    assert f"restored {backup} (schema revision " in out and "before-restore" not in out
    assert "orders 5, reserve ledger rows 5, schedules 2, stored exchange key sets 1" in out
    assert "the current master key opens all 1 stored exchange key set(s)" in out
    assert rows(restored) == original
    assert restored.stat().st_mode & 0o777 == 0o600
    assert "trading is PAUSED" in out  # what happened after the backup is unknown to it
    db = open_database(load_settings())
    try:
        assert stored_credentials(db, load_settings(), "binance", "live") == KEYS
        with db.transaction() as session:
            assert pause.paused_in(session) is not None
    finally:
        db.dispose()


def test_restore_over_a_database_keeps_the_old_one_aside(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(home)
    database = home / "data" / "dcabot.db"
    before = rows(database)
    code, out, _ = run(capsys, "backup")
    backup = backup_path(out)
    db = open_database(load_settings())
    write_order_and_ledger(db, 99)  # after the backup: the restore takes it away
    db.dispose()
    later = rows(database)
    code, out, _ = run(capsys, "restore", str(backup))
    assert code == 0
    [aside] = (home / "data").glob("dcabot.db.before-restore-*")
    assert f"the database as it was is kept as {aside}" in out
    assert rows(database) == before and rows(aside) == later


@pytest.mark.parametrize("kind", ["text", "foreign", "newer", "folder", "missing"])
def test_restore_refuses_what_is_not_a_dcabot_backup_and_changes_nothing(
    home: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    populate(home)
    database = home / "data" / "dcabot.db"
    before = rows(database)
    candidate = home / "candidate.db"
    if kind == "text":
        candidate.write_text("orders,ledger\n1,2\n")
        reason = "is not a SQLite database"
    elif kind == "foreign":
        with sqlite3.connect(candidate) as other:
            other.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
        reason = "is a SQLite database but not dcabot's"
    elif kind == "newer":
        code, out, _ = run(capsys, "backup", "--to", str(home / "b"))
        candidate = backup_path(out)
        with sqlite3.connect(candidate) as newer:
            newer.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
        reason = "was made by a newer dcabot (schema revision 0099_from_the_future"
    elif kind == "folder":
        candidate.mkdir()
        reason = "is a folder, not a backup file"
    else:
        reason = "there is no file"
    code, out, err = run(capsys, "restore", str(candidate))
    assert code == 2 and out == ""
    assert err.startswith("dcabot: ") and reason in err and "nothing was changed" in err
    assert len(err.strip().splitlines()) == 1
    assert rows(database) == before
    assert not list((home / "data").glob("*.before-restore-*"))


def test_restore_refuses_while_a_dcabot_runs(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(home)
    database = home / "data" / "dcabot.db"
    code, out, _ = run(capsys, "backup")
    backup = backup_path(out)
    db = open_database(load_settings())
    write_order_and_ledger(db, 77)
    before = rows(database)
    leader = LeaderLock(db)  # a `dcabot run` elsewhere: it holds the scheduler's lock
    assert leader.try_acquire()
    try:
        code, _, err = run(capsys, "restore", str(backup))
    finally:
        leader.release()
        db.dispose()
    assert code == 2 and "a dcabot is running on" in err and "stop the bot first" in err
    child = subprocess.Popen(  # a `dcabot serve` or `chat`: the database open, no lock
        [sys.executable, "-c", "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); "
         "c.execute('select count(*) from orders').fetchall(); print('open', flush=True); "
         "time.sleep(60)", str(database)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "open"
        code, _, err = run(capsys, "restore", str(backup))
    finally:
        child.kill()
        child.wait()
    assert code == 2 and f"process {child.pid} has {database} open: stop the bot first" in err
    assert rows(database) == before and not list((home / "data").glob("*.before-restore-*"))


def test_postgresql_gets_the_commands_without_the_password(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    postgres_url: str,
) -> None:
    open_database(load_settings(database_url=postgres_url)).dispose()  # a migrated database
    with_password = postgres_url.replace("postgres@", "postgres:pw-SeCrEt-42@", 1)
    with_password += "&password=pw-SeCrEt-42"  # libpq also takes it from the query string
    monkeypatch.setenv("DATABASE_URL", with_password)
    monkeypatch.setenv("PGPASSWORD", "anything")  # trust auth here: the server ignores it
    code, out, err = run(capsys, "backup", "--to", str(home / "dumps"))
    assert code == 0 and "pw-SeCrEt-42" not in out + err
    [dump_line] = [line for line in out.splitlines() if line.strip().startswith("pg_dump ")]
    assert "pg_restore --clean --if-exists --no-owner" in out
    assert not (home / "dumps").exists()  # dcabot itself copied nothing
    schema = postgres_url.rsplit("%3D", 1)[1]
    (home / "dumps").mkdir()
    command = [*shlex.split(dump_line), f"--schema={schema}"]  # only this test's tables
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    [dump] = [Path(a.split("=", 1)[1]) for a in command if a.startswith("--file=")]
    assert dump.parent == home / "dumps" and dump.is_file()
    listing = subprocess.run(
        ["pg_restore", "--list", str(dump)], check=True, capture_output=True, text=True
    ).stdout
    assert "TABLE DATA" in listing and " orders " in listing
    code, out, err = run(capsys, "restore", str(dump))
    assert code == 1 and "nothing was restored" in out and "pw-SeCrEt-42" not in out + err
