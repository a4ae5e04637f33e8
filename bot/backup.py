"""`dcabot backup [--to DIR]` and `dcabot restore FILE`: the database, copied and put back.

SQLite: `backup` writes a consistent copy (`storage.sqlite_backup`, safe while the bot runs) as
`dcabot-YYYYmmdd-HHMMSS.db` (UTC), 0600, in `<data dir>/backups/` or `--to`, checks it and prints
what it holds. The master key is never copied: a backup and its key kept apart mean that whoever
finds one of them cannot read the exchange keys; the command says where the key is.

`restore` refuses a file that is not a dcabot database or was made by a newer dcabot, and runs
only while no dcabot uses the database: the scheduler's leader lock must be free (and is held
throughout), and no other process may have the file open (/proc; without /proc `--force` says
the bot is stopped). The current database is copied aside first, then migrated to head.

PostgreSQL: both print the pg_dump / pg_restore commands for the configured database (no
password: it comes from PGPASSWORD or ~/.pgpass, or is asked for) and do nothing else.
"""

from __future__ import annotations

import argparse
import shlex
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from bot.config import Settings, load_settings
from bot.engine.errors import UserError
from bot.engine.exchange_keys import key_location_warning, master_key, master_key_source
from bot.engine.pause import pause_database
from storage import credentials
from storage.db import Database, normalise_url
from storage.leader import LeaderLock
from storage.master_key import ENV_NAME
from storage.sqlite_backup import (
    NotRestorable,
    Snapshot,
    copy_database,
    inspect,
    processes_using,
    restore_into,
)


def add_backup_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = subparsers.add_parser(
        "backup", help="copy the database to a backup file, safely while the bot runs"
    )
    backup.add_argument(
        "--to", metavar="DIR", help="folder for the backup (default: <data dir>/backups)"
    )
    backup.set_defaults(func=cmd_backup)
    restore = subparsers.add_parser(
        "restore", help="put a backup made by `dcabot backup` back as the database (bot stopped)"
    )
    restore.add_argument("file", help="the backup file, e.g. data/backups/dcabot-....db")
    restore.add_argument(
        "--force",
        action="store_true",
        help="restore where it cannot be checked that no dcabot has the database open (no "
        "/proc): you have stopped the bot",
    )
    restore.set_defaults(func=cmd_restore)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def _free_name(folder: Path, stem: str, suffix: str) -> Path:
    path, number = folder / f"{stem}{suffix}", 2
    while path.exists() or path.with_name(path.name + ".partial").exists():
        path, number = folder / f"{stem}-{number}{suffix}", number + 1
    return path


