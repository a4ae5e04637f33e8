"""Every setting refuses what would break the bot later, with one line at start-up.

The table below has bad values for every row of README's settings table; each goes through
`dcabot db upgrade` in this process, which must stop before anything is written. A property test
throws non-finite, negative and non-numeric text at the numeric settings.
"""

from __future__ import annotations

import math
import secrets
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from bot.cli import main
from bot.config import (
    EXAMPLES,
    SECRET_VARIABLES,
    VARIABLES,
    SettingsError,
    load_settings,
)
from bot.config_checks import AMOUNT_RULES, NUMBER_RULES
from bot.config_errors import LINE_API, TELEGRAM_API, describe
from storage.master_key import encode_master_key, new_master_key
from tests.test_readme import table

LINE_ID = "U4af4980629a1b2c3d4e5f60718293a4b"
TG_TOKEN = "123456:TEST-TOKEN"
LINE_TOKEN = "test-line-channel-access-token"
# Placeholders filled in per test: an existing CSV, a directory, a plain file (all in tmp_path).
CSV, DIRECTORY, FILE = "{csv}", "{dir}", "{file}"

NOT_FINITE = ["nan", "NaN", "inf", "-inf", "Infinity", "1e999999", "-1e999999"]
MALFORMED = ["abc", "", " ", "1,5", "12 seconds", "0x10"]


def numbers(*extra: str, negative: str = "-1", zero: bool = True) -> list[str]:
    """Bad values for a number: non-finite, malformed, negative, zero (unless allowed), `extra`."""
    return [*NOT_FINITE, *MALFORMED, negative, *(["0"] if zero else []), *extra]


BAD_URLS = [
    "not a url",
    "ftp://example.com",
    "https://",
    "api.example.com",
    "https://a b.com",
    "https://example.com:port",
    "https://example.com/?q=1",
    "https://example.com/#top",
]

