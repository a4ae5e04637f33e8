"""`dcabot doctor`: is this install ready to run unattended? One line a check:

    OK    database: sqlite:///data/dcabot.db reachable, schema at head (0008)
    WARN  binance live clock: this host's clock is 3.0 s behind Binance's: ...
    FAIL  telegram bot: Telegram refused TELEGRAM_BOT_TOKEN: check it with @BotFather

It reads and asks, and changes nothing: no migration, no key file, no order. It checks the
settings, the database and its schema, where the master key is and that it opens the stored
keys, every exchange account the bot may trade on (`doctor_exchanges`), the public address and
the Telegram and LINE set-up (`doctor_chats`). Each check has a deadline (the request timeout);
a failure is a FAIL line with its reason, never a traceback; no line carries a secret. The
exit code is 1 when any line is FAIL, else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.config import Settings, SettingsError, load_settings
from bot.doctor_chats import check_line, check_public_url, check_telegram
from bot.doctor_exchanges import accounts, check_account
from bot.doctor_report import Finding, Redactor, Status, guarded, in_thread
from bot.engine.exchange_keys import key_location_warning, master_key_place, master_key_source
from storage import credentials
from storage.db import Database, normalise_url
from storage.master_key import ENV_NAME, MasterKeyError
from storage.migrate import current_revision
from storage.sqlite_backup import known_revisions

QUIETED = ("bot", "storage", "ccxt", "telegram", "httpx", "linebot", "aiohttp")


def add_doctor_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = subparsers.add_parser(
        "doctor", help="check settings, database, master key, exchanges and chats; change nothing"
    )
    doctor.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    with _quiet_logs(bool(args.verbose or args.debug)):
        findings = asyncio.run(run_doctor(lambda line: print(line, flush=True)))
    counts = {status: sum(f.status is status for f in findings) for status in Status}
    print(f"doctor: {counts[Status.OK]} OK, {counts[Status.WARN]} WARN, {counts[Status.FAIL]} FAIL")
    return 1 if counts[Status.FAIL] else 0


@contextlib.contextmanager
def _quiet_logs(verbose: bool) -> Iterator[None]:
    """The findings say what matters; the bot's own log lines would repeat them on stderr."""
    loggers = [logging.getLogger(name) for name in QUIETED]
    levels = [logger.level for logger in loggers]
    if not verbose:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


async def run_doctor(emit: Callable[[str], None]) -> list[Finding]:
    """Every check in turn, each line emitted as soon as it is known (redacted)."""
    redact = Redactor()
    findings: list[Finding] = []

    def report(batch: list[Finding]) -> None:
        for finding in batch:
            findings.append(finding)
            emit(redact(finding.line()))

    try:
        settings = load_settings()
    except SettingsError as exc:
        report([Finding(Status.FAIL, "settings", f"{exc}; the other checks need valid settings")])
        return findings
    redact.add(*_secrets(settings))
    report([_settings_finding(settings)])
    timeout = settings.request_timeout_s
    database: list[Database | None] = [None]

    async def check_database_usable() -> list[Finding]:
        found, database[0] = await in_thread(lambda: check_database(settings))
        return found

    report(await guarded("database", check_database_usable, timeout))
    db = database[0]
    try:
        report(
            await guarded("master key", lambda: in_thread(lambda: check_key(settings, db)), timeout)
        )
        try:
            pairs = await in_thread(lambda: accounts(settings, db))
        except Exception:  # the database answered the schema but not this: main account only
            pairs = [(name, settings.mode_for(name).value) for name in settings.exchanges]
        for exchange_id, mode in pairs:
            check = functools.partial(check_account, settings, db, exchange_id, mode, redact)
            report(await guarded(f"{exchange_id} {mode}", check, timeout * 4))
        report(check_public_url(settings))
        if settings.telegram_bot_token:
            report(await guarded("telegram", lambda: check_telegram(settings), timeout * 2))
        if settings.line_channel_access_token or settings.line_channel_secret:
            report(await guarded("line", lambda: check_line(settings), timeout * 2))
    finally:
        if db is not None:
            db.dispose()
    return findings


def _secrets(settings: Settings) -> list[str]:
    """What no line may show: every configured secret, as the log filter knows them (the
    metrics token, the derived webhook secret, a database password of 8 characters or more;
    a shorter one is likely a word the lines need, and URLs are shown without it)."""
    from bot.logs import configured_secrets

    password = str(make_url(normalise_url(settings.effective_database_url)).password or "")
    found = [s for s in configured_secrets(settings) if s != password or len(password) >= 8]
    return [*found, password if len(password) >= 8 else ""]


