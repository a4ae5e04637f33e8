"""/start, /help, /whoami."""

from __future__ import annotations

from bot.cards.reply import Button, Field, Reply
from bot.chat.registry import Invocation, Registry

MAIN_BUTTONS = (Button("Status", "/status"), Button("History", "/history"), Button("Help", "/help"))


def register(registry: Registry) -> None:
    @registry.add("start", "Say hello and show the main commands", "/start")
    async def start(call: Invocation) -> Reply:
        settings = call.services.engine.settings
        return Reply(
            kind="text",
            title="dcabot",
            lines=(
                f"Hello! I buy {settings.base_asset} for you on a schedule "
                f"({settings.exchanges_text}).",
                "Try /status to see your holdings, or /help for every command.",
            ),
            buttons=MAIN_BUTTONS,
        )

    @registry.add("help", "List the commands you can use", "/help")
    async def help_(call: Invocation) -> Reply:
        commands = registry.visible_to(call.user.role)
        return Reply(
            kind="help",
            title="Commands",
            fields=tuple(Field(c.usage, c.summary) for c in commands),
            footer="Money-moving commands ask for a confirmation first.",
            buttons=MAIN_BUTTONS,
        )

    @registry.add("whoami", "Show your id and role (for the allowlist)", "/whoami")
    async def whoami(call: Invocation) -> Reply:
        user = call.user
        return Reply(
            kind="text",
            title="You",
            fields=(Field("Id", user.key), Field("Role", user.role.name.lower())),
            lines=("Admins are listed in DCABOT_ADMINS, viewers in DCABOT_VIEWERS.",),
        )
