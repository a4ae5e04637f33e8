"""`dcabot doctor`'s chat checks: the public address, Telegram's bot and webhook, LINE's.

Each asks the real API through its official SDK (python-telegram-bot, line-bot-sdk) at the
configured base URL, so a local Bot API server or a test's fake answers the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.config import Settings
from bot.doctor_report import Finding, Status
from bot.telegram_cli import WEBHOOK_PATH

LINE_WEBHOOK_PATH = "/webhook/line"


def check_public_url(settings: Settings) -> list[Finding]:
    """PUBLIC_URL is validated as https when set; here: is it set where it is needed."""
    name = "public url"
    if settings.public_url:
        return [Finding(Status.OK, name, f"{settings.public_url} (https)")]
    if settings.line_channel_access_token:
        return [
            Finding(
                Status.WARN,
                name,
                "PUBLIC_URL is not set: LINE needs the bot at an https address for its webhook "
                "(and to fetch charts); set PUBLIC_URL=https://<your host>",
            )
        ]
    if settings.telegram_bot_token:
        return [
            Finding(
                Status.OK,
                name,
                "not set: fine when Telegram's updates are fetched with `dcabot run --polling`; "
                "a webhook needs PUBLIC_URL=https://<your host>",
            )
        ]
    return [Finding(Status.OK, name, "not needed: no chat tokens, the terminal is the chat")]


def _expected(settings: Settings, path: str) -> str:
    return f"{settings.public_url.rstrip('/')}{path}" if settings.public_url else ""


def _ago(when: datetime, now: datetime) -> str:
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172_800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


async def check_telegram(settings: Settings) -> list[Finding]:
    from telegram import Bot
    from telegram.error import InvalidToken

    api = settings.telegram_api_url
    bot = Bot(settings.telegram_bot_token, base_url=f"{api}/bot", base_file_url=f"{api}/file/bot")
    try:
        async with bot:  # initialize() is getMe
            me = bot.bot
            info = await bot.get_webhook_info()
    except InvalidToken:
        return [
            Finding(
                Status.FAIL,
                "telegram bot",
                "Telegram refused TELEGRAM_BOT_TOKEN: check it with @BotFather",
            )
        ]
    findings = [Finding(Status.OK, "telegram bot", f"@{me.username} (id {me.id})")]
    name, expected = "telegram webhook", _expected(settings, WEBHOOK_PATH)
    pending = f"{info.pending_update_count} update(s) waiting"
    if not info.url:
        if expected:
            findings.append(
                Finding(
                    Status.WARN,
                    name,
                    f"no webhook set ({pending}): run `dcabot telegram set-webhook` to have "
                    f"Telegram call {expected}, or run the bot with --polling",
                )
            )
        else:
            polling = f"none: updates come by `dcabot run --polling` ({pending})"
            findings.append(Finding(Status.OK, name, polling))
        return findings
    problems = []
    if expected and info.url != expected:
        problems.append(
            f"Telegram calls {info.url}, but PUBLIC_URL makes it {expected}: run "
            "`dcabot telegram set-webhook`"
        )
    if info.last_error_message:
        when = f" {_ago(info.last_error_date, datetime.now(UTC))}" if info.last_error_date else ""
        problems.append(
            f'Telegram\'s last delivery to {info.url} failed{when}: "{info.last_error_message}"'
            f" ({pending}); check the reverse proxy, its certificate and that the bot runs"
        )
    if problems:
        findings.append(Finding(Status.WARN, name, "; ".join(problems)))
    else:
        findings.append(Finding(Status.OK, name, f"{info.url}, no delivery errors ({pending})"))
    return findings


async def check_line(settings: Settings) -> list[Finding]:
    from linebot.v3.messaging import ApiException, AsyncApiClient, AsyncMessagingApi, Configuration

    if not (settings.line_channel_access_token and settings.line_channel_secret):
        missing = "SECRET" if settings.line_channel_access_token else "ACCESS_TOKEN"
        return [
            Finding(
                Status.FAIL,
                "line settings",
                f"LINE_CHANNEL_{missing} is not set: LINE needs both the access token and the "
                "channel secret (LINE Developers console)",
            )
        ]
    config = Configuration(
        host=settings.line_api_url, access_token=settings.line_channel_access_token
    )
    async with AsyncApiClient(config) as client:
        api = AsyncMessagingApi(client)
        try:
            info = await api.get_bot_info()
            hook = await api.get_webhook_endpoint()
        except ApiException as exc:
            if exc.status == 401:
                return [
                    Finding(
                        Status.FAIL,
                        "line bot",
                        "LINE refused LINE_CHANNEL_ACCESS_TOKEN: issue a long-lived one in the "
                        "LINE Developers console",
                    )
                ]
            raise
    findings = [Finding(Status.OK, "line bot", f"{info.display_name} ({info.basic_id})")]
    name, expected = "line webhook", _expected(settings, LINE_WEBHOOK_PATH)
    if not hook.endpoint:
        findings.append(
            Finding(
                Status.FAIL,
                name,
                "no webhook URL set: in the LINE Developers console, set it to "
                f"{expected or 'https://<your host>' + LINE_WEBHOOK_PATH} and turn on Use webhook",
            )
        )
    elif not hook.active:
        findings.append(
            Finding(
                Status.FAIL,
                name,
                f"{hook.endpoint} is set but Use webhook is off: LINE sends the bot no messages; "
                "turn it on in the LINE Developers console (Messaging API tab)",
            )
        )
    elif expected and hook.endpoint != expected:
        findings.append(
            Finding(
                Status.WARN,
                name,
                f"LINE calls {hook.endpoint}, but PUBLIC_URL makes it {expected}: correct one of "
                "them",
            )
        )
    else:
        findings.append(Finding(Status.OK, name, f"{hook.endpoint}, on"))
    return findings
