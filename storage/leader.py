"""The leader lock: of all processes on one database, exactly one runs the scheduler.

PostgreSQL: a session-level advisory lock held on a dedicated connection; it is released by the
server when that connection (or the process) dies. SQLite: an OS file lock beside the database
file, released by the OS when the process dies. Others stand by and try again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import Database

ADVISORY_KEY = 0x64636162  # "dcab"


class LeaderLock:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._connection: Any = None
        self._file_lock: FileLock | None = None
        if db.is_sqlite:
            database = make_url(db.url).database or "dcabot"
            # the process's lock, whichever thread takes or checks it (`Database.run`'s threads)
            place = str(Path(database).with_suffix(".leader.lock"))
            self._file_lock = FileLock(place, thread_local=False)

    @property
    def held(self) -> bool:
        if self._file_lock is not None:
            return self._file_lock.is_locked
        return self._connection is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never waits."""
        if self.held:
            return True
        if self._file_lock is not None:
            try:
                self._file_lock.acquire(timeout=0)
            except Timeout:
                return False
            return True
        connection = self.db.engine.connect()
        got = connection.execute(
            text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}
        ).scalar()
        connection.commit()
        if got:
            self._connection = connection
            return True
        connection.close()
        return False

    def still_held(self) -> bool:
        """For PostgreSQL, check the lock's connection is alive (a dead one lost the lock)."""
        if self._connection is None:
            return self.held
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except Exception:
            # the session may still hold the lock: end it, never hand it back to the pool
            self._connection.invalidate()
            self._connection = None
            return False
        return True

    def release(self) -> None:
        if self._file_lock is not None and self._file_lock.is_locked:
            self._file_lock.release()
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None
