"""`dcabot telegram set-webhook | delete-webhook | webhook-info`: one-off Bot API calls.

`set-webhook` points Telegram at `https://<host>/webhook/telegram` with the secret the app checks
and only the update kinds the bot handles, and publishes the command menu (`setMyCommands`) from
the registry, so the menu and `/help` never disagree.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.config import Settings, load_settings
from bot.engine.errors import UserError
from bot.i18n import DEFAULT, LANGUAGES, _, speaking

if TYPE_CHECKING:  # the SDK and the channel are imported when a command runs, not to build
    from telegram import Bot, BotCommand  # the command line (`dcabot backtest` stays quick)

WEBHOOK_PATH = "/webhook/telegram"


def menu_commands(language: str = DEFAULT) -> list[BotCommand]:
    """The commands a viewer may use (admins' extras are in /help), as Telegram's menu, their
    descriptions in `language`."""
    from telegram import BotCommand

    from bot.chat.commands import build_registry
    from bot.chat.roles import Role

    with speaking(language):
        return [
            BotCommand(command.name, _(command.summary)[:256])
            for command in build_registry().visible_to(Role.VIEWER)
        ]


def webhook_url(given: str | None, settings: Settings) -> str:
    """`--url` (a bare host gets the webhook path), else `PUBLIC_URL` + the webhook path."""
    url = (given or "").rstrip("/") or settings.public_url
    if not url:
        raise UserError("give --url https://<your host>, or set PUBLIC_URL")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise UserError(f"{url} is not an https:// address; Telegram only calls https webhooks")
    return url if parts.path not in ("", "/") else f"{url}{WEBHOOK_PATH}"


def _bot(settings: Settings) -> Bot:
    from telegram import Bot

    if not settings.telegram_bot_token:
        raise UserError("TELEGRAM_BOT_TOKEN is not set (get one from @BotFather)")
    api = settings.telegram_api_url
    return Bot(settings.telegram_bot_token, base_url=f"{api}/bot", base_file_url=f"{api}/file/bot")


async def _set_webhook(settings: Settings, url: str, drop_pending: bool) -> str:
    from bot.chat.telegram_channel import ALLOWED_UPDATES, webhook_secret

    async with _bot(settings) as bot:
        await bot.set_webhook(
            url,
            secret_token=webhook_secret(settings),
            allowed_updates=list(ALLOWED_UPDATES),
            drop_pending_updates=drop_pending or None,
        )
        commands = menu_commands()
        await bot.set_my_commands(commands)  # for every language Telegram has no menu for
        for language in LANGUAGES:
            if language != DEFAULT:  # Telegram shows these to apps set to that language
                await bot.set_my_commands(menu_commands(language), language_code=language)
        return (f"webhook set to {url} (secret set); menu of {len(commands)} commands "
                f"published in {', '.join(LANGUAGES.values())}")


async def _delete_webhook(settings: Settings) -> str:
    async with _bot(settings) as bot:
        await bot.delete_webhook()
        return "webhook deleted; use `dcabot run --polling`, or set it again"


async def _webhook_info(settings: Settings) -> str:
    async with _bot(settings) as bot:
        info = await bot.get_webhook_info()
    lines = [
        f"url: {info.url or '(none)'}",
        f"pending updates: {info.pending_update_count}",
        f"allowed updates: {', '.join(info.allowed_updates or ()) or 'default'}",
    ]
    if info.last_error_message:
        lines.append(f"last error: {info.last_error_message}")
    return "\n".join(lines)


def _run(action: str, args: argparse.Namespace) -> int:
    from telegram.error import InvalidToken, TelegramError

    settings = load_settings()
    try:
        if action == "set":
            url = webhook_url(args.url, settings)
            message = asyncio.run(_set_webhook(settings, url, args.drop_pending))
        elif action == "delete":
            message = asyncio.run(_delete_webhook(settings))
        else:
            message = asyncio.run(_webhook_info(settings))
    except InvalidToken:
        raise UserError("Telegram refused TELEGRAM_BOT_TOKEN; check it with @BotFather") from None
    except TelegramError as exc:
        raise UserError(f"Telegram said: {exc}") from None
    print(message)
    return 0


def add_telegram_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    telegram = sub.add_parser("telegram", help="Telegram webhook set-up")
    actions = telegram.add_subparsers(dest="telegram_command", required=True, metavar="ACTION")
    set_hook = actions.add_parser(
        "set-webhook", help="point Telegram at this bot's webhook (with the secret)"
    )
    set_hook.add_argument("--url", help="https://<host>[/webhook/telegram] (default PUBLIC_URL)")
    set_hook.add_argument(
        "--drop-pending", action="store_true", help="discard updates Telegram is still holding"
    )
    set_hook.set_defaults(func=lambda args: _run("set", args))
    delete = actions.add_parser("delete-webhook", help="stop webhook delivery (for polling)")
    delete.set_defaults(func=lambda args: _run("delete", args))
    info = actions.add_parser("webhook-info", help="what Telegram knows about the webhook")
    info.set_defaults(func=lambda args: _run("info", args))
