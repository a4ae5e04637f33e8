"""Exchange API keys at rest, one row per (exchange, mode): sealed with AES-GCM, one fresh
96-bit nonce per field and write.

Testnet and live keys of one exchange are separate rows. The associated data of each field binds
its ciphertext to the row, in one of two versions chosen by the row's `mode`:

- v2, rows stored for a mode: `dcabot/exchange-credential/v2|<row id>|<exchange>|<mode>|<field>`
- v1, rows stored before keys had a mode (`mode` NULL, "legacy"), and nothing else:
  `dcabot/exchange-credential/v1|<row id>|<exchange>|<field>`

So a ciphertext copied into another row, under another exchange's name, into another field or
from the testnet row into the live row fails authentication instead of quietly handing OKX's
secret to Binance or the live secret to the sandbox. Writing NULL into a v2 row's mode, or a mode
into a legacy row, breaks it the same way: the version follows the mode and cannot be downgraded.

A legacy row serves either mode until keys are stored for that mode (`load` says when it was
used, so the caller can ask for `dcabot keys add <exchange> --mode <mode>`). A master key
rotation reseals legacy rows in place, still v1 and still mode NULL: which mode their keys are
for is unknown, and guessing would hand live keys to testnet or the reverse.

A wrong master key and a tampered row are told apart by `key_check`, a fingerprint of the
sealing key (a truncated SHA-256 of a 256-bit random key: it reveals nothing usable about it).

Plain keys only ever live in an `ApiCredentials`, whose repr is masked.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import ExchangeCredential

NONCE_BYTES = 12
AAD_PREFIX_V1 = "dcabot/exchange-credential/v1"  # legacy rows: mode NULL
AAD_PREFIX_V2 = "dcabot/exchange-credential/v2"  # rows stored for a mode
MODES = ("testnet", "live")  # paper needs no keys
LEGACY_LABEL = "any (stored before modes)"


class CredentialError(Exception):
    """Stored keys cannot be used; the message names the exchange and never a secret."""


class WrongMasterKey(CredentialError):
    """The rows were sealed under another master key."""


class TamperedCredential(CredentialError):
    """The master key is right but a field does not authenticate: altered or moved data."""


def mask(value: str) -> str:
    """`AbCd…wXyZ` for keys long enough that eight characters reveal little; else `…`."""
    return f"{value[:4]}…{value[-4:]}" if len(value) >= 16 else "…"


@dataclass(frozen=True, slots=True, repr=False)
class ApiCredentials:
    """Decrypted API keys. Never logged: the repr shows a masked key and no secret.

    `legacy` is set by `load` when the keys came from a row stored before keys had a mode."""

    exchange: str
    api_key: str
    secret: str
    passphrase: str | None = None
    legacy: bool = False

    def __repr__(self) -> str:
        passphrase = "'***'" if self.passphrase else "None"
        legacy = ", legacy=True" if self.legacy else ""
        return (
            f"ApiCredentials(exchange={self.exchange!r}, api_key={mask(self.api_key)!r}, "
            f"secret='***', passphrase={passphrase}{legacy})"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class StoredKeys:
    """What `dcabot keys list` shows of one row; `problem` when it cannot be opened."""

    exchange: str
    mode: str | None  # None: stored before modes, serves any mode without keys of its own
    masked_key: str | None
    has_passphrase: bool
    created_at: datetime
    rotated_at: datetime | None
    problem: str | None = None

    @property
    def mode_label(self) -> str:
        return self.mode or LEGACY_LABEL


def check_mode(mode: str) -> str:
    """`mode` when keys can be stored for it; ValueError naming the valid ones otherwise."""
    if mode not in MODES:
        raise ValueError(f"keys are stored for mode testnet or live, not {mode!r}")
    return mode


def key_check(master_key: bytes) -> str:
    return hashlib.sha256(b"dcabot master key check v1|" + master_key).hexdigest()[:16]


def has_keys(session: Session, exchange: str, mode: str) -> bool:
    """Whether `load` would find keys: stored for `mode`, or legacy ones."""
    return _serving(session, exchange, mode) is not None


def key_matches(session: Session, exchange: str, mode: str, master_key: bytes) -> bool:
    """Whether the row `load` would open is sealed under `master_key`."""
    row = _serving(session, exchange, mode)
    return row is not None and row.key_check == key_check(master_key)


def store(
    session: Session, credentials: ApiCredentials, mode: str, master_key: bytes, now: datetime
) -> None:
    """Add or replace the keys of `credentials.exchange` for `mode`, sealed (v2) under
    `master_key`. A legacy row of the exchange is left alone: it still serves the other mode."""
    row = _row(session, credentials.exchange, check_mode(mode), lock=True)
    if row is None:
        row = ExchangeCredential(
            exchange=credentials.exchange,
            mode=mode,
            api_key_ciphertext=b"",
            api_key_nonce=b"",
            secret_ciphertext=b"",
            secret_nonce=b"",
            key_check="",
            created_at=now,
        )
        session.add(row)
        session.flush()  # the id is part of the associated data
    else:
        row.rotated_at = now
    _seal_row(row, credentials, master_key)
    session.flush()


def load(session: Session, exchange: str, mode: str, master_key: bytes) -> ApiCredentials | None:
    """The keys stored for exactly (`exchange`, `mode`); else the exchange's legacy keys, with
    `legacy=True`; else None. `CredentialError` when they do not open."""
    row = _serving(session, exchange, mode)
    if row is None:
        return None
    opened = _open_row(row, master_key)
    return replace(opened, legacy=True) if row.mode is None else opened


def remove(session: Session, exchange: str, mode: str | None) -> bool:
    """Delete the row of (`exchange`, `mode`); `mode` None deletes the legacy row."""
    row = _row(session, exchange, None if mode is None else check_mode(mode), lock=True)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def listing(session: Session, master_key: bytes | None) -> list[StoredKeys]:
    """Every stored row, masked, by exchange then mode (legacy first); a row that does not
    open is listed with the reason."""
    rows = sorted(
        session.scalars(select(ExchangeCredential)), key=lambda r: (r.exchange, r.mode or "")
    )
    result = []
    for row in rows:
        masked, problem = None, None
        if master_key is None:
            problem = "no master key available"
        else:
            try:
                masked = mask(_open_row(row, master_key).api_key)
            except CredentialError as exc:
                problem = str(exc)
        result.append(
            StoredKeys(
                row.exchange,
                row.mode,
                masked,
                row.passphrase_ciphertext is not None,
                row.created_at,
                row.rotated_at,
                problem,
            )
        )
    return result


def reseal_all(session: Session, old_key: bytes, new_key: bytes, now: datetime) -> int:
    """Re-encrypt every row (both modes and legacy) under `new_key`, each with its own AAD
    version: legacy rows stay v1 with mode NULL. Any row that does not open raises, and the
    caller's transaction then rolls back: all rows move to the new key, or none."""
    rows = list(session.scalars(select(ExchangeCredential).with_for_update()))
    opened = [(row, _open_row(row, old_key)) for row in rows]
    for row, credentials in opened:
        _seal_row(row, credentials, new_key)
        row.rotated_at = now
    session.flush()
    return len(rows)


