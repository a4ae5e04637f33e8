"""Copies of a SQLite database that are consistent while the bot writes to it, and the checks
that tell a dcabot backup from any other file.

Every copy goes through SQLite's online backup API (`sqlite3.Connection.backup`) in one step:
the source is read inside one read transaction, so the copy is the database as it was at one
moment, whatever the bot commits meanwhile (in WAL mode readers never block writers). A copy is
created 0600 and switched to the rollback journal, so it is one self-contained file. Restoring
writes into the live file with the same API, never with a file copy under open connections.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory

from storage.migrate import MIGRATIONS

HEADER = b"SQLite format 3\x00"
# what every dcabot database has, from the first migration on
REQUIRED_TABLES = ("alembic_version", "orders", "reserve_ledger", "schedules")
COUNTED = {
    "orders": "orders",
    "reserve_ledger": "reserve ledger rows",
    "schedules": "schedules",
    "exchange_credentials": "stored exchange key sets",
}
BUSY_TIMEOUT_S = 30.0


class NotRestorable(Exception):
    """The file is not a dcabot database this version can restore; the message says why."""


@dataclass(frozen=True)
class Snapshot:
    """What a database file holds: its schema revision and how many rows of what matters."""

    revision: str | None
    counts: dict[str, int]

    def describe(self) -> str:
        return ", ".join(f"{COUNTED[table]} {count}" for table, count in self.counts.items())


def known_revisions() -> tuple[set[str], str | None]:
    """Every migration revision this code has, and its head."""
    script = ScriptDirectory(str(MIGRATIONS))
    return {rev.revision for rev in script.walk_revisions()}, script.get_current_head()


@contextlib.contextmanager
def _open(path: Path, mode: str) -> Iterator[sqlite3.Connection]:
    """`mode`: `ro` (read only), `rw` (never creates) or `rwc`; closed on the way out."""
    connection = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=BUSY_TIMEOUT_S
    )
    try:
        yield connection
    finally:
        connection.close()


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of `source` (which may be in use) as the new file `target`, 0600."""
    if not source.is_file():
        raise FileNotFoundError(f"there is no database at {source}")
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(descriptor)
    try:
        with _open(source, "rw") as reader, _open(target, "rw") as writer:
            reader.backup(writer)  # all pages in one step: one read transaction
            writer.execute("PRAGMA journal_mode=DELETE")
        _fsync(target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def restore_into(backup: Path, database: Path) -> None:
    """Replace the contents of `database` (created 0600 if absent) with `backup`'s, through
    SQLite, so connections and the WAL stay coherent. The caller makes sure no bot runs."""
    if not database.exists():
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    with _open(backup, "ro") as reader, _open(database, "rw") as writer:
        reader.backup(writer)
        if writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _fsync(database)


def inspect(path: Path, *, read_only: bool = True) -> Snapshot:
    """Check `path` is a sound dcabot database and read its revision and row counts.

    Raises `NotRestorable` naming the problem: not SQLite, damaged, not dcabot's, or made by a
    newer dcabot (a schema revision this code does not know)."""
    _require_sqlite_file(path)
    try:
        with _open(path, "ro" if read_only else "rw") as connection:
            problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise NotRestorable(f"{path} is damaged: {'; '.join(problems[:3])}")
            tables = {
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            missing = [name for name in REQUIRED_TABLES if name not in tables]
            if missing:
                raise NotRestorable(
                    f"{path} is a SQLite database but not dcabot's (it has no "
                    f"{', '.join(missing)} table)"
                )
            found = connection.execute("SELECT version_num FROM alembic_version").fetchall()
            counts = {  # table names from COUNTED, never from input
                table: int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # noqa: S608
                for table in COUNTED
                if table in tables
            }
    except sqlite3.DatabaseError as exc:
        raise NotRestorable(f"{path} cannot be read as a SQLite database: {exc}") from None
    revision = str(found[0][0]) if len(found) == 1 else None
    known, head = known_revisions()
    if revision is None:
        raise NotRestorable(f"{path} has no schema revision: it was not made by dcabot")
    if revision not in known:
        raise NotRestorable(
            f"{path} was made by a newer dcabot (schema revision {revision}; this version "
            f"knows up to {head}): restore it with that version or a later one"
        )
    return Snapshot(revision, counts)


def _require_sqlite_file(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            header = handle.read(len(HEADER))
    except FileNotFoundError:
        raise NotRestorable(f"there is no file {path}") from None
    except IsADirectoryError:
        raise NotRestorable(f"{path} is a folder, not a backup file") from None
    except OSError as exc:
        raise NotRestorable(f"{path} cannot be read: {exc.strerror}") from None
    if header != HEADER:
        raise NotRestorable(f"{path} is not a SQLite database (not a dcabot backup)")


def processes_using(database: Path) -> list[int] | None:
    """The ids of other processes with `database` (or its -wal/-shm) open, from /proc; None
    where /proc cannot tell (not Linux). Processes of other users are not visible."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return None
    wanted = {str(database.resolve()) + suffix for suffix in ("", "-wal", "-shm")}
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:  # gone meanwhile, or another user's
            continue
        if links & wanted:
            found.append(int(entry.name))
    return sorted(found)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