def _sqlite_file(url: str) -> Path | None:
    """The SQLite database's file; None for PostgreSQL."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite":
        return None
    return Path(parsed.database or "")


def cmd_backup(args: argparse.Namespace) -> int:
    settings = load_settings()
    url = settings.effective_database_url
    database = _sqlite_file(url)
    if database is None:
        _postgres_instructions(url, Path(args.to) if args.to else None)
        return 0
    if not database.is_file():
        raise UserError(f"there is no database at {database} yet: nothing to back up")
    folder = Path(args.to) if args.to else settings.data_dir / "backups"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot make the backup folder {folder}: {exc.strerror}") from None
    target = _free_name(folder, f"dcabot-{_stamp()}", ".db")
    partial = target.with_name(target.name + ".partial")
    try:
        copy_database(database, partial)
        snapshot = inspect(partial)
        partial.replace(target)
    except (OSError, NotRestorable) as exc:
        partial.unlink(missing_ok=True)
        raise UserError(f"the backup of {database} failed: {exc}") from None
    size_kb = max(1, round(target.stat().st_size / 1024))
    print(
        f"backed up {database} to {target} ({size_kb:,} KB, mode 0600): integrity ok, "
        f"schema revision {snapshot.revision}"
    )
    print(f"  {snapshot.describe()}")
    for line in _master_key_notes(settings, snapshot):
        print(line)
    return 0


def _master_key_notes(settings: Settings, snapshot: Snapshot) -> list[str]:
    """Where the master key is (it is not in the backup) and why it matters."""
    stored = snapshot.counts.get("exchange_credentials", 0)
    if not stored:
        return ["no exchange keys are stored, so this backup needs no master key"]
    source = master_key_source(settings)
    where = (
        f"{ENV_NAME} in the bot's environment" if source.from_env else f"the file {source.key_file}"
    )
    notes = [
        f"WARNING: the master key is NOT in this backup; it is {where}. Back it up separately, "
        f"and keep it apart from this backup: without it the {stored} exchange key set(s) "
        "stored in the backup cannot be decrypted (you would have to add them again)."
    ]
    location = key_location_warning(settings)
    if location:
        notes.append(f"WARNING: {location}")
    return notes


def _postgres_instructions(url: str, folder: Path | None, *, restore: Path | None = None) -> None:
    parsed = make_url(url)
    bare = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query={k: v for k, v in parsed.query.items() if k.lower() != "password"},
    ).render_as_string(hide_password=False)  # no password in it to hide
    dump = restore or (folder or Path(".")) / f"dcabot-{_stamp()}.dump"
    print(
        f"the database is PostgreSQL ({bare}): dcabot does not copy it itself; use PostgreSQL's "
        "tools (they take the password from PGPASSWORD or ~/.pgpass, or ask for it):"
    )
    if restore is None:
        print(f"  pg_dump --format=custom --file={shlex.quote(str(dump))} {shlex.quote(bare)}")
        print("to restore it later (with the bot stopped), then `dcabot db upgrade`:")
    else:
        print("with the bot stopped, then `dcabot db upgrade`:")
    print(
        "  pg_restore --clean --if-exists --no-owner "
        f"--dbname={shlex.quote(bare)} {shlex.quote(str(dump))}"
    )
    if restore is None:
        print(
            "the master key is not in the database: back up DCABOT_MASTER_KEY or its key file "
            "separately (`dcabot doctor` says where it is)"
        )


def cmd_restore(args: argparse.Namespace) -> int:
    settings = load_settings()
    backup = Path(args.file)
    url = settings.effective_database_url
    if _sqlite_file(url) is None:
        _postgres_instructions(url, None, restore=backup)
        print("nothing was restored: dcabot restores SQLite backups only")
        return 1
    database = _sqlite_file(url)
    if database is not None and backup.resolve() == database.resolve():
        raise UserError(f"{backup} is the database itself; give a backup file")
    try:
        snapshot = inspect(backup)
    except NotRestorable as exc:
        raise UserError(f"{exc}; nothing was changed") from None
    db = Database(url)  # makes the data folder (0700) of a fresh install; connects to nothing
    assert db.file is not None
    lock = LeaderLock(db)
    try:
        if not lock.try_acquire():
            raise UserError(
                f"a dcabot is running on {db.file} (it holds the scheduler's lock): stop the "
                "bot first, then restore; nothing was changed"
            )
        _require_no_users(db.file, force=args.force)
        aside = _put_back(backup, db.file)
    finally:
        lock.release()
        db.dispose()
    from bot.engine.setup import open_database

    migrated = open_database(settings)
    try:  # orders placed after the backup are unknown to it: nothing trades until /resume
        paused = pause_database(migrated, "dcabot restore", datetime.now(UTC))
    finally:
        migrated.dispose()
    restored = inspect(db.file, read_only=False)
    print(f"restored {backup} (schema revision {snapshot.revision}) as {db.file}")
    if aside is not None:
        print(f"  the database as it was is kept as {aside}")
    print(f"  now at revision {restored.revision}: {restored.describe()}")
    for line in _readable_keys(settings, restored):
        print(line)
    if paused:
        print(
            "  trading is PAUSED: orders and flips after the backup was made are not in it, so "
            "a due run could buy again what was bought since. Check the exchange's order "
            "history against /history, then /resume"
        )
    return 0


def _require_no_users(database: Path, *, force: bool) -> None:
    users = processes_using(database)
    if users is None and not force:
        raise UserError(
            f"cannot tell whether a dcabot has {database} open here (no /proc): stop the bot, "
            "then `dcabot restore FILE --force`; nothing was changed"
        )
    if users:
        listed = ", ".join(str(pid) for pid in users[:5])
        raise UserError(
            f"process {listed} has {database} open: stop the bot first (`dcabot serve`, "
            "`dcabot chat` too), then restore; nothing was changed"
        )


def _put_back(backup: Path, database: Path) -> Path | None:
    """Copy the current database aside, then write the backup into it; the aside copy's path."""
    aside = None
    if database.is_file():
        aside = database.with_name(f"{database.name}.before-restore-{_stamp()}")
        try:
            copy_database(database, aside)
        except OSError as exc:
            raise UserError(
                f"cannot copy the current database aside to {aside}: {exc}; nothing was changed"
            ) from None
    try:
        restore_into(backup, database)
    except Exception as exc:
        kept = f"; the database as it was is in {aside}" if aside else ""
        raise UserError(f"the restore into {database} failed: {exc}{kept}") from None
    return aside


def _readable_keys(settings: Settings, snapshot: Snapshot) -> list[str]:
    """Whether the current master key opens the restored exchange keys."""
    if not snapshot.counts.get("exchange_credentials"):
        return []
    try:
        key = master_key(settings, create=False)
    except UserError as exc:
        return [f"WARNING: the restored exchange keys cannot be checked: {exc}"]
    db = Database(settings.effective_database_url)
    try:
        with db.transaction() as session:
            rows = credentials.listing(session, key)
    finally:
        db.dispose()
    unreadable = [row for row in rows if row.problem]
    if not unreadable:
        return [f"  the current master key opens all {len(rows)} stored exchange key set(s)"]
    return [
        f"WARNING: {len(unreadable)} of {len(rows)} stored exchange key set(s) do not open with "
        "the current master key: put back the master key that was in use when the backup was "
        "made (DCABOT_MASTER_KEY or its key file), or add the keys again with `dcabot keys add`"
    ]
