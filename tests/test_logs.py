"""Logs: the console and a rotating file in the data dir, and never a secret in either.

Real-looking secrets go through real logging calls (`%s` arguments, `log.exception`
tracebacks, a library's logger); then `dcabot` itself runs in a subprocess with all of them set,
keys stored for Binance and OKX, talking to fake exchanges and a fake Telegram with `-v`, and
no stdout, stderr or log file (rotated ones included) may show one of them.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from bot.config import SettingsError, load_settings
from bot.log_redaction import REDACTED, redact, remember_secret
from bot.logs import close_logging, forget_configuration, log_file_path, setup_logging
from tests.conftest import make_settings
from tests.fakes.exchange import FakeExchange, Fault
from tests.fakes.telegram_api import FakeTelegramAPI

TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"  # the bot id, then 35
LINE_SECRET = "2238daceee2092f073ff80b9465aef7a"
LINE_TOKEN = (
    "MwUe7vlaYOVhQ9bEO8rXbACKmwprX8kzFUpt4oQEqJfFJSYuanwHvL7oQfdFxV1On3R/YVFkxvco1xg1NxOCesiD"
    "1/uWWSNAdPUlj2xoCCOJ0uR/HhdakLxDL7lG5qlHEQnzt58RCib2Ip+jRSUm57wWQq60K/In1Q//B8PCBiQ="
)
MASTER_KEY = "z4Bl3GZtxHCia0VE/rMUII1WOebxjG3Tw/yh56QmEI4="
WEBHOOK_SECRET = "wh_Secret-2026_abcdefghij"
HEALTH_TOKEN = "health-9f8e7d6c5b4a39281706f5e4"
METRICS_TOKEN = "metrics-0a1b2c3d4e5f60718293a4b5"
BINANCE_KEY = "C3J27XDCG2LmlZGEONYlgCtjfIZ4SOcMz9CPVNPkNa1Hedcm4pMbXDuCL1mHoOsF"
BINANCE_SECRET = "aQfDPrAJ71fTquWoGsbeKXgzg2sye9b2Rann76dEyTzAeKOmXRrvftva9AW7hipT"
OKX_KEY = "6f1c2b9e-3a4d-4e8f-9b0a-1c2d3e4f5a6b"
OKX_SECRET = "18B904CE6087413E3B266F850F1578B5"
OKX_PASSPHRASE = "Tr4d3r-okx_Pass!phrase"
SECRETS = [
    TELEGRAM_TOKEN, LINE_SECRET, LINE_TOKEN, MASTER_KEY, WEBHOOK_SECRET, HEALTH_TOKEN,
    METRICS_TOKEN, BINANCE_KEY, BINANCE_SECRET, OKX_KEY, OKX_SECRET, OKX_PASSPHRASE,
]
ENVIRONMENT = {
    "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
    "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "LINE_CHANNEL_SECRET": LINE_SECRET,
    "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN,
    "DCABOT_MASTER_KEY": MASTER_KEY,
    "DCABOT_HEALTH_TOKEN": HEALTH_TOKEN,
    "DCABOT_METRICS_TOKEN": METRICS_TOKEN,
}


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        for shape in {secret, quote(secret, safe="")}:
            assert shape not in text, f"{secret[:6]}... in {where}"


@pytest.fixture(autouse=True)
def fresh_logging() -> Iterator[None]:
    yield
    forget_configuration()


def configure(tmp_path: Path) -> Any:
    """Logging as `dcabot serve` sets it up (stdout, the file), every secret set, and the
    exchange keys opened (as `stored_credentials` remembers them)."""
    settings = make_settings(
        tmp_path,
        telegram_bot_token=TELEGRAM_TOKEN,
        telegram_webhook_secret=WEBHOOK_SECRET,
        line_channel_secret=LINE_SECRET,
        line_channel_access_token=LINE_TOKEN,
        master_key=MASTER_KEY,
        health_token=HEALTH_TOKEN,
        metrics_token=METRICS_TOKEN,
    )
    setup_logging(settings, verbose=True, command="serve")
    remember_secret(BINANCE_KEY, BINANCE_SECRET, OKX_KEY, OKX_SECRET, OKX_PASSPHRASE)
    return settings


def test_secrets_are_redacted_from_messages_arguments_and_tracebacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configured = configure(tmp_path)
    log = logging.getLogger("dcabot.test")
    log.info("token %s, secret %s, access %s", TELEGRAM_TOKEN, LINE_SECRET, LINE_TOKEN)
    log.warning("keys: %r", {"apiKey": BINANCE_KEY, "secret": BINANCE_SECRET})
    log.error("okx %(key)s %(pass)s", {"key": OKX_KEY, "pass": OKX_PASSPHRASE})
    logging.getLogger("httpx").info(  # a library's logger, as httpx says each request
        'HTTP Request: POST https://api.telegram.org/bot%s/sendMessage "HTTP/1.1 200 OK"',
        TELEGRAM_TOKEN,
    )
    logging.getLogger("uvicorn.error").warning("master key %s", quote(MASTER_KEY, safe=""))
    try:
        secret = OKX_SECRET
        raise RuntimeError(f"signing failed with {secret} and {HEALTH_TOKEN}/{METRICS_TOKEN}")
    except RuntimeError:
        log.exception("the webhook secret %s did not match", WEBHOOK_SECRET)
    close_logging()
    console = capsys.readouterr().out  # `serve` logs to stdout
    written = (configured.data_dir / "logs" / "dcabot.log").read_text()
    for text, where in ((console, "stdout"), (written, "the log file")):
        assert_no_secret(text, where)
        assert "Traceback (most recent call last)" in text, where
        assert "RuntimeError: signing failed with [REDACTED]" in text, where
        assert "/bot[REDACTED]/sendMessage" in text
        assert text.count(REDACTED) >= 12


def test_credential_shapes_are_redacted_even_when_not_configured() -> None:
    other_token = "987654321:BBGfe-sdf_SDFsdfSDFsdfsdfSDFsdf12345"
    key = "x" * 20 + "Y" * 44
    headers = {"X-MBX-APIKEY": "abcd1234efgh", "OK-ACCESS-PASSPHRASE": "hunter2-okx"}
    text = redact(
        f"GET /api/v3/account?timestamp=1&signature={'ab12' * 16} {headers} "
        f"OK-ACCESS-SIGN: c2lnbmF0dXJl== OK-ACCESS-KEY=uuid-key-1 key {key} "
        f"Authorization: Bearer {'t' * 30} https://api.telegram.org/bot{other_token}/getMe"
    )
    for leaked in ("ab12ab12", "abcd1234efgh", "hunter2-okx", "c2lnbmF0dXJl", "uuid-key-1",
                   key, "t" * 30, other_token, "SDFsdf"):
        assert leaked not in text, leaked
    assert "signature=[REDACTED]" in text and "'X-MBX-APIKEY': '[REDACTED]'" in text
    assert "Authorization: Bearer [REDACTED]" in text and "/bot[REDACTED]/getMe" in text
    ordinary = "bought 0.00053 BTC at 93,859.71 at 09:30:00 for schedule:1:2026-11-21T09:00Z"
    assert redact(ordinary) == ordinary  # times, amounts and keys of runs stay readable


def test_json_lines_parse_and_carry_the_traceback(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, log_format="json", log_file=str(tmp_path / "bot.json"))
    assert setup_logging(settings, verbose=False, command="chat") == tmp_path / "bot.json"
    log = logging.getLogger("dcabot.json")
    log.info("a line\nwith two lines and a token %s", TELEGRAM_TOKEN)
    try:
        {}["missing"]
    except KeyError:
        log.exception("failed")
    close_logging()
    lines = (tmp_path / "bot.json").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["message"] for e in entries] == [
        "a line\nwith two lines and a token [REDACTED]", "failed"]
    assert {"time", "level", "logger", "message"} == set(entries[0])  # no exception: no key
    assert entries[1]["level"] == "ERROR" and entries[1]["logger"] == "dcabot.json"
    assert entries[1]["exception"].startswith("Traceback") and "KeyError" in entries[1]["exception"]
    assert entries[0]["time"].endswith("+00:00")


@pytest.mark.parametrize("backups", [2, 0])
def test_the_file_rotates_and_keeps_only_its_backups(tmp_path: Path, backups: int) -> None:
    settings = make_settings(tmp_path, log_max_mb="0.001", log_backups=str(backups))
    path = setup_logging(settings, verbose=False, command="run")
    assert path == settings.data_dir / "logs" / "dcabot.log" == log_file_path(settings)
    for number in range(200):
        logging.getLogger("dcabot.rotate").info("line %03d %s", number, "x" * 40)
    close_logging()
    names = sorted(p.name for p in path.parent.iterdir())
    lock = ".__dcabot.lock"  # concurrent-log-handler's, shared by the processes that log here
    assert names == [lock, "dcabot.log"] + [f"dcabot.log.{n}" for n in range(1, backups + 1)]
    assert (path.parent / lock).stat().st_size == 0  # it holds no log line
    for file in path.parent.glob("dcabot.log*"):
        assert file.stat().st_size <= 1048 + 100 and file.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert "line 199" in path.read_text()


@pytest.mark.parametrize(
    ("command", "token", "stream"),
    [("serve", "", "out"), ("run", TELEGRAM_TOKEN, "out"), ("run", "", "err"),
     ("chat", TELEGRAM_TOKEN, "err"), ("db", "", "err")],
)
def test_a_service_logs_to_stdout_and_other_commands_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, token: str, stream: str
) -> None:
    """stdout for a service (journald, docker logs); stderr where stdout is the chat (`dcabot
    run` without a token, `dcabot chat`) or a command's answer."""
    setup_logging(make_settings(tmp_path, telegram_bot_token=token), verbose=False,
                  command=command)
    logging.getLogger("dcabot").warning("where does this go")
    close_logging()
    out, err = capsys.readouterr()
    assert ("where does this go" in out, "where does this go" in err) == (
        stream == "out", stream == "err")


