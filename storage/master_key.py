"""The master key that seals exchange credentials: from `DCABOT_MASTER_KEY`, or a key file.

The key file (base64 of 32 random bytes) is `DCABOT_MASTER_KEY_FILE`, else
`$XDG_CONFIG_HOME/dcabot/master.key` (`~/.config/dcabot/master.key`): outside the data directory,
so a copy of the data folder never carries the key beside the ciphertext it opens. An install
that already has `<data dir>/master.key` keeps using it (`key_file_place`), with a warning.
It is created on first use with mode 0600, exclusively, so two processes starting at once
cannot each write a different key.
Rotation writes the new key beside it (`master.key.next`) before any row is re-encrypted and
renames it over the old one afterwards; a rotation interrupted in between leaves both files and
`credentials.key_matches` tells which one the rows are under.

No key ever appears in a message: errors say where the key came from, never what it was.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

ENV_NAME = "DCABOT_MASTER_KEY"
FILE_ENV_NAME = "DCABOT_MASTER_KEY_FILE"
FILE_NAME = "master.key"
CONFIG_DIR_NAME = "dcabot"
KEY_BYTES = 32


class MasterKeyError(Exception):
    """The master key is missing or malformed; the message names where it was looked for."""


def new_master_key() -> bytes:
    """256 random bits from the operating system's CSPRNG."""
    return os.urandom(KEY_BYTES)


def encode_master_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def decode_master_key(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise MasterKeyError(
            f"{source} must be the base64 of {KEY_BYTES} random bytes (44 characters ending "
            "in '='); `dcabot keys rotate-master` prints a fresh one"
        )
    return key


@dataclass(frozen=True)
class MasterKeySource:
    """Where the master key comes from: the environment value wins over the key file."""

    key_file: Path
    env_value: str = field(default="", repr=False)

    @property
    def from_env(self) -> bool:
        return bool(self.env_value.strip())

    @property
    def pending_file(self) -> Path:
        return self.key_file.with_name(self.key_file.name + ".next")

    def describe(self) -> str:
        return ENV_NAME if self.from_env else str(self.key_file)

    def load(self, *, create: bool) -> bytes | None:
        """The master key; a new key file when `create` and there is none; else None."""
        if self.from_env:
            return decode_master_key(self.env_value, ENV_NAME)
        if self.key_file.exists():
            return self._read(self.key_file)
        if not create:
            return None
        key = new_master_key()
        try:
            _write_exclusive(self.key_file, key)
        except FileExistsError:  # another process created it first: use theirs
            return self._read(self.key_file)
        except OSError as exc:  # a read-only or missing home (systemd sandbox, DynamicUser)
            raise MasterKeyError(
                f"cannot create the master key file {self.key_file}: "
                f"{exc.strerror or exc}; set {FILE_ENV_NAME} to a writable path (e.g. "
                f"/etc/dcabot/master.key) or {ENV_NAME}"
            ) from None
        log.info("created the master key file %s (mode 0600); back it up", self.key_file)
        return key

    def load_pending(self) -> bytes | None:
        """The key of a rotation that wrote its new key but did not finish renaming it."""
        if self.from_env or not self.pending_file.exists():
            return None
        return self._read(self.pending_file)

    def write_pending(self, key: bytes) -> None:
        self.discard_pending()
        _write_exclusive(self.pending_file, key)

    def promote_pending(self) -> None:
        """Make the pending key the key file, atomically (rename within one directory)."""
        os.replace(self.pending_file, self.key_file)
        _fsync_directory(self.key_file.parent)

    def discard_pending(self) -> None:
        self.pending_file.unlink(missing_ok=True)

    def _read(self, path: Path) -> bytes:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning(
                "master key file %s is readable by others (mode %o); chmod 600 it", path, mode
            )
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise MasterKeyError(f"cannot read the master key file {path}: {exc}") from None
        return decode_master_key(text, f"the master key file {path}")


@dataclass(frozen=True)
class KeyFilePlace:
    """Where the key file is, and why there: `setting` (DCABOT_MASTER_KEY_FILE), `default`
    (the config directory), `legacy` (an older install's `<data dir>/master.key`, still used) or
    `data` (no home directory to put it in)."""

    path: Path
    why: str


def key_file_place(
    data_dir: Path, configured: Path | None, environ: Mapping[str, str] | None = None
) -> KeyFilePlace:
    """The key file to use: the setting, else an existing `<data dir>/master.key` (an install
    from before the key moved out), else the config directory's."""
    if configured is not None:
        return KeyFilePlace(configured, "setting")
    legacy = data_dir / FILE_NAME
    if legacy.exists():
        return KeyFilePlace(legacy, "legacy")
    config = config_directory(os.environ if environ is None else environ)
    if config is None:
        return KeyFilePlace(legacy, "data")
    return KeyFilePlace(config / CONFIG_DIR_NAME / FILE_NAME, "default")


def config_directory(environ: Mapping[str, str]) -> Path | None:
    """`$XDG_CONFIG_HOME` when absolute (the XDG spec ignores a relative one), else
    `$HOME/.config`; None when there is no home directory at all."""
    xdg = environ.get("XDG_CONFIG_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg)
    home = environ.get("HOME", "")
    if not home:
        try:
            return Path.home() / ".config"
        except (RuntimeError, KeyError):
            return None
    return Path(home) / ".config"


def is_inside(path: Path, directory: Path) -> bool:
    """Whether `path` is in `directory` or below it (both resolved: links, `..`)."""
    try:
        return path.resolve().is_relative_to(directory.resolve())
    except (OSError, RuntimeError):
        return False


def _write_exclusive(path: Path, key: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, (encode_master_key(key) + "\n").encode("ascii"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. a platform without directory handles
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
