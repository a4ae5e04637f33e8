"""`dcabot line rich-menu`: put the bot's rich menu (Status, Buy, Reserve, Schedule, Signal,
Help) under every LINE chat with the bot; run again, it changes nothing unless the menu did."""

from __future__ import annotations

import argparse
import asyncio

from bot.config import load_settings
from bot.engine.errors import UserError


def _rich_menu(args: argparse.Namespace) -> int:
    from linebot.v3.messaging import ApiException

    from bot.chat.line_rich_menu import HEIGHT, WIDTH, install

    settings = load_settings()
    if not settings.line_channel_access_token:
        raise UserError("LINE_CHANNEL_ACCESS_TOKEN is not set (the LINE Developers console, "
                        "Messaging API tab)")
    try:
        done = asyncio.run(install(settings))
    except ApiException as exc:
        if exc.status == 401:
            raise UserError("LINE refused LINE_CHANNEL_ACCESS_TOKEN; issue a new one in the "
                            "LINE Developers console") from None
        raise UserError(f"LINE said {exc.status}: {(exc.body or exc.reason or '')[:200]}"
                        ) from None
    if not done.changed:
        print(f"the rich menu is up to date ({done.rich_menu_id}); nothing changed")
        return 0
    older = f"; removed {done.removed} older menu(s) of the bot" if done.removed else ""
    print(f"rich menu {done.rich_menu_id} created, its {WIDTH}x{HEIGHT} image uploaded "
          f"({done.image_bytes / 1024:.0f} KB), set as every chat's default{older}")
    return 0


def add_line_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    line = sub.add_parser("line", help="LINE set-up")
    actions = line.add_subparsers(dest="line_command", required=True, metavar="ACTION")
    menu = actions.add_parser(
        "rich-menu", help="set the bot's menu of buttons under every LINE chat (idempotent)"
    )
    menu.set_defaults(func=_rich_menu)
