"""`dcabot doctor` as a person runs it, against real parts: SQLite and PostgreSQL, the fake
exchange through the real ccxt, the fake Telegram and LINE APIs through their SDKs. One line a
check, exit 1 only on a FAIL, never a traceback, never a secret."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from bot import cli
from bot.config import load_settings
from bot.engine.setup import open_database
from storage.db import Database
from storage.migrate import current_revision, upgrade
from tests.fakes.exchange import FakeExchange
from tests.fakes.line_api import FakeLineAPI
from tests.fakes.telegram_api import FakeTelegramAPI

PUBLIC = "https://bot.example"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DCABOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("DCABOT_PRICE_SOURCE", "simulated")
    monkeypatch.setenv("DCABOT_REQUEST_TIMEOUT", "5")
    return tmp_path


def doctor(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = cli.main(["doctor"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = out.splitlines()
    assert lines[-1].startswith("doctor: ")
    for line in lines[:-1]:  # `STATUS  check: message`, the status padded to 4
        assert line[:6] in ("OK    ", "WARN  ", "FAIL  ") and ": " in line[6:], line
    return code, lines[:-1], out + err


def finding(lines: list[str], check: str) -> str:
    """The line of `check` (`STATUS  check: message`)."""
    found = [line for line in lines if line[6:].startswith(f"{check}: ")]
    assert len(found) == 1, (check, lines)
    return found[0]


def migrated(home: Path) -> None:
    open_database(load_settings()).dispose()


def add_keys(monkeypatch: pytest.MonkeyPatch, exchange: str, mode: str, *lines: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    assert cli.main(["keys", "add", exchange, "--mode", mode]) == 0


def test_an_all_good_paper_setup_is_all_ok(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated(home)
    code, lines, _ = doctor(capsys)
    assert code == 0
    assert all(line.startswith("OK    ") for line in lines), lines
    assert finding(lines, "settings").endswith("paper mode on binance, BTC/USDT, data in " + str(
        home / "data"
    ))
    assert "schema at head" in finding(lines, "database")
    assert finding(lines, "binance") == "OK    binance: paper: no keys needed"
    assert not (home / "config" / "dcabot" / "master.key").exists()  # looked, made nothing


def test_a_bad_setting_is_a_fail_line_not_a_traceback(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DCABOT_TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:SECRET-never-shown")
    code, lines, everything = doctor(capsys)
    assert code == 1
    assert lines == [
        "FAIL  settings: DCABOT_TIMEZONE='Mars/Olympus' is invalid: 'Mars/Olympus' is not an "
        "IANA time zone name (e.g. DCABOT_TIMEZONE=Asia/Bangkok); the other checks need valid "
        "settings"
    ]
    assert "SECRET-never-shown" not in everything


def test_a_database_behind_head_fails_and_is_not_upgraded(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    database_url: str,
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    db = Database(database_url)
    upgrade(db, "0007")
    code, lines, _ = doctor(capsys)
    assert code == 1
    line = finding(lines, "database")
    assert line.startswith("FAIL  database: ") and "schema at 0007, behind" in line
    assert "run `dcabot db upgrade`" in line
    assert current_revision(db) == "0007"  # the doctor changed nothing
    db.dispose()


def test_a_database_that_cannot_be_reached_is_one_fail_line(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://dcabot:pw-SeCrEt-9@127.0.0.1:9/dcabot")
    code, lines, everything = doctor(capsys)
    assert code == 1
    line = finding(lines, "database")
    assert line.startswith("FAIL  database: cannot reach postgresql+psycopg://dcabot:***@")
    assert "pw-SeCrEt-9" not in everything


def test_a_telegram_webhook_error_is_a_warning_that_quotes_it(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated(home)
    with FakeTelegramAPI() as tg:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", tg.token)
        monkeypatch.setenv("TELEGRAM_API_URL", tg.url)
        monkeypatch.setenv("PUBLIC_URL", PUBLIC)
        tg.state.set_webhook({"url": f"{PUBLIC}/webhook/telegram"})
        code, lines, _ = doctor(capsys)
        assert code == 0
        assert finding(lines, "telegram bot") == "OK    telegram bot: @dcabot_test_bot (id 123456)"
        assert finding(lines, "telegram webhook").startswith(
            f"OK    telegram webhook: {PUBLIC}/webhook/telegram, no delivery errors"
        )
        tg.state.webhook_error = (int(time.time()) - 300, "Wrong response from the webhook: 502")
        code, lines, everything = doctor(capsys)
        assert code == 0  # a warning, not a failure
        line = finding(lines, "telegram webhook")
        assert line.startswith("WARN  telegram webhook: Telegram's last delivery to ")
        assert '"Wrong response from the webhook: 502"' in line and " 5 min ago" in line
        tg.state.set_webhook({"url": "https://elsewhere.example/hook"})
        code, lines, everything = doctor(capsys)
        line = finding(lines, "telegram webhook")
        assert line.startswith(
            "WARN  telegram webhook: Telegram calls https://elsewhere.example/hook, but "
            "PUBLIC_URL makes it https://bot.example/webhook/telegram: run `dcabot telegram "
            "set-webhook`; Telegram's last delivery"
        )
        tg.state.set_webhook({})  # no webhook: updates are fetched by polling
        code, lines, everything = doctor(capsys)
        assert finding(lines, "telegram webhook").startswith(
            "WARN  telegram webhook: no webhook set (0 update(s) waiting): run `dcabot telegram "
            "set-webhook`"
        )
    assert tg.token not in everything


def test_a_refused_telegram_token_and_an_unreachable_api_are_fail_lines(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated(home)
    with FakeTelegramAPI() as tg:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "654321:not-the-fakes-token")
        monkeypatch.setenv("TELEGRAM_API_URL", tg.url)
        code, lines, everything = doctor(capsys)
    assert code == 1 and "FAIL  telegram bot: Telegram refused TELEGRAM_BOT_TOKEN" in lines[-1]
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:9")
    code, lines, everything = doctor(capsys)
    assert code == 1 and lines[-1].startswith("FAIL  telegram: ")
    assert "not-the-fakes-token" not in everything


def test_a_line_webhook_turned_off_fails(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated(home)
    with FakeLineAPI() as line:
        monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", line.channel_access_token)
        monkeypatch.setenv("LINE_CHANNEL_SECRET", line.channel_secret)
        monkeypatch.setenv("LINE_API_URL", line.base_url)
        monkeypatch.setenv("PUBLIC_URL", PUBLIC)
        line.set_webhook_endpoint(f"{PUBLIC}/webhook/line", active=False)
        code, lines, everything = doctor(capsys)
        assert code == 1
        assert finding(lines, "line bot") == "OK    line bot: dcabot (fake) (@123abcde)"
        hook = finding(lines, "line webhook")
        assert hook.startswith(f"FAIL  line webhook: {PUBLIC}/webhook/line is set but Use webhook")
        line.set_webhook_endpoint(f"{PUBLIC}/webhook/line", active=True)
        code, lines, _ = doctor(capsys)
        assert code == 0 and finding(lines, "line webhook").startswith("OK    ")
        line.set_webhook_endpoint("https://old.example/webhook/line", active=True)
        code, lines, _ = doctor(capsys)
        assert code == 0 and finding(lines, "line webhook").startswith("WARN  line webhook: ")
    assert line.channel_access_token not in everything


def test_line_without_public_url_warns(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated(home)
    with FakeLineAPI() as line:
        monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", line.channel_access_token)
        monkeypatch.setenv("LINE_CHANNEL_SECRET", line.channel_secret)
        monkeypatch.setenv("LINE_API_URL", line.base_url)
        line.set_webhook_endpoint(f"{PUBLIC}/webhook/line")
        code, lines, _ = doctor(capsys)
    assert code == 0
    assert finding(lines, "public url").startswith("WARN  public url: PUBLIC_URL is not set")


def test_testnet_keys_the_exchange_refuses_fail(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeExchange("binance") as fake:
        monkeypatch.setenv("DCABOT_MODE", "testnet")
        monkeypatch.setenv("DCABOT_BINANCE_API_URL", fake.url)
        add_keys(monkeypatch, "binance", "testnet", "WrongKey-0123456789abcdef", "wrong-SECRET-x")
        capsys.readouterr()
        code, lines, everything = doctor(capsys)
    assert code == 1
    assert finding(lines, "binance testnet").startswith("OK    binance testnet: answers at ")
    assert finding(lines, "binance testnet clock").startswith("OK    ")
    keys = finding(lines, "binance testnet keys")
    assert keys.startswith("FAIL  binance testnet keys: keys refused (")
    assert "dcabot keys add binance --mode testnet" in keys
    assert "wrong-SECRET-x" not in everything and "WrongKey-0123456789abcdef" not in everything


def test_a_clock_three_seconds_off_warns(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeExchange("binance") as fake:
        fake.set_skew(3000)  # the exchange 3 s ahead: this host 3 s behind
        monkeypatch.setenv("DCABOT_MODE", "testnet")
        monkeypatch.setenv("DCABOT_BINANCE_API_URL", fake.url)
        add_keys(monkeypatch, "binance", "testnet", fake.api_key, fake.secret)
        capsys.readouterr()
        code, lines, everything = doctor(capsys)
    assert code == 0
    clock = finding(lines, "binance testnet clock")
    assert clock.startswith("WARN  binance testnet clock: this host's clock is 3.")
    assert "s behind Binance's" in clock and "time sync" in clock
    assert finding(lines, "binance testnet keys").startswith("OK    binance testnet keys: key ")
    permissions = finding(lines, "binance testnet permissions")  # no sapi on the sandbox
    assert permissions.startswith("OK    binance testnet permissions: could not read permissions")
    assert fake.secret not in everything


def test_live_keys_that_may_withdraw_warn(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeExchange("binance") as fake:
        monkeypatch.setenv("DCABOT_MODE", "live")
        monkeypatch.setenv("DCABOT_BINANCE_API_URL", fake.url)
        add_keys(monkeypatch, "binance", "live", fake.api_key, fake.secret)
        capsys.readouterr()
        code, lines, _ = doctor(capsys)
        assert code == 0 and all(line.startswith("OK    ") for line in lines), lines
        assert finding(lines, "binance live permissions").endswith("may trade, may not withdraw")
        fake.venue.api_restrictions["enableWithdrawals"] = True  # type: ignore[attr-defined]
        code, lines, _ = doctor(capsys)
        assert code == 0
        assert finding(lines, "binance live permissions").startswith(
            "WARN  binance live permissions: withdrawals are enabled on this key: a trading bot "
            "needs no withdrawal permission"
        )
        fake.venue.api_restrictions["enableSpotAndMarginTrading"] = False  # type: ignore[attr-defined]
        code, lines, _ = doctor(capsys)
    assert code == 1
    assert finding(lines, "binance live permissions").startswith(
        "FAIL  binance live permissions: the key may not trade"
    )


def test_okx_keys_and_permissions_and_an_unreachable_exchange(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DCABOT_MODE", "testnet")
    monkeypatch.setenv("DCABOT_EXCHANGE", "okx")
    with FakeExchange("okx") as fake:
        monkeypatch.setenv("DCABOT_OKX_API_URL", fake.url)
        add_keys(monkeypatch, "okx", "testnet", fake.api_key, fake.secret, fake.passphrase)
        capsys.readouterr()
        code, lines, everything = doctor(capsys)
        assert code == 0, lines
        assert finding(lines, "okx testnet permissions").endswith("may trade, may not withdraw")
        fake.venue.key_permissions = "read_only,trade,withdraw"  # type: ignore[attr-defined]
        code, lines, _ = doctor(capsys)
        assert finding(lines, "okx testnet permissions").startswith("WARN  ")
    assert fake.passphrase not in everything
    code, lines, _ = doctor(capsys)  # the fake is gone: nothing answers there
    assert code == 1 and finding(lines, "okx testnet").startswith("FAIL  okx testnet: unreachable")