def _settings_finding(settings: Settings) -> Finding:
    env_file = " (.env read)" if Path(".env").is_file() else ""
    return Finding(
        Status.OK,
        "settings",
        f"loaded{env_file}: {settings.exchanges_text}, {settings.symbol}, "
        f"data in {settings.data_dir}",
    )


def shown_url(url: str) -> str:
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


def check_database(settings: Settings) -> tuple[list[Finding], Database | None]:
    """Reachable, and its schema at this code's head; the database when it is usable. A
    missing SQLite file is not created here (the first start or `dcabot db upgrade` does)."""
    url = settings.effective_database_url
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return [
            Finding(
                Status.WARN,
                "database",
                f"no database yet at {parsed.database}: it is made at the first start "
                "(or by `dcabot db upgrade`)",
            )
        ], None
    db = Database(url)
    try:
        revision = current_revision(db)
    except Exception as exc:
        db.dispose()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        text = reason[0][:200] if reason else type(exc).__name__
        return [Finding(Status.FAIL, "database", f"cannot reach {shown_url(url)}: {text}")], None
    known, head = known_revisions()
    if revision == head:
        message = f"{shown_url(url)} reachable, schema at head ({head})"
        return [Finding(Status.OK, "database", message)], db
    db.dispose()
    if revision is None:
        problem = "reachable but empty: run `dcabot db upgrade` (also done at every start)"
    elif revision in known:
        problem = (
            f"schema at {revision}, behind this dcabot's {head}: run `dcabot db upgrade` (also "
            "done at every start)"
        )
    else:
        problem = (
            f"schema at {revision}, which this dcabot does not know (its newest is {head}): "
            "made by a newer dcabot; run that version"
        )
    return [Finding(Status.FAIL, "database", f"{shown_url(url)} {problem}")], None


def check_key(settings: Settings, db: Database | None) -> list[Finding]:
    """Where the master key is, that it opens every stored key set, and that the key file is
    private and not inside the data directory."""
    name, source, place = "master key", master_key_source(settings), master_key_place(settings)
    rows = None
    if db is not None:
        with db.transaction() as session:
            rows = credentials.listing(session, None)
    try:
        key = source.load(create=False)
    except MasterKeyError as exc:
        return [Finding(Status.FAIL, name, str(exc))]
    findings = []
    where = ENV_NAME if source.from_env else f"the file {place.path}"
    if key is None:
        if rows:
            findings.append(
                Finding(
                    Status.FAIL,
                    name,
                    f"{len(rows)} exchange key set(s) are stored but there is no master key "
                    f"({ENV_NAME} is not set, no file {place.path}): put the key file back or "
                    f"set {ENV_NAME}",
                )
            )
        else:
            made = f"none yet: {place.path} is made (0600) with the first keys"
            findings.append(Finding(Status.OK, name, made))
    else:
        assert db is None or rows is not None
        findings.append(_key_opens(name, where, settings, db, key, rows))
        if not source.from_env and stat.S_IMODE(place.path.stat().st_mode) & 0o077:
            mode = oct(stat.S_IMODE(place.path.stat().st_mode))
            findings.append(
                Finding(
                    Status.WARN,
                    "master key file",
                    f"{place.path} may be read by others (mode {mode}): chmod 600 it",
                )
            )
    location = key_location_warning(settings)
    if location:
        findings.append(Finding(Status.WARN, "master key location", location))
    return findings


def _key_opens(
    name: str,
    where: str,
    settings: Settings,
    db: Database | None,
    key: bytes,
    rows: list[credentials.StoredKeys] | None,
) -> Finding:
    if db is None or rows is None:
        return Finding(Status.OK, name, f"{where} (the stored keys were not checked)")
    with db.transaction() as session:
        opened = credentials.listing(session, key)
    closed = [row for row in opened if row.problem]
    if closed:
        return Finding(
            Status.FAIL,
            name,
            f"{where} does not open {len(closed)} of {len(opened)} stored key set(s): was the key "
            "replaced? Put back the one they were stored with, or add them again",
        )
    kept = "keep a copy apart from the database's backups"
    return Finding(Status.OK, name, f"{where} opens the {len(opened)} stored key set(s); {kept}")