def test_off_disables_the_file(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, log_file="off")
    assert setup_logging(settings, verbose=False, command="run") is None
    logging.getLogger("dcabot").warning("console only")
    assert not (settings.data_dir / "logs").exists()


@pytest.mark.parametrize("target", ["dcabot.db", "dcabot.db-wal", "master.key"])
def test_a_log_file_set_to_the_database_or_the_key_is_refused(
    tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path, log_file=target, master_key_file=tmp_path / "data" /
                             "master.key")
    precious = settings.data_dir / target
    precious.parent.mkdir(parents=True, exist_ok=True)
    precious.write_bytes(b"SQLite format 3\x00")
    assert setup_logging(settings, verbose=False, command="run") is None
    logging.getLogger("dcabot").warning("this line must not land in the file")
    close_logging()
    assert precious.read_bytes() == b"SQLite format 3\x00"  # untouched
    out, err = capsys.readouterr()
    assert "is the database or the master key file" in out + err


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("DCABOT_LOG_MAX_MB", "0", "must be megabytes from 0.001"),
        ("DCABOT_LOG_MAX_MB", "inf", "must be megabytes from 0.001"),
        ("DCABOT_LOG_BACKUPS", "101", "0 to 100"),
        ("DCABOT_LOG_FORMAT", "xml", "must be one of text or json"),
        ("DCABOT_LOG_FILE", "/", "is a directory"),
        ("DCABOT_METRICS_TOKEN", "short", "must be 16-256 characters"),
    ],
)
def test_bad_log_settings_are_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None, data_dir=tmp_path / "data")
    assert str(refused.value).startswith(variable) and problem in str(refused.value)
    assert "\n" not in str(refused.value)


