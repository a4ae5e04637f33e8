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


def stored_credentials(db: Database, settings: Settings, exchange: str) -> ApiCredentials | None:
    """The keys stored for `exchange`, or None when there are none."""
    source = master_key_source(settings)
    with db.transaction() as session:
        if not credentials.has_keys(session, exchange):
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
            if not credentials.key_matches(session, exchange, key):
                key = _finish_interrupted_rotation(source, session, exchange) or key
            return credentials.load(session, exchange, key)
        except CredentialError as exc:
            raise UserError(str(exc)) from None


def _finish_interrupted_rotation(
    source: MasterKeySource, session: Session, exchange: str
) -> bytes | None:
    """A rotation that re-encrypted the rows but died before renaming its key file."""
    try:
        pending = source.load_pending()
    except MasterKeyError:
        return None
    if pending is None or not credentials.key_matches(session, exchange, pending):
        return None
    source.promote_pending()
    log.warning(
        "finished an interrupted master key rotation: %s holds the new key", source.key_file
    )
    return pending
