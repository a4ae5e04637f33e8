"""Exchange keys at rest: sealed with AES-GCM, bound to their row and mode, never shown.

Each test stores recognisable secrets and then looks for them where they must not be: the raw
SQLite file (and its WAL), the raw PostgreSQL column, reprs and log records. Keys stored before
keys had a mode ("legacy": mode NULL, v1 associated data) are written by `seal_legacy`, the way
the old code sealed them.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
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
from storage.models import ExchangeCredential

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
BINANCE = ApiCredentials("binance", "BinanceKeyAbCd0123456789wXyZ", "binance-SECRET-9f8e7d6c5b4a")
OKX = ApiCredentials(
    "okx", "OkxApiKey-11112222333344445555", "okx-SECRET-0a1b2c3d4e5f", "okx-PASSPHRASE-kiwi"
)
BINANCE_TESTNET = ApiCredentials(
    "binance", "SandboxKeyEfGh0123456789sTuV", "binance-TESTNET-SECRET-1a2b3c"
)
OLD_BINANCE = ApiCredentials("binance", "OldBinanceKey-99998888777766", "binance-OLD-SECRET-5e6f")
SECRETS = [
    BINANCE.secret,
    OKX.secret,
    OKX.passphrase or "",
    BINANCE.api_key,
    OKX.api_key,
    BINANCE_TESTNET.secret,
    BINANCE_TESTNET.api_key,
    OLD_BINANCE.secret,
    OLD_BINANCE.api_key,
]


@pytest.fixture
def key() -> bytes:
    return new_master_key()


def store(db: Database, key: bytes, *keys: ApiCredentials, mode: str = "live") -> None:
    with db.transaction() as session:
        for item in keys:
            credentials.store(session, item, mode, key, NOW)


def load(db: Database, key: bytes, exchange: str, mode: str = "live") -> ApiCredentials | None:
    with db.transaction() as session:
        return credentials.load(session, exchange, mode, key)


def legacy(keys: ApiCredentials) -> ApiCredentials:
    return replace(keys, legacy=True)


def v1_aad(row_id: int, exchange: str, field: str) -> bytes:
    """The associated data of the code before modes: no mode in it."""
    return f"dcabot/exchange-credential/v1|{row_id}|{exchange}|{field}".encode()


def seal_legacy(db: Database, key: bytes, keys: ApiCredentials) -> None:
    """A row as the code before modes stored it: mode NULL, each field sealed with v1 AAD."""
    aes = AESGCM(key)
    with db.transaction() as session:
        row = ExchangeCredential(
            exchange=keys.exchange,
            mode=None,
            api_key_ciphertext=b"",
            api_key_nonce=b"",
            secret_ciphertext=b"",
            secret_nonce=b"",
            key_check=credentials.key_check(key),
            created_at=NOW,
        )
        session.add(row)
        session.flush()

        def seal(field: str, value: str) -> tuple[bytes, bytes]:
            nonce = os.urandom(12)
            return nonce, aes.encrypt(nonce, value.encode(), v1_aad(row.id, keys.exchange, field))

        row.api_key_nonce, row.api_key_ciphertext = seal("api_key", keys.api_key)
        row.secret_nonce, row.secret_ciphertext = seal("secret", keys.secret)
        if keys.passphrase:
            row.passphrase_nonce, row.passphrase_ciphertext = seal("passphrase", keys.passphrase)


def open_legacy_secret(db: Database, key: bytes, exchange: str) -> str:
    """The legacy row's secret opened with v1 AAD by hand: proves the row is still v1."""
    with db.engine.connect() as connection:
        row_id, nonce, blob = connection.execute(
            text(
                "SELECT id, secret_nonce, secret_ciphertext FROM exchange_credentials "
                "WHERE exchange = :e AND mode IS NULL"
            ),
            {"e": exchange},
        ).one()
    return (
        AESGCM(key).decrypt(bytes(nonce), bytes(blob), v1_aad(row_id, exchange, "secret")).decode()
    )


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
    with pytest.raises(
        TamperedCredential, match=r"binance \(live\) fail their integrity check.*--mode live`"
    ):
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
        "the master key does not decrypt the stored keys for binance (live); was DCABOT_MASTER_KEY "
        "changed, or the master.key file replaced?"
    )