# --- the session: dcabot itself, every secret set ------------------------------------------


def dcabot(home: Path, stdin: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("DCABOT_", "TELEGRAM_", "LINE_")) and k != "DATABASE_URL"
    }
    clean.update(ENVIRONMENT)
    clean.update({
        "DCABOT_DATA_DIR": str(home / "data"),
        "DCABOT_LOG_MAX_MB": "0.001",  # about 1 KB: a few lines fill it
        "DCABOT_LOG_BACKUPS": "2",
        "DCABOT_REQUEST_TIMEOUT": "5",
    })
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True, text=True,
        cwd=home, env=clean, timeout=120, check=False,
    )


def test_a_session_with_every_secret_set_shows_none_of_them(tmp_path: Path) -> None:
    with (
        FakeTelegramAPI(token=TELEGRAM_TOKEN) as tg,
        FakeExchange("binance", api_key=BINANCE_KEY, secret=BINANCE_SECRET,
                     balances={"USDT": "1000"}) as binance,
        FakeExchange("okx", api_key=OKX_KEY, secret=OKX_SECRET, passphrase=OKX_PASSPHRASE,
                     balances={"USDT": "1000"}) as okx,
    ):
        urls = {"DCABOT_BINANCE_API_URL": binance.url, "DCABOT_OKX_API_URL": okx.url,
                "TELEGRAM_API_URL": tg.url}
        live = {"DCABOT_MODE": "live", **urls}
        json_log = tmp_path / "okx.json"
        okx.inject("/api/v5/account/balance", Fault.server_error(503))  # a retry to log
        runs = [
            dcabot(tmp_path, f"{BINANCE_KEY}\n{BINANCE_SECRET}\n", "keys", "add", "binance",
                   "--mode", "live", **urls),
            dcabot(tmp_path, f"{OKX_KEY}\n{OKX_SECRET}\n{OKX_PASSPHRASE}\n", "keys", "add",
                   "okx", "--mode", "live", **urls),
            dcabot(tmp_path, "/status\n", "-v", "chat", **live),  # opens the Binance keys
            dcabot(tmp_path, "/status\n", "-v", "chat", DCABOT_EXCHANGE="okx",
                   DCABOT_LOG_FORMAT="json", DCABOT_LOG_FILE=str(json_log), **live),
            dcabot(tmp_path, "", "-v", "telegram", "webhook-info", **urls),
        ]
        quiet_chat = dcabot(tmp_path, "/status\n", "chat", DCABOT_PRICE_SOURCE="simulated")
        assert binance.requests and okx.requests  # the live chats really asked the exchanges
    for number, run in enumerate([*runs, quiet_chat]):
        assert run.returncode == 0, (number, run.stderr[-2000:])
        assert_no_secret(run.stdout, f"run {number}'s stdout")
        assert_no_secret(run.stderr, f"run {number}'s stderr")
    assert "BTC held" in runs[2].stdout and "BTC held" in runs[3].stdout
    # `dcabot chat` keeps INFO lines out of the chat and off the console; the file has them
    assert quiet_chat.stderr == "" and " INFO " not in quiet_chat.stdout
    folder = tmp_path / "data" / "logs"
    files = sorted(folder.glob("dcabot.log*"))
    assert [f.name for f in files] == ["dcabot.log", "dcabot.log.1", "dcabot.log.2"]
    assert sorted(f.name for f in folder.iterdir() if f not in files) == [".__dcabot.lock"]
    json_files = sorted(tmp_path.glob("okx.json*"))
    assert json_files[0].name == "okx.json"
    written = "".join(f.read_text() for f in [*files, *json_files])
    assert_no_secret(written, "the log files")
    assert " INFO " in (folder / "dcabot.log").read_text()  # the quiet chat's own lines
    assert "/bot[REDACTED]/getWebhookInfo" in "".join(r.stderr for r in runs)  # httpx, -v
    entries = [json.loads(line) for f in json_files for line in f.read_text().splitlines()]
    assert entries and all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert any("[live okx]" in e["message"] for e in entries)  # the retry, said and redacted


