"""Exchange keys at rest: sealed with AES-GCM, bound to their row, never shown.

Each test stores recognisable secrets and then looks for them where they must not be: the raw
SQLite file (and its WAL), the raw PostgreSQL column, reprs and log records.
"""

from __future__ import annotations

import logging
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage import credentials
from storage.credentials import (
    ApiCredentials,
    TamperedCredential,
    WrongMasterKey,
)
from storage.db import Database
from storage.master_key import (
    MasterKeyError,
    MasterKeySource,
    decode_master_key,
    encode_master_key,
    new_master_key,
)

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
BINANCE = ApiCredentials("binance", "BinanceKeyAbCd0123456789wXyZ", "binance-SECRET-9f8e7d6c5b4a")
OKX = ApiCredentials(
    "okx", "OkxApiKey-11112222333344445555", "okx-SECRET-0a1b2c3d4e5f", "okx-PASSPHRASE-kiwi"
)
SECRETS = [BINANCE.secret, OKX.secret, OKX.passphrase or "", BINANCE.api_key, OKX.api_key]


@pytest.fixture
def key() -> bytes:
    return new_master_key()


def store(db: Database, key: bytes, *keys: ApiCredentials) -> None:
    with db.transaction() as session:
        for item in keys:
            credentials.store(session, item, key, NOW)


def load(db: Database, key: bytes, exchange: str) -> ApiCredentials | None:
    with db.transaction() as session:
        return credentials.load(session, exchange, key)


def raw_storage(db: Database) -> bytes:
    """Every byte the database keeps for the table: the files for SQLite, the rows for PG."""
    if db.is_sqlite:
        path = Path(str(make_url(db.url).database))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT t::text FROM exchange_credentials t")).all()
        blobs = connection.execute(
            text(
                "SELECT api_key_ciphertext, secret_ciphertext, passphrase_ciphertext "
                "FROM exchange_credentials"
            )
        ).all()
    return b"".join(r[0].encode() for r in rows) + b"".join(
        bytes(b) for row in blobs for b in row if b is not None
    )


def test_keys_round_trip_and_are_not_on_disk(db: Database, key: bytes) -> None:
    store(db, key, BINANCE, OKX)
    assert load(db, key, "binance") == BINANCE
    assert load(db, key, "okx") == OKX
    assert load(db, key, "kraken") is None
    raw = raw_storage(db)
    assert b"exchange_credentials" in raw or not db.is_sqlite  # we did read the table
    for secret in SECRETS:
        assert secret.encode() not in raw, "a key is readable in the raw database"


def test_every_field_gets_a_fresh_nonce_on_every_write(db: Database, key: bytes) -> None:
    store(db, key, OKX)
    with db.engine.connect() as connection:
        first = connection.execute(
            text(
                "SELECT api_key_nonce, secret_nonce, passphrase_nonce, secret_ciphertext "
                "FROM exchange_credentials"
            )
        ).one()
    store(db, key, OKX)  # the same keys again
    with db.engine.connect() as connection:
        second = connection.execute(
            text(
                "SELECT api_key_nonce, secret_nonce, passphrase_nonce, secret_ciphertext "
                "FROM exchange_credentials"
            )
        ).one()
    nonces = [bytes(n) for n in (*first[:3], *second[:3])]
    assert len(set(nonces)) == 6 and all(len(n) == 12 for n in nonces)
    assert bytes(first[3]) != bytes(second[3])


def test_rotation_keeps_them_readable_under_the_new_key_only(db: Database, key: bytes) -> None:
    store(db, key, BINANCE, OKX)
    new = new_master_key()
    with db.transaction() as session:
        assert credentials.reseal_all(session, key, new, NOW) == 2
    assert load(db, new, "okx") == OKX and load(db, new, "binance") == BINANCE
    with pytest.raises(WrongMasterKey):
        load(db, key, "okx")


def test_rotation_is_all_or_none(db: Database, key: bytes) -> None:
    store(db, key, BINANCE, OKX)
    with db.engine.begin() as connection:  # damage one row
        connection.execute(
            text(
                "UPDATE exchange_credentials SET secret_ciphertext = "
                "api_key_ciphertext WHERE exchange = 'okx'"
            )
        )
    with pytest.raises(TamperedCredential), db.transaction() as session:
        credentials.reseal_all(session, key, new_master_key(), NOW)
    assert load(db, key, "binance") == BINANCE  # still under the old key: nothing moved