# Every variable of README's settings table -> values it must refuse. A tuple is a value with
# more variables set around it.
BAD: dict[str, list[str | tuple[str, dict[str, str]]]] = {
    "DCABOT_DATA_DIR": ["", " ", FILE, "x" * 5000],
    "DATABASE_URL": [
        "not a url",
        "mysql://dcabot:pw@localhost/dcabot",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql://dcabot:pw@localhost:port/dcabot",
    ],
    "DCABOT_MODE": ["real", "Paper", "", "nan"],
    "DCABOT_TIMEZONE": ["Mars/Olympus", "", "../../etc/passwd", "nan"],
    "DCABOT_ADMINS": [
        ",,",
        "x",
        "whatsapp:1",
        "telegram:abc",
        "telegram:-5",
        "line:U12",
        f"line:{LINE_ID.upper()}",
    ],
    "DCABOT_VIEWERS": [
        ",",
        "telegram:",
        "line:abc",
        ("telegram:1", {"DCABOT_ADMINS": "telegram:1"}),
    ],
    "DCABOT_EXCHANGE": ["Binance", "", "bin ance", "okx/v5", "binance.us"],
    "DCABOT_EXCHANGES": [
        "binance,binance", ",,", "binance,Okx", "binance,kraken2x", "okx/v5",
        ("binance,okx", {"DCABOT_EXCHANGE": "okx"}),  # okx would quietly stop being the default
        ("binance,kraken", {"DCABOT_MODE_KRAKEN": "paper"}),  # a mode that would be ignored
    ],
    "DCABOT_MODE_BINANCE": ["real", "Live", "nan"],
    "DCABOT_MODE_OKX": ["real", "Testnet", "nan"],
    "DCABOT_SIGNAL_EXCHANGE": ["kraken", ("okx", {"DCABOT_EXCHANGES": "binance"})],
    "DCABOT_SYMBOL": ["btc/usdt", "BTCUSDT", "BTC/BTC", "", "BTC/USDT/EUR"],
    "DCABOT_QUOTE": ["USDC", "usdt", "nan", ("USDT", {"DCABOT_SYMBOL": "BTC/USDC"})],
    "DCABOT_PAPER_BALANCE": numbers("-0", "1e13", "1000000000000.5", "1e-30", "1e-999999999"),
    "DCABOT_TAKER_FEE": numbers("-0.001", "0.1", "1", "1e-30", zero=False),
    "DCABOT_MAX_ORDER": numbers("1e13", "0.0000000000000000001"),
    "DCABOT_PRICES_CSV": [
        "missing.csv",
        DIRECTORY,
        (CSV, {"DCABOT_MODE": "live"}),
        (CSV, {"DCABOT_EXCHANGES": "binance,okx", "DCABOT_MODE_OKX": "testnet"}),
    ],
    "DCABOT_GOLD_PRICES_CSV": [CSV, ("missing.csv", {"DCABOT_PRICES_CSV": CSV})],
    "DCABOT_PRICE_SOURCE": ["ticker", "", "nan"],
    "DCABOT_CARRY": ["yes", "", "ON!"],
    "DCABOT_PARTIAL_REST": ["sometimes", "", "RESERVE!"],
    "DCABOT_SIMULATED_SEED": [*NOT_FINITE, *MALFORMED, "1.5", "1e3"],
    "DCABOT_BINANCE_API_URL": BAD_URLS,
    "DCABOT_OKX_API_URL": BAD_URLS,
    "DCABOT_REQUEST_TIMEOUT": numbers("301", "1e-400"),
    "DCABOT_CIRCUIT_FAILURES": numbers("1.5", "1001"),
    "DCABOT_CIRCUIT_COOLDOWN": numbers("0.5", "86401"),
    "DCABOT_MASTER_KEY": ["abc", "c2VjcmV0", "not base64 at all!", encode_master_key(b"k" * 31)],
    "DCABOT_MASTER_KEY_FILE": [DIRECTORY, "a-file/master.key", "x" * 5000, "keys/master.key"],
    "DCABOT_CONFIRM_TTL": numbers("1", "9", "3601", "10.5"),
    "DCABOT_MISSED_RUN_GRACE": numbers("0.0001", "169"),
    "DCABOT_TREND_HISTORY_DAYS": numbers("26", "59", "4001", "100.5"),
    "TELEGRAM_BOT_TOKEN": ["abc", "123456", "123456 TEST-TOKEN", "123456:TEST TOKEN"],
    "LINE_CHANNEL_ACCESS_TOKEN": ["has a space", "tab\there"],
    "TELEGRAM_WEBHOOK_SECRET": ["has spaces", "x" * 257, "semi;colon"],
    "TELEGRAM_API_URL": ["", *BAD_URLS],
    "LINE_CHANNEL_SECRET": ["has a space", "new\nline"],
    "LINE_API_URL": ["", *BAD_URLS],
    "LINE_DATA_API_URL": ["", *BAD_URLS],
    "PUBLIC_URL": ["http://bot.example", "not a url", "https://", "bot.example"],
    "DCABOT_ALERT_ROUTES": [
        ";;",
        ";",
        "owner=",
        "whatsapp:1",
        "ann=telegram:2",
        f"owner=line:{LINE_ID},telegram:1",
        (f"owner=line:{LINE_ID}", {"TELEGRAM_BOT_TOKEN": TG_TOKEN}),
        ("owner=telegram:1", {"LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN}),
    ],
    "DCABOT_TELEGRAM_RATE": numbers("0.0001", "100001"),
    "DCABOT_TELEGRAM_CHAT_RATE": numbers("0.0001", "100001"),
    "DCABOT_TELEGRAM_GROUP_RATE": numbers("0.0001", "100001"),
    "DCABOT_LINE_RATE": numbers("0.0001", "100001"),
    "DCABOT_LINE_QUOTA_RESET_DAY": numbers("29", "1.5"),
    "DCABOT_ALERT_RETRY_MAX": numbers("0.5", "86401"),
    "DCABOT_STRANGER_REPLIES": numbers("1001", "2.5", zero=False),
    "DCABOT_LANGUAGE": ["", "de", "thai", "th-TH"],
    "DCABOT_BUDDHIST_ERA": ["yes", "", "2569"],
    "DCABOT_HEALTH_TOKEN": ["short", "has spaces in it, sixteen+", "x" * 257, "tökentökentöken1"],
    "DCABOT_METRICS_TOKEN": ["short", "has spaces in it, sixteen+", "x" * 257, "tökentökentöken1"],
    "DCABOT_LOG_FILE": ["/", "/dev/null/dcabot.log", "../outside.log"],
    "DCABOT_LOG_MAX_MB": numbers("0.0009", "1025"),
    "DCABOT_LOG_BACKUPS": numbers("101", "2.5", zero=False),
    "DCABOT_LOG_FORMAT": ["xml", "", "JSON!"],
    "DCABOT_DAILY_SUMMARY": ["24:00", "9:00", "21:60", "tonight", "21:00:00"],
    "DCABOT_DISPLAY_FIAT": ["thb", "BAHT", "TH"],
    "DCABOT_FIAT_RATE": ["0", "-1", "nan", "inf", "1e30"],
    "DCABOT_FIAT_MARKET": [("BTC/THB", {"DCABOT_DISPLAY_FIAT": "THB"}),
                           ("USDT/THB", {}),
                           ("", {"DCABOT_DISPLAY_FIAT": "THB"})],  # no market and no rate
    "DCABOT_HEARTBEAT_URL": [*BAD_URLS[:4], "https://hc-ping.com/x?token=1"],
}


def readme_variables() -> list[str]:
    return [row[0].strip("`") for row in table("settings")]


def cases() -> list[tuple[str, str, dict[str, str]]]:
    found = []
    for variable, values in BAD.items():
        for value in values:
            text, around = value if isinstance(value, tuple) else (value, {})
            found.append((variable, text, around))
    return found


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (no `.env`), with a CSV, a directory and a file in it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DCABOT_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "candles.csv").write_text("timestamp,open,high,low,close,volume\n")
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "a-file").write_text("not a directory")
    return tmp_path