def _row(
    session: Session, exchange: str, mode: str | None, *, lock: bool = False
) -> ExchangeCredential | None:
    """The row of exactly (`exchange`, `mode`); `mode` None is the legacy row."""
    query = select(ExchangeCredential).where(ExchangeCredential.exchange == exchange)
    if mode is None:
        query = query.where(ExchangeCredential.mode.is_(None))
    else:
        query = query.where(ExchangeCredential.mode == mode)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def _serving(session: Session, exchange: str, mode: str) -> ExchangeCredential | None:
    """The row that serves (`exchange`, `mode`): its own, else the legacy one."""
    return _row(session, exchange, check_mode(mode)) or _row(session, exchange, None)


def _describe(row: ExchangeCredential) -> str:
    return f"{row.exchange} ({row.mode or 'stored before modes'})"


def _aad(row: ExchangeCredential, field: str) -> bytes:
    if row.mode is None:
        return f"{AAD_PREFIX_V1}|{row.id}|{row.exchange}|{field}".encode()
    return f"{AAD_PREFIX_V2}|{row.id}|{row.exchange}|{row.mode}|{field}".encode()


def _seal(aes: AESGCM, row: ExchangeCredential, field: str, value: str) -> tuple[bytes, bytes]:
    nonce = os.urandom(NONCE_BYTES)
    return nonce, aes.encrypt(nonce, value.encode("utf-8"), _aad(row, field))


def _seal_row(row: ExchangeCredential, credentials: ApiCredentials, master_key: bytes) -> None:
    aes = AESGCM(master_key)
    row.api_key_nonce, row.api_key_ciphertext = _seal(aes, row, "api_key", credentials.api_key)
    row.secret_nonce, row.secret_ciphertext = _seal(aes, row, "secret", credentials.secret)
    if credentials.passphrase:
        row.passphrase_nonce, row.passphrase_ciphertext = _seal(
            aes, row, "passphrase", credentials.passphrase
        )
    else:
        row.passphrase_nonce = row.passphrase_ciphertext = None
    row.key_check = key_check(master_key)


def _open_row(row: ExchangeCredential, master_key: bytes) -> ApiCredentials:
    if row.key_check != key_check(master_key):
        raise WrongMasterKey(
            f"the master key does not decrypt the stored keys for {_describe(row)}; "
            "was DCABOT_MASTER_KEY changed, or the master.key file replaced?"
        )
    aes = AESGCM(master_key)
    add_again = f"dcabot keys add {row.exchange}" + (f" --mode {row.mode}" if row.mode else "")

    def open_field(field: str, nonce: bytes | None, ciphertext: bytes | None) -> str:
        if nonce is None or ciphertext is None:
            raise TamperedCredential(f"the stored {field} for {_describe(row)} is missing")
        try:
            return aes.decrypt(nonce, ciphertext, _aad(row, field)).decode("utf-8")
        except (InvalidTag, ValueError, UnicodeDecodeError):
            raise TamperedCredential(
                f"the stored keys for {_describe(row)} fail their integrity check (the row "
                f"was altered or copied from another row); add them again with `{add_again}`"
            ) from None

    passphrase = None
    if row.passphrase_ciphertext is not None:
        passphrase = open_field("passphrase", row.passphrase_nonce, row.passphrase_ciphertext)
    return ApiCredentials(
        exchange=row.exchange,
        api_key=open_field("api_key", row.api_key_nonce, row.api_key_ciphertext),
        secret=open_field("secret", row.secret_nonce, row.secret_ciphertext),
        passphrase=passphrase,
    )