def test_a_tampered_ciphertext_is_rejected(db: Database, key: bytes) -> None:
    store(db, key, BINANCE)
    with db.engine.connect() as connection:
        blob = bytearray(
            connection.execute(
                text("SELECT secret_ciphertext FROM exchange_credentials")
            ).scalar_one()
        )
    blob[3] ^= 0x01
    with db.engine.begin() as connection:
        connection.execute(
            text("UPDATE exchange_credentials SET secret_ciphertext = :b"), {"b": bytes(blob)}
        )
    with pytest.raises(TamperedCredential, match="binance fail their integrity check"):
        load(db, key, "binance")


def test_a_row_swapped_with_another_exchange_is_rejected(db: Database, key: bytes) -> None:
    """OKX's sealed secret copied into Binance's row does not open there."""
    store(db, key, BINANCE, OKX)
    with db.engine.begin() as connection:
        okx = connection.execute(
            text(
                "SELECT secret_ciphertext, secret_nonce FROM exchange_credentials "
                "WHERE exchange = 'okx'"
            )
        ).one()
        connection.execute(
            text(
                "UPDATE exchange_credentials SET secret_ciphertext = :c, secret_nonce = :n "
                "WHERE exchange = 'binance'"
            ),
            {"c": okx[0], "n": okx[1]},
        )
    with pytest.raises(TamperedCredential):
        load(db, key, "binance")


def test_renamed_rows_are_rejected(db: Database, key: bytes) -> None:
    store(db, key, BINANCE, OKX)
    with db.engine.begin() as connection:
        connection.execute(
            text("UPDATE exchange_credentials SET exchange = 'x' WHERE exchange = 'binance'")
        )
        connection.execute(
            text("UPDATE exchange_credentials SET exchange = 'binance' WHERE exchange = 'okx'")
        )
    with pytest.raises(TamperedCredential):
        load(db, key, "binance")


def test_a_wrong_master_key_says_so_clearly(db: Database, key: bytes) -> None:
    store(db, key, BINANCE)
    with pytest.raises(WrongMasterKey) as wrong:
        load(db, new_master_key(), "binance")
    assert str(wrong.value) == (
        "the master key does not decrypt the stored keys for binance; was DCABOT_MASTER_KEY "
        "changed, or the master.key file replaced?"
    )


def test_reprs_and_logs_show_no_secret(
    db: Database, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store(db, key, OKX)
    loaded = load(db, key, "okx")
    shown = f"{loaded!r} {loaded} {[loaded]} {OKX!r}"
    assert "OkxA…5555" in shown and "***" in shown
    for secret in SECRETS:
        assert secret not in shown
        assert secret not in caplog.text
    assert credentials.mask("short") == "…"


def test_listing_is_masked_and_names_unreadable_rows(db: Database, key: bytes) -> None:
    store(db, key, BINANCE, OKX)
    with db.transaction() as session:
        rows = credentials.listing(session, key)
        assert [(r.exchange, r.masked_key, r.has_passphrase) for r in rows] == [
            ("binance", "Bina…wXyZ", False),
            ("okx", "OkxA…5555", True),
        ]
        wrong = credentials.listing(session, new_master_key())
    assert all(r.masked_key is None and "master key" in (r.problem or "") for r in wrong)


# --- the master key ---------------------------------------------------------------------


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    source = MasterKeySource(tmp_path / "data" / "master.key")
    assert source.load(create=False) is None
    created = source.load(create=True)
    assert created is not None and len(created) == 32
    assert stat.S_IMODE(os.stat(source.key_file).st_mode) == 0o600
    assert source.load(create=True) == created  # never replaced
    assert (
        MasterKeySource(source.key_file, env_value=encode_master_key(b"k" * 32)).load(create=True)
        == b"k" * 32
    )  # the environment wins


def test_a_malformed_master_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    for bad in ("not base64 at all!", encode_master_key(b"short"), "c2VjcmV0"):
        with pytest.raises(MasterKeyError) as refused:
            MasterKeySource(tmp_path / "master.key", env_value=bad).load(create=False)
        assert bad not in str(refused.value) and "DCABOT_MASTER_KEY" in str(refused.value)
    with pytest.raises(MasterKeyError):
        decode_master_key("", "x")
    assert "env_value" not in repr(MasterKeySource(tmp_path, env_value="c2VjcmV0"))