def filled(text: str, home: Path) -> str:
    places = {CSV: "candles.csv", DIRECTORY: "a-directory", FILE: str(home / "a-file")}
    return places.get(text, text)


def test_every_setting_in_the_readme_has_bad_values_here() -> None:
    assert list(BAD) == readme_variables()
    assert set(VARIABLES.values()) == set(BAD)


@pytest.mark.parametrize(("variable", "value", "around"), cases())
def test_a_bad_value_stops_start_up_with_one_line(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    around: dict[str, str],
) -> None:
    for name, other in around.items():
        monkeypatch.setenv(name, filled(other, home))
    monkeypatch.setenv(variable, filled(value, home))
    assert main(["db", "upgrade"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n") and len(err.splitlines()) == 1, err
    assert err.startswith(f"dcabot: {variable}") and " is invalid: " in err, err
    assert f"(e.g. {variable}=" in err, err
    assert "Traceback" not in err and "Input should" not in err and "Value error" not in err
    if variable in SECRET_VARIABLES:  # a secret is never echoed
        assert err.startswith(f"dcabot: {variable} is invalid: "), err
        assert len(value.strip()) < 10 or value.strip() not in err
    assert "pw@" not in err  # nor the password in a database URL
    assert not (home / "data").exists() and not list(home.rglob("*.db"))


# --- property: numeric settings ------------------------------------------------------------

NUMERIC = sorted([*NUMBER_RULES, *AMOUNT_RULES, "simulated_seed"])


def _is_number(text: str) -> bool:
    for parse in (float, int, Decimal):
        try:
            parse(text)
        except (ValueError, InvalidOperation):
            continue
        return True
    return False


non_finite = st.sampled_from([*NOT_FINITE, "+inf", "-Infinity", "-nan", "1e400", "-1E400"]) | (
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda x: not math.isfinite(x)).map(str)
)
negative = st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False).map(repr) | (
    st.integers(max_value=-1).map(str)
)
non_numeric = st.text(max_size=30).filter(lambda text: not _is_number(text))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_numeric_settings_refuse_non_finite_negative_and_non_numeric_text(
    data: st.DataObject,
) -> None:
    field = data.draw(st.sampled_from(NUMERIC), label="field")
    bad = non_finite | non_numeric  # a negative seed is a seed like any other
    value = data.draw(bad if field == "simulated_seed" else bad | negative, label="value")
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None, **{field: value})
    message = str(refused.value)
    assert len(message.splitlines()) == 1 and "\n" not in message and "\r" not in message
    assert message.startswith(f"{VARIABLES[field]}") and " is invalid: " in message


# --- good values still load ----------------------------------------------------------------


def test_the_defaults_load(home: Path) -> None:
    loaded = load_settings(_env_file=None)
    assert loaded.quote == "USDT" == loaded.quote_asset
    assert (loaded.telegram_api_url, loaded.line_api_url) == (TELEGRAM_API, LINE_API)
    assert loaded.binance_api_url == loaded.okx_api_url == loaded.database_url == ""
    assert loaded.prices_csv is None and loaded.alert_routes == ""


def example_environment(home: Path) -> dict[str, str]:
    """EXAMPLES as an environment: their candle files exist, the master key is a real one."""
    for variable in ("DCABOT_PRICES_CSV", "DCABOT_GOLD_PRICES_CSV"):
        path = home / EXAMPLES[variable]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("timestamp,open,high,low,close,volume\n")
    values = dict(EXAMPLES)
    for variable in ("DCABOT_MASTER_KEY", "DCABOT_HEALTH_TOKEN", "DCABOT_METRICS_TOKEN"):
        assert values[variable].startswith("$(openssl rand ")  # a command, not a key to copy
    values["DCABOT_MASTER_KEY"] = encode_master_key(new_master_key())
    values["DCABOT_HEALTH_TOKEN"] = secrets.token_hex(24)
    values["DCABOT_METRICS_TOKEN"] = secrets.token_hex(24)
    return values


