"""/start, /help, /whoami."""

from __future__ import annotations

from bot.cards.reply import Field, Reply, main_buttons
from bot.chat.registry import Invocation, Registry, role_name
from bot.i18n import _, current


def register(registry: Registry) -> None:
    @registry.add("start", "Say hello and show the main commands", "/start")
    async def start(call: Invocation) -> Reply:
        settings = call.services.engine.settings
        return Reply(
            kind="text",
            title="dcabot",
            lines=(
                _("Hello! I buy {base} for you on a schedule ({exchanges}).").format(
                    base=settings.base_asset, exchanges=settings.exchanges_text),
                _("Try /status to see your holdings, or /help for every command."),
            ),
            buttons=main_buttons(),
        )

    @registry.add("help", "List the commands you can use", "/help")
    async def help_(call: Invocation) -> Reply:
        commands = registry.visible_to(call.user.role)
        thai = current.get() == "th"
        words = {name: word for word, name in registry.aliases.items() if not word.isascii()}
        return Reply(
            kind="help",
            title=_("Commands"),
            fields=tuple(
                Field(c.usage + (f" · {words[c.name]}" if thai and c.name in words else ""),
                      _(c.summary))
                for c in commands
            ),
            footer=_("Money-moving commands ask for a confirmation first."),
            buttons=main_buttons(),
        )

    @registry.add("whoami", "Show your id and role (for the allowlist)", "/whoami")
    async def whoami(call: Invocation) -> Reply:
        user = call.user
        return Reply(
            kind="text",
            title=_("You"),
            fields=(Field(_("Id"), user.key), Field(_("Role"), role_name(user.role))),
            lines=(_("Admins are listed in DCABOT_ADMINS, viewers in DCABOT_VIEWERS."),),
        )
