"""Connections and transactions for SQLite (WAL) and PostgreSQL.

Blocking database work started from async code runs in `Database.run`, on the database's own
small pool of threads, never on the event loop (docs/design.md, "Database work off the loop").

A SQLite database is the owner's alone: its folder is created 0700, and the file with its -wal
and -shm companions is made 0600 at open and whenever a connection is made (SQLite gives the
companions the database file's mode), whatever an older version or a looser umask left.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import stat
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
SQLITE_COMPANIONS = ("", "-wal", "-shm")
P = ParamSpec("P")
T = TypeVar("T")
# Threads for `Database.run`, at most. SQLite serialises every transaction (BEGIN IMMEDIATE), so
# more threads would only queue behind busy_timeout; PostgreSQL's pool keeps 5 connections, so 4
# workers always find one without opening overflow connections, and one is left for work already
# on a thread of its own (the leader lock's held connection, the CLI's commands).
# Work beyond that waits in the executor's queue, off the loop, which costs nothing.
DB_WORKERS_AT_MOST = 4


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
        self.workers = max(1, min(DB_WORKERS_AT_MOST, _pool_size(self.engine)))
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` on one of this database's threads, awaited from the loop.

        The one way async code does blocking database work: a transaction that waits for a lock
        (SQLite's busy_timeout is 10 s) then holds up one worker, not every webhook and job.
        `fn` opens and closes its own session (`transaction()`): a Session never crosses threads.
        The caller's context variables go along, as with `asyncio.to_thread`.
        """
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool(), call)

    async def transact(
        self, fn: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`fn(session, *args, **kwargs)` in one transaction (`transaction()`), through `run`."""
        return await self.run(self._within, lambda session: fn(session, *args, **kwargs))

    def _within(self, work: Callable[[Session], T]) -> T:
        with self.transaction() as session:
            return work(session)

    def _pool(self) -> ThreadPoolExecutor:
        with self._executor_lock:  # made on first use, and again after `dispose`
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="dcabot-db")
            return self._executor

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
        """Close the connections; work already handed to `run` finishes first."""
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self.engine.dispose()


def _pool_size(engine: Engine) -> int:
    """The connections the engine's pool keeps (QueuePool's pool_size; 1 when it keeps none)."""
    size = getattr(engine.pool, "size", None)
    return size() if callable(size) else 1