def test_every_variable_has_an_example_and_they_all_load_together(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set(EXAMPLES) == set(readme_variables())
    for variable, value in example_environment(home).items():
        monkeypatch.setenv(variable, value)
    loaded = load_settings()
    assert loaded.quote == "USDT" and loaded.prices_csv == Path(EXAMPLES["DCABOT_PRICES_CSV"])
    assert loaded.alert_routes == EXAMPLES["DCABOT_ALERT_ROUTES"]


# What each example needs set around it to load on its own.
NEEDS = {
    "DCABOT_DISPLAY_FIAT": ["DCABOT_FIAT_RATE"],
    "DCABOT_FIAT_MARKET": ["DCABOT_DISPLAY_FIAT"],
    "DCABOT_GOLD_PRICES_CSV": ["DCABOT_PRICES_CSV"],
    "DCABOT_ALERT_ROUTES": ["TELEGRAM_BOT_TOKEN", "LINE_CHANNEL_ACCESS_TOKEN"],
}


@pytest.mark.parametrize("variable", sorted(EXAMPLES))
def test_each_example_loads_on_its_own(
    home: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    examples = example_environment(home)
    for name in [*NEEDS.get(variable, []), variable]:
        monkeypatch.setenv(name, examples[name])
    load_settings()


@pytest.mark.parametrize(
    ("field", "value", "loaded"),
    [
        ("confirm_ttl_s", "10", 10),
        ("confirm_ttl_s", "3600", 3600),
        ("trend_history_days", "60", 60),
        ("missed_run_grace_h", "168", 168.0),
        ("missed_run_grace_h", "0.5", 0.5),
        ("request_timeout_s", "0.5", 0.5),
        ("request_timeout_s", "300", 300.0),
        ("circuit_cooldown_s", "1", 1.0),
        ("circuit_failures", "1", 1),
        ("simulated_seed", "-7", -7),
        ("taker_fee", "0", Decimal(0)),
        ("taker_fee", "0.099", Decimal("0.099")),
        ("paper_start_balance", "1e12", Decimal(10) ** 12),
        ("max_order", "0.000000000000000001", Decimal("1e-18")),
        ("max_order", "25.500000000000000000000", Decimal("25.5")),
        ("telegram_group_rate", "0.001", 0.001),
        ("line_rate", "100000", 100000.0),
        ("binance_api_url", "http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("okx_api_url", " https://www.okx.com/ ", "https://www.okx.com"),
        ("public_url", "https://bot.example/", "https://bot.example"),
        ("database_url", "postgresql://dcabot:pw@db:5432/dcabot", None),
        ("database_url", "sqlite:///data/other.db", None),
        ("quote", "USDT", "USDT"),
        ("admins", f"telegram:1, line:{LINE_ID}", ("telegram:1", f"line:{LINE_ID}")),
        ("alert_routes", "owner=terminal;ann=terminal", None),
        ("prices_csv", "", None),
    ],
)
def test_good_values_at_the_edges_load(home: Path, field: str, value: str, loaded: object) -> None:
    if loaded is None:
        load_settings(_env_file=None, **{field: value})
    else:
        assert getattr(load_settings(_env_file=None, **{field: value}), field) == loaded


def test_db_upgrade_with_good_settings_creates_the_database(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.startswith("database at revision ")
    assert (home / "data" / "dcabot.db").exists()


# --- pydantic's own messages, in the start-up line's words ---------------------------------


class _Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class _Sample(BaseModel):
    count: int = 0
    ratio: float = 0.0
    flag: bool = False
    colour: _Colour = _Colour.RED
    amount: Decimal = Decimal(0)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("count", "abc", "must be a whole number"),
        ("count", "1.5", "must be a whole number"),
        ("ratio", "abc", "must be a number"),
        ("flag", "perhaps", "must be true or false"),
        ("colour", "green", "must be one of red or blue"),
        ("amount", "abc", "must be a number"),
    ],
)
def test_pydantics_messages_are_reworded(field: str, value: str, problem: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _Sample.model_validate({field: value})
    variable = f"DCABOT_{field.upper()}"
    line = describe(refused.value.errors()[0], {field: variable})
    assert line == f"{variable}={value!r} is invalid: {problem}"


def test_a_float_given_nan_names_its_range() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None, missed_run_grace_h="nan")
    assert str(refused.value) == (
        "DCABOT_MISSED_RUN_GRACE='nan' is invalid: must be hours from 0.0003 (one second) to 168 "
        "(a week) (e.g. DCABOT_MISSED_RUN_GRACE=6)"
    )
