"""Where the master key file lives: outside the data dir on a fresh install (XDG config dir, or
~/.config), where DCABOT_MASTER_KEY_FILE says, and, for an install from before, still in
`<data dir>/master.key` (which keeps working) with a loud warning at start and from the doctor."""

from __future__ import annotations

import io
import logging
import stat
from pathlib import Path

import pytest

from bot import cli
from bot.config import load_settings
from bot.engine import exchange_keys
from bot.engine.exchange_keys import stored_credentials, warn_about_key_location
from bot.engine.setup import open_database
from storage.credentials import ApiCredentials
from storage.master_key import MasterKeySource

SECRET = "location-SECRET-zzz-0123456789"
KEY = "LocationKeyAbCd0123456789wXyZ"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DCABOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DCABOT_PRICE_SOURCE", "simulated")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    # the stored keys' exchange is asked by the doctor: here nothing answers, deterministically
    monkeypatch.setenv("DCABOT_BINANCE_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DCABOT_REQUEST_TIMEOUT", "2")
    return tmp_path


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str,
        *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def add_keys(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = run(monkeypatch, capsys, f"{KEY}\n{SECRET}\n", "keys", "add", "binance")
    assert code == 0, err
    return out


def keys_open(home: Path) -> bool:
    settings = load_settings()
    db = open_database(settings)
    try:
        return stored_credentials(db, settings, "binance", "live") == ApiCredentials(
            "binance", KEY, SECRET
        )
    finally:
        db.dispose()


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_fresh_install_keeps_the_key_in_the_home_config_dir(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = add_keys(monkeypatch, capsys)
    key_file = home / "home" / ".config" / "dcabot" / "master.key"
    assert f"created the master key file {key_file} (mode 0600)" in out
    assert private(key_file) and not (home / "data" / "master.key").exists()
    assert keys_open(home)


def test_xdg_config_home_and_the_setting_choose_the_place(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg"))
    add_keys(monkeypatch, capsys)
    assert private(home / "xdg" / "dcabot" / "master.key")
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")  # the XDG spec: absolute only
    assert exchange_keys.master_key_place(load_settings()).path == (
        home / "home" / ".config" / "dcabot" / "master.key"
    )
    monkeypatch.setenv("DCABOT_MASTER_KEY_FILE", str(home / "etc" / "dcabot" / "master.key"))
    run(monkeypatch, capsys, "", "keys", "remove", "binance")
    add_keys(monkeypatch, capsys)
    assert private(home / "etc" / "dcabot" / "master.key") and keys_open(home)


def test_a_key_file_that_cannot_be_made_names_the_setting(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "/proc/dcabot-cannot-be-here")  # like a read-only HOME
    code, out, err = run(monkeypatch, capsys, f"{KEY}\n{SECRET}\n", "keys", "add", "binance")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "cannot create the master key file /proc/dcabot-cannot-be-here/dcabot/master.key" in err
    assert "set DCABOT_MASTER_KEY_FILE" in err and SECRET not in out + err


def test_an_old_install_keeps_its_key_in_the_data_dir_and_is_warned(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    legacy = home / "data" / "master.key"
    assert MasterKeySource(legacy).load(create=True) is not None  # what older versions made
    add_keys(monkeypatch, capsys)
    assert not (home / "home" / ".config" / "dcabot" / "master.key").exists()
    assert keys_open(home)  # sealed and opened with the old file, which still works

    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(exchange_keys, "_warned_about_location", False)
    warn_about_key_location(load_settings())
    warn_about_key_location(load_settings())  # once a process
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"the master key file {legacy} is inside the data directory" in record.getMessage()

    code, out, _ = run(monkeypatch, capsys, "", "doctor")
    lines = out.splitlines()
    assert code == 1 and "FAIL  binance live: unreachable" in out  # only the exchange fails
    assert f"OK    master key: the file {legacy} opens the 1 stored key set(s)" in out
    [warning] = [line for line in lines if line.startswith("WARN  master key location: ")]
    assert "a backup of the data folder stores the key beside the exchange keys" in warning
    target = home / "home" / ".config" / "dcabot"
    assert f"`mkdir -p {target} && mv {legacy} {target}/`" in warning
    assert "DCABOT_MASTER_KEY_FILE" in warning and SECRET not in out

    target.mkdir(parents=True)  # the move the warning asks for: the keys still open
    legacy.rename(target / "master.key")
    assert keys_open(home)
    code, out, _ = run(monkeypatch, capsys, "", "doctor")
    assert code == 1 and "master key location" not in out
    assert f"OK    master key: the file {target / 'master.key'} opens the 1" in out


def test_a_key_file_set_inside_the_data_dir_is_warned_about(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(home / "data"))  # a container whose home is the data volume
    code, out, _ = run(monkeypatch, capsys, "", "doctor")
    assert code == 0  # a warning, not a failure
    [warning] = [line for line in out.splitlines() if "master key location" in line]
    assert warning.startswith("WARN  master key location: the master key file ")
    assert "set DCABOT_MASTER_KEY_FILE to a path outside it" in warning
    monkeypatch.setenv("DCABOT_MASTER_KEY", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=")
    code, out, _ = run(monkeypatch, capsys, "", "doctor")  # from the environment: no file
    assert code == 0
    assert "master key location" not in out and "OK    master key: DCABOT_MASTER_KEY" in out
    assert "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=" not in out
