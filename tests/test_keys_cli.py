"""`dcabot keys ...` as a person runs it (keys piped on stdin), and the engine that uses them:
keys per (exchange, mode), live needs keys, a wrong master key is one clear line, an interrupted
rotation recovers, keys stored before modes keep working with a warning."""

from __future__ import annotations

import io
import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import cli
from bot.config import SettingsError
from bot.engine.errors import UserError
from bot.engine.exchange_keys import master_key_source, stored_credentials
from bot.engine.setup import open_database, open_engine
from bot.exchanges.ccxt_exchange import CcxtExchange
from storage import credentials
from storage.credentials import ApiCredentials
from storage.master_key import encode_master_key, new_master_key
from tests.conftest import Clock, make_settings
from tests.exchange_harness import settings_for
from tests.fakes.exchange import FakeExchange
from tests.test_credentials import seal_legacy

NOW = datetime(2026, 11, 21, tzinfo=UTC)
SECRET = "binance-SECRET-zzz-0123456789"
PASSPHRASE = "okx-PASSPHRASE-qqq"
BINANCE_KEY = "BinanceKeyAbCd0123456789wXyZ"
TESTNET_KEY = "SandboxKeyEfGh0123456789sTuV"
TESTNET_SECRET = "binance-TESTNET-SECRET-yyy-42"
OLD = ApiCredentials("binance", "OldBinanceKey-99998888777766", "binance-OLD-SECRET-xxx-7")
NEVER_SHOWN = [
    SECRET,
    PASSPHRASE,
    TESTNET_SECRET,
    OLD.secret,
    BINANCE_KEY,
    TESTNET_KEY,
    OLD.api_key,
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Path:
    """A working directory, data dir and config dir (where the master key file goes by
    default); the database is SQLite or PostgreSQL (both run)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DCABOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    return tmp_path


def key_file(home: Path) -> Path:
    """The master key file of a fresh install: in the config dir, not the data dir."""
    return home / "config" / "dcabot" / "master.key"


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def stored(home: Path, exchange: str, mode: str = "live") -> ApiCredentials | None:
    settings = make_settings(home, data_dir=home / "data")
    db = open_database(settings)
    try:
        return stored_credentials(db, settings, exchange, mode)
    finally:
        db.dispose()


def no_secret_in(*texts: str) -> None:
    for shown in texts:
        for secret in NEVER_SHOWN:
            assert secret not in shown, "a secret was shown"


def test_keys_go_to_the_exchanges_own_mode(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DCABOT_EXCHANGES", "binance,okx")
    monkeypatch.setenv("DCABOT_MODE_OKX", "testnet")  # binance stays paper (DCABOT_MODE)
    code, out, _ = run(monkeypatch, capsys, f"OkxSandboxKey-1111222233334444\ns\n{PASSPHRASE}\n",
                       "keys", "add", "okx")
    assert code == 0 and "okx testnet API key" in out, out
    assert stored(home, "okx", "testnet") is not None and stored(home, "okx", "live") is None


def test_add_list_remove(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        monkeypatch,
        capsys,
        f"{BINANCE_KEY}\n{SECRET}\n",
        "keys",
        "add",
        "binance",
        "--mode",
        "live",
    )
    assert code == 0
    assert f"created the master key file {key_file(home)} (mode 0600)" in out
    assert "binance live API key Bina…wXyZ" in out
    assert not (home / "data" / "master.key").exists()  # never beside the database
    no_secret_in(out.replace("Bina…wXyZ", ""))
    code, out, _ = run(
        monkeypatch,
        capsys,
        f"OkxApiKey-11112222333344445555\ns2\n{PASSPHRASE}\n",
        "keys",
        "add",
        "OKX",
    )
    assert code == 0 and "okx live API key" in out and "and passphrase" in out  # paper: live
    assert PASSPHRASE not in out
    assert stored(home, "okx") == ApiCredentials(
        "okx", "OkxApiKey-11112222333344445555", "s2", PASSPHRASE
    )
    code, out, _ = run(
        monkeypatch,
        capsys,
        f"{TESTNET_KEY}\n{TESTNET_SECRET}\n",
        "keys",
        "add",
        "binance",
        "--mode",
        "TESTNET",
    )
    assert code == 0 and "stored the binance testnet API key Sand…sTuV" in out
    assert stored(home, "binance", "testnet") == ApiCredentials(
        "binance", TESTNET_KEY, TESTNET_SECRET
    )
    assert stored(home, "binance", "live") == ApiCredentials("binance", BINANCE_KEY, SECRET)
    assert stored(home, "okx", "testnet") is None

    code, out, _ = run(monkeypatch, capsys, "", "keys", "list")
    assert code == 0
    day = out.split("added ")[1][:10]
    assert out.splitlines() == [
        f"binance  live     key Bina…wXyZ  added {day}",
        f"binance  testnet  key Sand…sTuV  added {day}",
        f"okx      live     key OkxA…5555  + passphrase  added {day}",
    ]
    code, out, _ = run(monkeypatch, capsys, "", "keys", "remove", "binance", "--mode", "testnet")
    assert code == 0 and out == "removed the binance testnet API keys\n"
    assert stored(home, "binance", "testnet") is None and stored(home, "binance") is not None
    code, out, _ = run(
        monkeypatch, capsys, "", "keys", "remove", "binance"
    )  # live: paper's default
    assert code == 0 and stored(home, "binance") is None
    code, out, _ = run(monkeypatch, capsys, "", "keys", "remove", "binance", "--mode", "live")
    assert code == 1 and "no binance live keys were stored" in out


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("keys", "add", "notanexchange"), "k\ns\n", "unknown exchange 'notanexchange'"),
        (("keys", "remove", "binanse"), "", "unknown exchange 'binanse'"),
        (("keys", "add", "binance"), "only-a-key\n", "secret is empty"),
        (("keys", "add", "okx"), "k\ns\n", "passphrase is empty"),
        (("keys", "add", "binance", "--mode", "paper"), "k\ns\n", "for live or testnet"),
        (("keys", "add", "binance", "--mode", "any"), "k\ns\n", "--mode 'any': keys are"),
        (("keys", "remove", "binance", "--mode", "sandbox"), "", "live, testnet or any"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line_and_stores_nothing(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    stdin: str,
    message: str,
) -> None:
    code, _, err = run(monkeypatch, capsys, stdin, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert stored(home, "okx") is None and stored(home, "binance") is None
    assert stored(home, "binance", "testnet") is None


def test_rotate_master_with_the_key_file(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run(monkeypatch, capsys, f"BinanceKeyAbCd0123456789wXyZ\n{SECRET}\n", "keys", "add", "binance")
    path = key_file(home)
    before = path.read_text()
    code, out, _ = run(monkeypatch, capsys, "", "keys", "rotate-master")
    assert code == 0 and "re-encrypted 1" in out
    assert path.read_text() != before and not path.with_name("master.key.next").exists()
    assert before.strip() not in out and path.read_text().strip() not in out
    assert stored(home, "binance") is not None  # readable under the new key file


def test_rotate_master_from_the_environment_prints_the_new_value_once(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = encode_master_key(new_master_key())
    monkeypatch.setenv("DCABOT_MASTER_KEY", old)
    run(monkeypatch, capsys, f"BinanceKeyAbCd0123456789wXyZ\n{SECRET}\n", "keys", "add", "binance")
    assert not key_file(home).exists() and not (home / "data" / "master.key").exists()
    code, out, _ = run(monkeypatch, capsys, "", "keys", "rotate-master")
    [line] = [x for x in out.splitlines() if x.startswith("DCABOT_MASTER_KEY=")]
    new = line.split("=", 1)[1]
    assert code == 0 and out.count(new) == 1 and old not in out
    with pytest.raises(UserError, match="does not decrypt the stored keys for binance"):
        stored(home, "binance")  # the old value no longer opens them
    monkeypatch.setenv("DCABOT_MASTER_KEY", new)
    assert stored(home, "binance") is not None


def test_an_interrupted_rotation_is_finished_at_the_next_start(home: Path) -> None:
    settings = make_settings(home, data_dir=home / "data")
    source = master_key_source(settings)
    old = source.load(create=True)
    assert old is not None
    db = open_database(settings)
    with db.transaction() as session:
        credentials.store(session, ApiCredentials("binance", "k" * 20, SECRET), "testnet", old, NOW)
    new = new_master_key()
    source.write_pending(new)
    with db.transaction() as session:  # the rows moved; then the process died before renaming
        credentials.reseal_all(session, old, new, NOW)
    assert stored_credentials(db, settings, "binance", "live") is None  # testnet keys only
    assert stored_credentials(db, settings, "binance", "testnet") is not None
    assert source.load(create=False) == new and not source.pending_file.exists()
    db.dispose()


def test_a_wrong_master_key_stops_live_start_with_the_clear_line(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    run(monkeypatch, capsys, f"BinanceKeyAbCd0123456789wXyZ\n{SECRET}\n", "keys", "add", "binance")
    key_file(home).write_text(encode_master_key(new_master_key()))
    settings = make_settings(home, data_dir=home / "data", mode="live")
    with pytest.raises(UserError) as refused:
        open_engine(settings)
    assert "the master key does not decrypt the stored keys for binance" in str(refused.value)
    assert SECRET not in caplog.text


def test_live_without_keys_names_the_command(home: Path) -> None:
    settings = make_settings(home, data_dir=home / "data", mode="live", exchange="okx")
    with pytest.raises(UserError, match=r"needs its API keys: add them with `dcabot keys add okx`"):
        open_engine(settings)


def test_an_unknown_exchange_is_refused_at_start(home: Path) -> None:
    """Refused when the settings are read, or at the latest when the engine opens."""
    with pytest.raises(
        (SettingsError, UserError), match=r"DCABOT_EXCHANGE=.?nosuchx.*ccxt (does not know|knows)"
    ):
        open_engine(make_settings(home, data_dir=home / "data", mode="testnet", exchange="nosuchx"))


async def test_live_with_stored_keys_trades_on_the_exchange(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeExchange(
        "okx", passphrase=PASSPHRASE, secret=SECRET, balances={"USDT": "100"}
    ) as fake:
        run(monkeypatch, capsys, f"{fake.api_key}\n{SECRET}\n{PASSPHRASE}\n", "keys", "add", "okx")
        settings = settings_for(home, fake, data_dir=home / "data")
        engine = open_engine(settings, clock=clock)
        try:
            assert isinstance(engine.exchange, CcxtExchange) and engine.mode == "live"
            assert (await engine.exchange.balances())["USDT"] == 100
            fill = await engine.exchange.buy_with_quote(
                "BTC/USDT", engine.settings.taker_fee * 20_000, "dcbbnlive1"
            )
            assert fill.cost <= 20
        finally:
            await engine.exchange.close()
            engine.db.dispose()
        assert [o.client_order_id for o in fake.orders] == ["dcbbnlive1"]
    assert "[live okx]" in caplog.text  # the adapter's lines say mode and exchange
    assert SECRET not in caplog.text and PASSPHRASE not in caplog.text


def test_keys_under_another_master_key_are_listed_as_unreadable_and_never_mixed(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run(monkeypatch, capsys, f"BinanceKeyAbCd0123456789wXyZ\n{SECRET}\n", "keys", "add", "binance")
    key_file(home).write_text(encode_master_key(new_master_key()))
    code, out, _ = run(monkeypatch, capsys, "", "keys", "list")
    assert code == 0 and "binance  live  unreadable: the master key does not decrypt" in out
    code, _, err = run(monkeypatch, capsys, "k2\ns2\n", "keys", "add", "binance")
    assert code == 2 and "nothing was stored" in err
    assert "`dcabot keys remove binance --mode live`" in err
    code, _, err = run(monkeypatch, capsys, "", "keys", "rotate-master")
    assert code == 2 and "no key was re-encrypted" in err
    assert not key_file(home).with_name("master.key.next").exists()
    assert run(monkeypatch, capsys, "", "keys", "remove", "binance")[0] == 0
    assert run(monkeypatch, capsys, "k2\ns2\n", "keys", "add", "binance")[0] == 0


def test_add_and_remove_default_to_the_configured_mode(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DCABOT_MODE", "testnet")
    code, out, _ = run(
        monkeypatch, capsys, f"{TESTNET_KEY}\n{TESTNET_SECRET}\n", "keys", "add", "binance"
    )
    assert code == 0 and "stored the binance testnet API key" in out
    assert stored(home, "binance", "live") is None
    assert stored(home, "binance", "testnet") == ApiCredentials(
        "binance", TESTNET_KEY, TESTNET_SECRET
    )
    code, out, _ = run(monkeypatch, capsys, "", "keys", "remove", "binance")
    assert code == 0 and "removed the binance testnet API keys" in out
    with pytest.raises(SystemExit):
        cli.main(["keys", "add", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "default: DCABOT_MODE when it is testnet or live, else live" in shown


def test_keys_stored_before_modes_keep_working_with_one_warning(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(home, data_dir=home / "data")
    key = master_key_source(settings).load(create=True)
    assert key is not None
    db = open_database(settings)
    seal_legacy(db, key, OLD)
    db.dispose()
    outputs = []

    for mode in ("testnet", "live"):
        caplog.clear()
        assert stored(home, "binance", mode) == replace(OLD, legacy=True)
        [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert f"store the {mode} keys with `dcabot keys add binance --mode {mode}`" in (
            warning.getMessage()
        )
    code, out, _ = run(monkeypatch, capsys, "", "keys", "list")
    assert code == 0 and out.startswith("binance  any (stored before modes)  key OldB…7766  added")
    outputs.append(out)

    code, out, err = run(
        monkeypatch,
        capsys,
        f"{BINANCE_KEY}\n{SECRET}\n",
        "keys",
        "add",
        "binance",
        "--mode",
        "live",
    )
    assert code == 0 and "stored the binance live API key" in out
    assert "keys stored before modes still serve testnet" in out
    assert "`dcabot keys add binance --mode testnet`" in out
    outputs += [out, err]
    caplog.clear()
    assert stored(home, "binance", "live") == ApiCredentials("binance", BINANCE_KEY, SECRET)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # its own: no warning
    assert stored(home, "binance", "testnet") == replace(OLD, legacy=True)

    code, out, _ = run(monkeypatch, capsys, "", "keys", "remove", "binance", "--mode", "testnet")
    assert code == 1 and "no binance testnet keys were stored" in out
    assert "still serve testnet: `dcabot keys remove binance --mode any` deletes them" in out
    outputs.append(out)
    code, out, _ = run(monkeypatch, capsys, "", "keys", "remove", "binance", "--mode", "any")
    assert code == 0 and out == "removed the binance (stored before modes) API keys\n"
    assert stored(home, "binance", "testnet") is None
    assert stored(home, "binance", "live") is not None
    no_secret_in(*outputs, caplog.text)


def test_rotate_master_keeps_both_modes_and_legacy_keys_openable(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(home, data_dir=home / "data")
    key = master_key_source(settings).load(create=True)
    assert key is not None
    db = open_database(settings)
    seal_legacy(db, key, replace(OLD, exchange="okx", passphrase=PASSPHRASE))
    db.dispose()
    add = ("keys", "add", "binance", "--mode")
    run(monkeypatch, capsys, f"{BINANCE_KEY}\n{SECRET}\n", *add, "live")
    run(monkeypatch, capsys, f"{TESTNET_KEY}\n{TESTNET_SECRET}\n", *add, "testnet")
    code, out, err = run(monkeypatch, capsys, "", "keys", "rotate-master")
    assert code == 0 and "re-encrypted 3 exchange key set(s)" in out
    new = master_key_source(settings).load(create=False)
    assert new is not None and new != key
    assert stored(home, "binance", "live") == ApiCredentials("binance", BINANCE_KEY, SECRET)
    assert stored(home, "binance", "testnet") == ApiCredentials(
        "binance", TESTNET_KEY, TESTNET_SECRET
    )
    assert stored(home, "okx", "live") == replace(
        OLD, exchange="okx", passphrase=PASSPHRASE, legacy=True
    )
    code, listed, _ = run(monkeypatch, capsys, "", "keys", "list")
    assert code == 0 and "unreadable" not in listed and len(listed.splitlines()) == 3
    assert "okx      any (stored before modes)  key OldB…7766  + passphrase" in listed
    no_secret_in(out, err, listed, caplog.text)