def test_reprs_and_logs_show_no_secret(
    db: Database, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store(db, key, OKX)
    store(db, key, BINANCE_TESTNET, mode="testnet")
    seal_legacy(db, key, OLD_BINANCE)
    loaded = load(db, key, "okx")
    sandbox = load(db, key, "binance", "testnet")
    old = load(db, key, "binance", "live")
    with db.transaction() as session:
        listed = credentials.listing(session, key)
    shown = f"{loaded!r} {loaded} {[loaded]} {OKX!r} {sandbox!r} {old!r} {listed!r}"
    assert "OkxA…5555" in shown and "***" in shown and "legacy=True" in shown
    for secret in SECRETS:
        assert secret not in shown
        assert secret not in caplog.text
    assert credentials.mask("short") == "…"


def test_listing_is_masked_and_names_unreadable_rows(db: Database, key: bytes) -> None:
    store(db, key, BINANCE, OKX)
    with db.transaction() as session:
        rows = credentials.listing(session, key)
        assert [(r.exchange, r.mode, r.masked_key, r.has_passphrase) for r in rows] == [
            ("binance", "live", "Bina…wXyZ", False),
            ("okx", "live", "OkxA…5555", True),
        ]
        wrong = credentials.listing(session, new_master_key())
    assert all(r.masked_key is None and "master key" in (r.problem or "") for r in wrong)


# --- keys per (exchange, mode) --------------------------------------------------------------


def test_testnet_and_live_keys_are_stored_side_by_side(db: Database, key: bytes) -> None:
    store(db, key, BINANCE_TESTNET, mode="testnet")
    store(db, key, BINANCE, mode="live")
    assert load(db, key, "binance", "testnet") == BINANCE_TESTNET
    assert load(db, key, "binance", "live") == BINANCE
    store(db, key, BINANCE_TESTNET, mode="testnet")  # replacing one leaves the other alone
    assert load(db, key, "binance", "live") == BINANCE
    with db.transaction() as session:
        rows = credentials.listing(session, key)
        assert credentials.key_matches(session, "binance", "testnet", key)
        assert not credentials.key_matches(session, "binance", "live", new_master_key())
    assert [(r.exchange, r.mode_label, r.masked_key) for r in rows] == [
        ("binance", "live", "Bina…wXyZ"),
        ("binance", "testnet", "Sand…sTuV"),
    ]
    raw = raw_storage(db)
    for secret in SECRETS:
        assert secret.encode() not in raw


def test_a_mode_never_gets_the_other_modes_keys(db: Database, key: bytes) -> None:
    store(db, key, BINANCE_TESTNET, mode="testnet")
    store(db, key, OKX, mode="live")
    assert load(db, key, "binance", "live") is None
    assert load(db, key, "okx", "testnet") is None
    with db.transaction() as session:
        assert not credentials.has_keys(session, "binance", "live")
        assert credentials.has_keys(session, "binance", "testnet")
        assert not credentials.has_keys(session, "okx", "testnet")
        assert not credentials.key_matches(session, "binance", "live", key)
        with pytest.raises(ValueError, match="testnet or live, not 'paper'"):
            credentials.load(session, "binance", "paper", key)
        with pytest.raises(ValueError):
            credentials.store(session, BINANCE, "paper", key, NOW)


def test_legacy_keys_serve_either_mode_and_say_so(db: Database, key: bytes) -> None:
    seal_legacy(db, key, OLD_BINANCE)
    assert load(db, key, "binance", "live") == legacy(OLD_BINANCE)
    assert load(db, key, "binance", "testnet") == legacy(OLD_BINANCE)
    with db.transaction() as session:
        assert credentials.has_keys(session, "binance", "testnet")
        assert credentials.key_matches(session, "binance", "live", key)
        [row] = credentials.listing(session, key)
    assert (row.mode, row.mode_label, row.masked_key) == (
        None,
        "any (stored before modes)",
        "OldB…7766",
    )
    store(db, key, BINANCE, mode="live")  # its own keys win; the legacy ones still serve testnet
    assert load(db, key, "binance", "live") == BINANCE
    assert load(db, key, "binance", "testnet") == legacy(OLD_BINANCE)
    with db.transaction() as session:
        assert not credentials.remove(session, "binance", "testnet")
        assert credentials.remove(session, "binance", None)
    assert load(db, key, "binance", "testnet") is None
    assert load(db, key, "binance", "live") == BINANCE


def test_ciphertexts_swapped_between_testnet_and_live_rows_fail(db: Database, key: bytes) -> None:
    store(db, key, BINANCE_TESTNET, mode="testnet")
    store(db, key, BINANCE, mode="live")
    fields = (
        "api_key_ciphertext, api_key_nonce, secret_ciphertext, secret_nonce, "
        "passphrase_ciphertext, passphrase_nonce, key_check"
    )
    with db.engine.begin() as connection:
        sealed = {
            mode: connection.execute(
                text(f"SELECT {fields} FROM exchange_credentials WHERE mode = :m"), {"m": mode}
            ).one()
            for mode in ("testnet", "live")
        }
        for mode, other in (("testnet", "live"), ("live", "testnet")):
            connection.execute(
                text(
                    "UPDATE exchange_credentials SET api_key_ciphertext = :a, api_key_nonce = :b, "
                    "secret_ciphertext = :c, secret_nonce = :d WHERE mode = :m"
                ),
                {
                    "a": sealed[other][0],
                    "b": sealed[other][1],
                    "c": sealed[other][2],
                    "d": sealed[other][3],
                    "m": mode,
                },
            )
    for mode in ("testnet", "live"):
        with pytest.raises(TamperedCredential, match=rf"binance \({mode}\) fail"):
            load(db, key, "binance", mode)


def test_a_rows_mode_cannot_be_rewritten(db: Database, key: bytes) -> None:
    """Swapping the modes of two rows, relabelling a row or passing it off as legacy all fail:
    the mode is in the associated data, and a NULL mode means v1, which a v2 row never is."""
    store(db, key, BINANCE_TESTNET, mode="testnet")
    store(db, key, BINANCE, mode="live")
    seal_legacy(db, key, OKX)
    with db.engine.begin() as connection:
        for old, new in (("testnet", "swap"), ("live", "testnet"), ("swap", "live")):
            connection.execute(
                text("UPDATE exchange_credentials SET mode = :n WHERE mode = :o"),
                {"o": old, "n": new},
            )
        connection.execute(
            text("UPDATE exchange_credentials SET mode = 'live' WHERE exchange = 'okx'")
        )
    for exchange, mode in (("binance", "testnet"), ("binance", "live"), ("okx", "live")):
        with pytest.raises(TamperedCredential):
            load(db, key, exchange, mode)
    with db.engine.begin() as connection:  # the live row downgraded to "stored before modes"
        connection.execute(text("DELETE FROM exchange_credentials WHERE mode = 'testnet'"))
        connection.execute(
            text("UPDATE exchange_credentials SET mode = NULL WHERE exchange = 'binance'")
        )
    with pytest.raises(TamperedCredential, match=r"binance \(stored before modes\)"):
        load(db, key, "binance", "testnet")


def test_rotation_reseals_both_modes_and_legacy_rows_keeping_v1(db: Database, key: bytes) -> None:
    store(db, key, BINANCE_TESTNET, mode="testnet")
    store(db, key, BINANCE, OKX, mode="live")
    seal_legacy(db, key, OLD_BINANCE)
    seal_legacy(db, key, replace(OKX, exchange="kucoin"))
    new = new_master_key()
    with db.transaction() as session:
        assert credentials.reseal_all(session, key, new, NOW) == 5
    assert load(db, new, "binance", "testnet") == BINANCE_TESTNET
    assert load(db, new, "binance", "live") == BINANCE
    assert load(db, new, "okx", "live") == OKX
    assert load(db, new, "okx", "testnet") is None
    assert load(db, new, "kucoin", "testnet") == legacy(replace(OKX, exchange="kucoin"))
    assert open_legacy_secret(db, new, "binance") == OLD_BINANCE.secret  # still v1, mode NULL
    with db.transaction() as session:
        assert [r.problem for r in credentials.listing(session, new)] == [None] * 5
        assert all(r.problem for r in credentials.listing(session, key))
    with pytest.raises(WrongMasterKey, match=r"kucoin \(stored before modes\)"):
        load(db, key, "kucoin", "live")


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
