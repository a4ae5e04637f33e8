"""What the bot keeps on disk is its owner's alone: the data folder 0700, the SQLite database and
its -wal/-shm files 0600, the charts folder 0700 and its PNGs 0600, whatever the umask it was
started under or an older version left behind. And it stays bounded: the update claims are
pruned by age and by count, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

import bot.app
from bot.cli import main
from storage.db import Database
from storage.inbound import claim_update, forget_beyond_newest
from storage.migrate import upgrade
from storage.models import ProcessedUpdate
from tests.app_harness import LINE_ADMIN, chat_settings, line, running_world, tg
from tests.conftest import Clock
from tests.fakes.line_api import FakeLineAPI
from tests.fakes.telegram_api import FakeTelegramAPI

__all__ = ["line", "tg"]  # fixtures


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sqlite_files(database: Path) -> list[Path]:
    found = [database.with_name(database.name + s) for s in ("", "-wal", "-shm")]
    return [path for path in found if path.exists()]


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The umask many shells start with (files 0644, folders 0755), restored afterwards: the
    CLI sets its own for the rest of the process."""
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.mark.usefixtures("loose_umask")
def test_the_cli_creates_everything_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    monkeypatch.setenv("DCABOT_DATA_DIR", str(data))
    assert main(["db", "upgrade"]) == 0
    assert os.umask(0o077) == 0o077  # what the CLI left for everything created later
    assert mode(data) == 0o700
    files = sqlite_files(data / "dcabot.db")
    assert files and all(mode(path) == 0o600 for path in files)


@pytest.mark.usefixtures("loose_umask")
def test_a_new_sqlite_database_is_private_whatever_the_umask(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "data"
    db = Database(f"sqlite:///{folder / 'dcabot.db'}")
    upgrade(db)
    with db.transaction() as session:  # a write leaves the -wal and -shm files until closed
        session.add(ProcessedUpdate(channel="t", update_key="1", processed_at=datetime.now(UTC)))
    with db.engine.connect():
        files = sqlite_files(folder / "dcabot.db")
        assert [p.name for p in files] == ["dcabot.db", "dcabot.db-wal", "dcabot.db-shm"]
        assert [mode(p) for p in files] == [0o600] * 3
    db.dispose()
    assert mode(folder) == 0o700


@pytest.mark.usefixtures("loose_umask")
def test_start_up_makes_what_an_older_version_left_private(
    tmp_path: Path,
    tg: FakeTelegramAPI,
    line: FakeLineAPI,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = chat_settings(tmp_path, tg, line)
    data = settings.data_dir
    data.mkdir(mode=0o755)
    database = data / "dcabot.db"
    old = sqlite3.connect(database)  # another process still has it open: -wal and -shm exist
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE leftover (x)")
    old.execute("INSERT INTO leftover VALUES (1)")
    old.commit()
    charts = data / "charts"
    charts.mkdir(mode=0o755)
    (charts / "0123abcd.png").write_bytes(b"\x89PNG old chart")
    for path in [*sqlite_files(database), charts / "0123abcd.png"]:
        path.chmod(0o644)
    assert len(sqlite_files(database)) == 3
    caplog.set_level(logging.WARNING, logger="bot.app")
    with running_world(settings, tg, line, clock):
        assert [mode(p) for p in sqlite_files(database)] == [0o600] * 3
        assert mode(charts) == 0o700 and mode(charts / "0123abcd.png") == 0o600
    old.close()
    assert mode(data) == 0o755  # the owner's own folder: not changed, but warned about
    assert any("open to others" in r.getMessage() for r in caplog.records)


def test_charts_drawn_under_the_cli_umask_are_private(
    tmp_path: Path, tg: FakeTelegramAPI, line: FakeLineAPI, clock: Clock
) -> None:
    before = os.umask(0o077)  # as `dcabot` sets it in main()
    try:
        settings = chat_settings(tmp_path, tg, line)
        with running_world(settings, tg, line, clock) as world:
            _, image = world.line_says("signal", LINE_ADMIN)
            chart = settings.data_dir / "charts" / image["originalContentUrl"].rsplit("/", 1)[1]
            assert mode(chart) == 0o600 and mode(chart.parent) == 0o700
            assert mode(settings.data_dir) == 0o700
    finally:
        os.umask(before)


# -- the claims stay bounded ----------------------------------------------------------------------


def test_claims_are_pruned_by_count_per_channel_newest_kept(db: Database, clock: Clock) -> None:
    for n in range(6):
        assert claim_update(db, "telegram", f"t{n}", clock.now + timedelta(seconds=n))
    for n in range(2):
        assert claim_update(db, "line", f"l{n}", clock.now)
    assert forget_beyond_newest(db, keep=3) == 3
    assert forget_beyond_newest(db, keep=3) == 0
    for n in (3, 4, 5):  # kept: still recognised as replays
        assert not claim_update(db, "telegram", f"t{n}", clock.now)
    for key in ("l0", "l1"):
        assert not claim_update(db, "line", key, clock.now)
    assert claim_update(db, "telegram", "t0", clock.now)  # forgotten
    assert forget_beyond_newest(db, keep=1) == 4  # telegram keeps t0, line keeps l1


def test_the_app_prunes_claims_by_age_and_count_when_it_starts(
    tmp_path: Path,
    tg: FakeTelegramAPI,
    line: FakeLineAPI,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = chat_settings(tmp_path, tg, line)
    database = Database(settings.effective_database_url)
    upgrade(database)
    for n in range(5):
        claim_update(database, "telegram", str(n), clock.now)
    claim_update(database, "telegram", "old", clock.now - timedelta(days=30))
    database.dispose()
    monkeypatch.setattr(bot.app, "KEEP_CLAIMS_PER_CHANNEL", 2)
    with running_world(settings, tg, line, clock) as w:
        deadline = time.monotonic() + 10
        while w.counts()["ProcessedUpdate"] != 2:
            assert time.monotonic() < deadline, w.counts()
            time.sleep(0.02)
        with w.chat.runtime.services.engine.db.transaction() as session:
            kept = set(session.scalars(select(ProcessedUpdate.update_key)))
    assert kept == {"3", "4"}  # "old" went by age, "0" to "2" by count