WRITER = """
import logging, sys
from bot.config import load_settings
from bot.logs import close_logging, setup_logging
setup_logging(load_settings(), verbose=False, command="serve")
log = logging.getLogger("dcabot")
for i in range(int(sys.argv[2])):
    log.info("line %s-%05d %s", sys.argv[1], i, "x" * 60)
close_logging()
"""


def test_processes_sharing_the_log_file_lose_no_line_when_it_rotates(tmp_path: Path) -> None:
    """The leader, web workers and `dcabot chat` all write <data dir>/logs/dcabot.log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCABOT_")}
    env.update(DCABOT_DATA_DIR=str(tmp_path / "data"), DCABOT_LOG_MAX_MB="0.01",
               DCABOT_LOG_BACKUPS="100", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    lines = 1000
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, name, str(lines)], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for name in ("a", "b", "c", "d", "e", "f")
    ]
    for writer in writers:
        assert writer.wait(timeout=120) == 0, writer.stderr.read() if writer.stderr else ""
    folder = tmp_path / "data" / "logs"
    written = [
        line for path in folder.glob("dcabot.log*") for line in
        path.read_text(encoding="utf-8").splitlines() if " line " in line
    ]
    assert len(list(folder.glob("dcabot.log.*"))) > 3  # it rotated, many times
    ids = [line.split(" line ", 1)[1].split()[0] for line in written]
    assert len(ids) == len(set(ids)) == 6 * lines  # every line once: none lost, none doubled
