"""Stored exchange keys for the engine and the `dcabot keys` command, from the settings.

The master key comes from `DCABOT_MASTER_KEY` or its key file (`DCABOT_MASTER_KEY_FILE`, by
default in the config directory; an older install's `<data dir>/master.key` is still used, with
a warning at start: see `key_location_warning`); every failure to get or use it becomes a
`UserError` that names the exchange and says what to do, never a key.
"""

from __future__ import annotations

import logging
import os

from sqlalchemy.orm import Session

from bot.config import Settings
from bot.engine.errors import UserError
from bot.log_redaction import remember_secret
from storage import credentials
from storage.credentials import ApiCredentials, CredentialError
from storage.db import Database
from storage.master_key import (
    CONFIG_DIR_NAME,
    FILE_ENV_NAME,
    KeyFilePlace,
    MasterKeyError,
    MasterKeySource,
    config_directory,
    encode_master_key,
    is_inside,
    key_file_place,
)

log = logging.getLogger(__name__)
_warned_about_location = False


def master_key_place(settings: Settings) -> KeyFilePlace:
    return key_file_place(settings.data_dir, settings.master_key_file)


def master_key_source(settings: Settings) -> MasterKeySource:
    return MasterKeySource(
        key_file=master_key_place(settings).path,
        env_value=settings.master_key.get_secret_value(),
    )


def key_location_warning(settings: Settings) -> str | None:
    """What is wrong with where the master key file is, in one line; None when it is fine.

    A key file inside the data directory is copied by every backup of that folder, together
    with the encrypted exchange keys it opens: whoever has the copy has the keys."""
    if settings.master_key.get_secret_value().strip():
        return None
    place = master_key_place(settings)
    if not is_inside(place.path, settings.data_dir):
        return None
    where = f"the master key file {place.path} is inside the data directory {settings.data_dir}"
    if place.why == "legacy":
        config = config_directory(os.environ)
        target = config / CONFIG_DIR_NAME if config is not None else None
        move = (
            f"`mkdir -p {target} && mv {place.path} {target}/` (its new default place), or "
            if target is not None and not is_inside(target, settings.data_dir)
            else ""
        )
        return (
            f"{where} (where older versions put it): a backup of the data folder stores the key "
            f"beside the exchange keys it decrypts. Move it out: {move}move it anywhere outside "
            f"and set {FILE_ENV_NAME} to its path"
        )
    return (
        f"{where}: a backup of the data folder would store the key beside the exchange keys it "
        f"decrypts; set {FILE_ENV_NAME} to a path outside it (e.g. /etc/dcabot/master.key)"
    )


def warn_about_key_location(settings: Settings) -> None:
    """Log `key_location_warning` once a process, when the key file exists."""
    global _warned_about_location
    message = key_location_warning(settings)
    if message and not _warned_about_location and master_key_place(settings).path.exists():
        _warned_about_location = True
        log.warning("%s", message)


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
    remember_secret(encode_master_key(key))
    if keys is not None:  # no log line may show them from now on (bot.log_redaction)
        remember_secret(keys.api_key, keys.secret, keys.passphrase)
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
