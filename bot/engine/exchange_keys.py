"""Stored exchange keys for the engine and the `dcabot keys` command, from the settings.

The master key comes from `DCABOT_MASTER_KEY` or `<data dir>/master.key`; every failure to get
or use it becomes a `UserError` that names the exchange and says what to do, never a key.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from bot.config import Settings
from bot.engine.errors import UserError
from storage import credentials
from storage.credentials import ApiCredentials, CredentialError
from storage.db import Database
from storage.master_key import FILE_NAME, MasterKeyError, MasterKeySource

log = logging.getLogger(__name__)


def master_key_source(settings: Settings) -> MasterKeySource:
    return MasterKeySource(
        key_file=settings.data_dir / FILE_NAME, env_value=settings.master_key.get_secret_value()
    )


def master_key(settings: Settings, *, create: bool) -> bytes | None:
    try:
        return master_key_source(settings).load(create=create)
    except MasterKeyError as exc:
        raise UserError(str(exc)) from None


def stored_credentials(
    db: Database, settings: Settings, exchange: str, mode: str
) -> ApiCredentials | None:
    """The keys stored for (`exchange`, `mode`), else the exchange's keys stored before keys
    had a mode (with one warning asking to store them for `mode`), else None."""
    source = master_key_source(settings)
    with db.transaction() as session:
        if not credentials.has_keys(session, exchange, mode):
            return None
        try:
            key = source.load(create=False)
        except MasterKeyError as exc:
            raise UserError(str(exc)) from None
        if key is None:
            raise UserError(
                f"keys for {exchange} are stored, but there is no master key to open them: set "
                f"DCABOT_MASTER_KEY or restore {source.key_file}"
            )
        try:
            if not credentials.key_matches(session, exchange, mode, key):
                key = _finish_interrupted_rotation(source, session, exchange, mode) or key
            keys = credentials.load(session, exchange, mode, key)
        except CredentialError as exc:
            raise UserError(str(exc)) from None
    if keys is not None and keys.legacy:
        log.warning(
            "%s mode is using the %s keys stored before keys were kept per mode, which serve "
            "every mode; store the %s keys with `dcabot keys add %s --mode %s`",
            mode,
            exchange,
            mode,
            exchange,
            mode,
        )
    return keys


def _finish_interrupted_rotation(
    source: MasterKeySource, session: Session, exchange: str, mode: str
) -> bytes | None:
    """A rotation that re-encrypted the rows but died before renaming its key file."""
    try:
        pending = source.load_pending()
    except MasterKeyError:
        return None
    if pending is None or not credentials.key_matches(session, exchange, mode, pending):
        return None
    source.promote_pending()
    log.warning(
        "finished an interrupted master key rotation: %s holds the new key", source.key_file
    )
    return pending
