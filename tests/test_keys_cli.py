"""`dcabot keys ...` as a person runs it (keys piped on stdin), and the engine that uses them:
live needs keys, a wrong master key is one clear line, an interrupted rotation recovers."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import cli
from bot.engine.errors import UserError
from bot.engine.exchange_keys import master_key_source, stored_credentials
from bot.engine.setup import open_database, open_engine
from bot.exchanges.ccxt_exchange import CcxtExchange
from storage import credentials
from storage.credentials import ApiCredentials
from storage.master_key import encode_master_key, new_master_key
from tests.conftest import Clock, make_settings
from tests.exchange_harness import settings_for
from tests.fakes.exchange import FakeExchange, shared_data_missing

NOW = datetime(2026, 11, 21, tzinfo=UTC)
SECRET = "binance-SECRET-zzz-0123456789"
PASSPHRASE = "okx-PASSPHRASE-qqq"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DCABOT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def stored(home: Path, exchange: str) -> ApiCredentials | None:
    settings = make_settings(home, data_dir=home / "data")
    db = open_database(settings)
    try:
        return stored_credentials(db, settings, exchange)
    finally:
        db.dispose()


def test_add_list_remove(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        monkeypatch, capsys, f"BinanceKeyAbCd0123456789wXyZ\n{SECRET}\n", "keys", "add", "binance"
    )
    assert code == 0
    assert "master.key (mode 0600)" in out and "Bina…wXyZ" in out and SECRET not in out
    code, out, _ = run(
        monkeypatch,
        capsys,
        f"OkxApiKey-11112222333344445555\ns2\n{PASSPHRASE}\n",
        "keys",
        "add",
        "OKX",
    )
    assert code == 0 and "and passphrase" in out and PASSPHRASE not in out
    assert stored(home, "okx") == ApiCredentials(
        "okx", "OkxApiKey-11112222333344445555", "s2", PASSPHRASE
    )

    code, out, _ = run(monkeypatch, capsys, "", "keys", "list")
    assert code == 0
    assert out.splitlines() == [
        "binance  key Bina…wXyZ  added " + out.split("added ")[1][:10],
        "okx      key OkxA…5555  + passphrase  added " + out.split("added ")[1][:10],
    ]
    code, out, _ = run(monkeypatch, capsys, "", "keys", "remove", "binance")
    assert code == 0 and stored(home, "binance") is None
    code, out, _ = run(monkeypatch, capsys, "", "keys", "remove", "binance")
    assert code == 1 and "no keys were stored for binance" in out


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("keys", "add", "notanexchange"), "k\ns\n", "unknown exchange 'notanexchange'"),
        (("keys", "remove", "binanse"), "", "unknown exchange 'binanse'"),
        (("keys", "add", "binance"), "only-a-key\n", "secret is empty"),
        (("keys", "add", "okx"), "k\ns\n", "passphrase is empty"),
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


def test_rotate_master_with_the_key_file(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run(monkeypatch, capsys, f"BinanceKeyAbCd0123456789wXyZ\n{SECRET}\n", "keys", "add", "binance")
    key_file = home / "data" / "master.key"
    before = key_file.read_text()
    code, out, _ = run(monkeypatch, capsys, "", "keys", "rotate-master")
    assert code == 0 and "re-encrypted 1" in out
    assert key_file.read_text() != before and not (home / "data" / "master.key.next").exists()
    assert before.strip() not in out and key_file.read_text().strip() not in out
    assert stored(home, "binance") is not None  # readable under the new key file


def test_rotate_master_from_the_environment_prints_the_new_value_once(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = encode_master_key(new_master_key())
    monkeypatch.setenv("DCABOT_MASTER_KEY", old)
    run(monkeypatch, capsys, f"BinanceKeyAbCd0123456789wXyZ\n{SECRET}\n", "keys", "add", "binance")
    assert not (home / "data" / "master.key").exists()
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
        credentials.store(session, ApiCredentials("binance", "k" * 20, SECRET), old, NOW)
    new = new_master_key()
    source.write_pending(new)
    with db.transaction() as session:  # the rows moved; then the process died before renaming
        credentials.reseal_all(session, old, new, NOW)
    assert stored_credentials(db, settings, "binance") is not None
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
    (home / "data" / "master.key").write_text(encode_master_key(new_master_key()))
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
    settings = make_settings(home, data_dir=home / "data", mode="testnet", exchange="nosuchx")
    with pytest.raises(UserError, match="DCABOT_EXCHANGE=nosuchx: ccxt does not know"):
        open_engine(settings)


@pytest.mark.skipif(shared_data_missing() is not None, reason=str(shared_data_missing()))
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
    (home / "data" / "master.key").write_text(encode_master_key(new_master_key()))
    code, out, _ = run(monkeypatch, capsys, "", "keys", "list")
    assert code == 0 and "binance  unreadable: the master key does not decrypt" in out
    code, _, err = run(monkeypatch, capsys, "k2\ns2\n", "keys", "add", "binance")
    assert code == 2 and "nothing was stored" in err and "dcabot keys remove binance" in err
    code, _, err = run(monkeypatch, capsys, "", "keys", "rotate-master")
    assert code == 2 and "no key was re-encrypted" in err
    assert not (home / "data" / "master.key.next").exists()
    assert run(monkeypatch, capsys, "", "keys", "remove", "binance")[0] == 0
    assert run(monkeypatch, capsys, "k2\ns2\n", "keys", "add", "binance")[0] == 0
