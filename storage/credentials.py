"""Exchange API keys at rest: sealed with AES-GCM, one fresh 96-bit nonce per field and write.

The associated data of each field is `dcabot/exchange-credential/v1|<row id>|<exchange>|<field>`,
so a ciphertext copied into another row, under another exchange's name or into another field fails
authentication instead of quietly handing OKX's secret to Binance. A wrong master key and a tampered
row are told apart by `key_check`, a fingerprint of the sealing key (a truncated SHA-256 of a
256-bit random key: it reveals nothing usable about it).

Plain keys only ever live in an `ApiCredentials`, whose repr is masked.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import ExchangeCredential

NONCE_BYTES = 12
AAD_PREFIX = "dcabot/exchange-credential/v1"


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
    """Decrypted API keys. Never logged: the repr shows a masked key and no secret."""

    exchange: str
    api_key: str
    secret: str
    passphrase: str | None = None

    def __repr__(self) -> str:
        passphrase = "'***'" if self.passphrase else "None"
        return (
            f"ApiCredentials(exchange={self.exchange!r}, api_key={mask(self.api_key)!r}, "
            f"secret='***', passphrase={passphrase})"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class StoredKeys:
    """What `dcabot keys list` shows of one row; `problem` when it cannot be opened."""

    exchange: str
    masked_key: str | None
    has_passphrase: bool
    created_at: datetime
    rotated_at: datetime | None
    problem: str | None = None


def key_check(master_key: bytes) -> str:
    return hashlib.sha256(b"dcabot master key check v1|" + master_key).hexdigest()[:16]


def has_keys(session: Session, exchange: str) -> bool:
    return _row(session, exchange) is not None


def key_matches(session: Session, exchange: str, master_key: bytes) -> bool:
    row = _row(session, exchange)
    return row is not None and row.key_check == key_check(master_key)


def store(session: Session, credentials: ApiCredentials, master_key: bytes, now: datetime) -> None:
    """Add or replace the keys of `credentials.exchange`, sealed under `master_key`."""
    row = _row(session, credentials.exchange, lock=True)
    if row is None:
        row = ExchangeCredential(
            exchange=credentials.exchange,
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


def load(session: Session, exchange: str, master_key: bytes) -> ApiCredentials | None:
    """The keys stored for `exchange`, or None; `CredentialError` when they do not open."""
    row = _row(session, exchange)
    return None if row is None else _open_row(row, master_key)


def remove(session: Session, exchange: str) -> bool:
    row = _row(session, exchange, lock=True)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def listing(session: Session, master_key: bytes | None) -> list[StoredKeys]:
    """Every stored row, masked; a row that does not open is listed with the reason."""
    result = []
    for row in session.scalars(select(ExchangeCredential).order_by(ExchangeCredential.exchange)):
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
                masked,
                row.passphrase_ciphertext is not None,
                row.created_at,
                row.rotated_at,
                problem,
            )
        )
    return result


def reseal_all(session: Session, old_key: bytes, new_key: bytes, now: datetime) -> int:
    """Re-encrypt every row under `new_key`. Any row that does not open raises, and the
    caller's transaction then rolls back: all rows move to the new key, or none."""
    rows = list(session.scalars(select(ExchangeCredential).with_for_update()))
    opened = [(row, _open_row(row, old_key)) for row in rows]
    for row, credentials in opened:
        _seal_row(row, credentials, new_key)
        row.rotated_at = now
    session.flush()
    return len(rows)


def _row(session: Session, exchange: str, *, lock: bool = False) -> ExchangeCredential | None:
    query = select(ExchangeCredential).where(ExchangeCredential.exchange == exchange)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def _aad(row: ExchangeCredential, field: str) -> bytes:
    return f"{AAD_PREFIX}|{row.id}|{row.exchange}|{field}".encode()


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
            f"the master key does not decrypt the stored keys for {row.exchange}; "
            "was DCABOT_MASTER_KEY changed, or the master.key file replaced?"
        )
    aes = AESGCM(master_key)

    def open_field(field: str, nonce: bytes | None, ciphertext: bytes | None) -> str:
        if nonce is None or ciphertext is None:
            raise TamperedCredential(f"the stored {field} for {row.exchange} is missing")
        try:
            return aes.decrypt(nonce, ciphertext, _aad(row, field)).decode("utf-8")
        except (InvalidTag, ValueError, UnicodeDecodeError):
            raise TamperedCredential(
                f"the stored keys for {row.exchange} fail their integrity check (the row was "
                f"altered or copied from another row); add them again with "
                f"`dcabot keys add {row.exchange}`"
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
