"""The one line that stops start-up: the variable, what is wrong, and a good example.

`describe` turns pydantic's first error into it, in plain words (`must be ...`), never echoing
the value of a secret (`SECRET_VARIABLES`).
"""

from __future__ import annotations

from decimal import Decimal

from pydantic_core import ErrorDetails

from bot.config_checks import AMOUNT_RULES, NUMBER_RULES, WHOLE_NUMBER

TELEGRAM_API = "https://api.telegram.org"
LINE_API = "https://api.line.me"
LINE_DATA_API = "https://api-data.line.me"
_LONGEST_SHOWN = 80

# An example of a good value for each variable, for the one-line start-up errors.
EXAMPLES: dict[str, str] = {
    "DCABOT_DATA_DIR": "/var/lib/dcabot",
    "DATABASE_URL": "postgresql+psycopg://dcabot@localhost/dcabot",
    "DCABOT_MODE": "paper",
    "DCABOT_TIMEZONE": "Asia/Bangkok",
    "DCABOT_ADMINS": "telegram:123456,line:U4af4980629a1b2c3d4e5f60718293a4b",
    "DCABOT_VIEWERS": "telegram:654321",
    "DCABOT_EXCHANGE": "binance",
    "DCABOT_EXCHANGES": "binance,okx",
    "DCABOT_MODE_BINANCE": "paper",
    "DCABOT_MODE_OKX": "paper",
    "DCABOT_SIGNAL_EXCHANGE": "binance",
    "DCABOT_SYMBOL": "BTC/USDT",
    "DCABOT_QUOTE": "USDT",  # or unset: the quote of DCABOT_SYMBOL
    "DCABOT_PAPER_BALANCE": "10000",
    "DCABOT_TAKER_FEE": "0.001",
    "DCABOT_MAX_ORDER": "50000",
    "DCABOT_PRICES_CSV": "candles/btc_usdt_1d.csv",
    "DCABOT_GOLD_PRICES_CSV": "candles/paxg_usdt_1d.csv",
    "DCABOT_PRICE_SOURCE": "auto",
    "DCABOT_SIMULATED_SEED": "42",
    "DCABOT_BINANCE_API_URL": "https://api.binance.com",
    "DCABOT_OKX_API_URL": "https://www.okx.com",
    "DCABOT_REQUEST_TIMEOUT": "30",
    "DCABOT_CIRCUIT_FAILURES": "5",
    "DCABOT_CIRCUIT_COOLDOWN": "120",
    "DCABOT_CONFIRM_TTL": "60",
    "DCABOT_MISSED_RUN_GRACE": "6",
    "DCABOT_TREND_HISTORY_DAYS": "1000",
    "DCABOT_MASTER_KEY": "$(openssl rand -base64 32)",
    "DCABOT_MASTER_KEY_FILE": "/etc/dcabot/master.key",
    "TELEGRAM_BOT_TOKEN": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
    "LINE_CHANNEL_ACCESS_TOKEN": "W1Jx5vQ0bZ3y+Hk2sN8dRt4Lp6mFa9Ec/Ug7iOq=",
    "LINE_CHANNEL_SECRET": "8c3f9b0e5a7d4c2e1f6a9b8d7c5e4f3a",
    "TELEGRAM_WEBHOOK_SECRET": "a-long-random-string_1",
    "TELEGRAM_API_URL": TELEGRAM_API,
    "LINE_API_URL": LINE_API,
    "LINE_DATA_API_URL": LINE_DATA_API,
    "PUBLIC_URL": "https://dcabot.example.com",
    "DCABOT_ALERT_ROUTES": "owner=line:U4af4980629a1b2c3d4e5f60718293a4b,telegram:123456",
    "DCABOT_TELEGRAM_RATE": "30",
    "DCABOT_TELEGRAM_CHAT_RATE": "1",
    "DCABOT_TELEGRAM_GROUP_RATE": "20",
    "DCABOT_LINE_RATE": "100",
    "DCABOT_LINE_QUOTA_RESET_DAY": "1",
    "DCABOT_ALERT_RETRY_MAX": "600",
    "DCABOT_STRANGER_REPLIES": "20",
    "DCABOT_LANGUAGE": "en",
    "DCABOT_BUDDHIST_ERA": "off",
    "DCABOT_PARTIAL_REST": "reserve",
    "DCABOT_CARRY": "on",
    "DCABOT_HEALTH_TOKEN": "$(openssl rand -hex 24)",
    "DCABOT_METRICS_TOKEN": "$(openssl rand -hex 24)",
    "DCABOT_LOG_FILE": "logs/dcabot.log",
    "DCABOT_LOG_MAX_MB": "5",
    "DCABOT_LOG_BACKUPS": "5",
    "DCABOT_LOG_FORMAT": "json",
    "DCABOT_DAILY_SUMMARY": "21:00",
    "DCABOT_HEARTBEAT_URL": "https://hc-ping.com/your-check-uuid",
    "DCABOT_DISPLAY_FIAT": "THB",
    "DCABOT_FIAT_RATE": "36.5",
    "DCABOT_FIAT_MARKET": "USDT/THB",
}


SECRET_VARIABLES = frozenset(
    {
        "DATABASE_URL",  # may hold the database password
        "DCABOT_MASTER_KEY",
        "DCABOT_HEALTH_TOKEN",
        "DCABOT_METRICS_TOKEN",
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
        "LINE_CHANNEL_ACCESS_TOKEN",
        "LINE_CHANNEL_SECRET",
        "DCABOT_HEARTBEAT_URL",  # a monitor's ping URL is its own secret
    }
)


_READABLE = {
    "int_parsing": WHOLE_NUMBER,
    "int_parsing_size": WHOLE_NUMBER + " of fewer digits",
    "int_from_float": WHOLE_NUMBER,
    "int_type": WHOLE_NUMBER,
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "decimal_parsing": "must be a number",
    "decimal_type": "must be a number",
    "finite_number": "must be a finite number, not nan or inf",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "path_type": "must be a path",
}


def readable_problem(error: ErrorDetails, field: str) -> str:
    """Pydantic's message in the words of the start-up line: `must be ...`."""
    kind = error.get("type", "")
    if kind == "enum":
        expected = str(error.get("ctx", {}).get("expected", ""))
        return "must be one of " + expected.replace("'", "")
    if kind in _READABLE:
        if field in NUMBER_RULES:
            return NUMBER_RULES[field].text
        return AMOUNT_RULES.get(field, _READABLE[kind])
    problem = str(error.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        problem = problem.removeprefix(prefix)
    if problem.startswith("Input should be "):
        problem = "must be " + problem.removeprefix("Input should be ")
    return problem


def describe(error: ErrorDetails, variables: dict[str, str]) -> str:
    """`VARIABLE='value' is invalid: problem (e.g. VARIABLE=example)`, on one line."""
    name = str(error["loc"][0]) if error.get("loc") else "?"
    variable = variables.get(name, name)
    field = next((f for f, v in variables.items() if v == variable), name)
    problem = readable_problem(error, field)
    value = error.get("input")
    shown = ""
    if isinstance(value, str | int | float | Decimal) and variable not in SECRET_VARIABLES:
        text = str(value)  # never echo a secret, even a malformed one
        if len(text) > _LONGEST_SHOWN:
            text = text[:_LONGEST_SHOWN] + "..."
        shown = f"={text!r}" if isinstance(value, str) else f"={text}"
    example = EXAMPLES.get(variable, "")
    if example and f"(e.g. {variable}=" not in problem:
        problem += f" (e.g. {variable}={example})"
    return " ".join(f"{variable}{shown} is invalid: {problem}".splitlines())
