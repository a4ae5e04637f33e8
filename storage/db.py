"""Connections and transactions for SQLite (WAL) and PostgreSQL.

A SQLite database is the owner's alone: its folder is created 0700, and the file with its -wal
and -shm companions is made 0600 at open and whenever a connection is made (SQLite gives the
companions the database file's mode), whatever an older version or a looser umask left.
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
SQLITE_COMPANIONS = ("", "-wal", "-shm")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's begin event issues BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_private(database: Path) -> None:
    """The SQLite file and its companions that exist, readable and writable by the owner only."""
    for suffix in SQLITE_COMPANIONS:
        path = database.with_name(database.name + suffix)
        try:
            if stat.S_IMODE(path.stat().st_mode) != 0o600:
                path.chmod(0o600)
        except FileNotFoundError:
            continue
        except OSError as exc:  # not the owner, a read-only mount: say so, carry on
            log.warning("could not make %s private (chmod 600): %s", path, exc)


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain `postgresql://` URLs (Heroku-style `postgres://` too)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _sqlite_begin(connection: Connection) -> None:
    """Every SQLite transaction takes the write lock first (`BEGIN IMMEDIATE`), queueing behind
    others for up to busy_timeout. A read-check-write (spending the reserve) can then never
    interleave with another, and a reader never fails later for upgrading a stale snapshot.
    The bot's transactions are short, so the serialisation costs little."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One engine and its session factory; `transaction()` is the unit of work."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.file: Path | None = None
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            self.file = Path(parsed.database)
            if not self.file.parent.exists():
                self.file.parent.mkdir(parents=True, exist_ok=True)
                self.file.parent.chmod(0o700)
            make_private(self.file)
        self.engine: Engine = create_engine(self.url, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        if self.file is not None:  # the first connection creates the file
            event.listen(self.engine, "connect", self._made_private)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together at the end, or not at all.

        For read-check-write work on money, lock the rows read (`with_for_update()`): that is
        what serialises it on PostgreSQL; SQLite transactions are serialised already.
        """
        with self._sessions.begin() as session:
            yield session

    def _made_private(self, _dbapi_connection: Any, _record: Any) -> None:
        if self.file is not None:
            make_private(self.file)

    def session(self) -> Session:
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()
