"""/lang, and the Thai words for the main commands (`สถานะ` runs /status): aliases in the
same registry, so they reach the same handlers and role checks on every channel."""

from __future__ import annotations

from bot.cards.reply import Field, Reply, Tone
from bot.chat.registry import Invocation, Registry
from bot.engine.errors import UserError, shown
from bot.i18n import LANGUAGES, _, current, known, speaking
from storage import languages

THAI_WORDS = {
    "สถานะ": "status",
    "ซื้อ": "buy",
    "ขาย": "sell",
    "เงินสำรอง": "reserve",
    "ตาราง": "schedule",
    "สัญญาณ": "signal",
    "กำไร": "profit",
    "ประวัติ": "history",
    "ช่วยเหลือ": "help",
    "ภาษา": "lang",
}


def thai_word(command: str) -> str | None:
    """The Thai word that runs `/command`, if there is one."""
    return next((word for word, name in THAI_WORDS.items() if name == command), None)


def register(registry: Registry) -> None:
    @registry.add("lang", "Show or choose your language: /lang th or /lang en", "/lang [th or en]")
    async def lang(call: Invocation) -> Reply:
        names = " / ".join(f"{code} ({name})" for code, name in LANGUAGES.items())
        if not call.args:
            return Reply(
                kind="text",
                title=_("Language"),
                fields=(Field(_("Now"), LANGUAGES[current.get()]),),
                lines=(_("Choose with /lang th or /lang en."),),
            )
        chosen = known(call.args[0]) if len(call.args) == 1 else None
        if chosen is None:
            raise UserError(
                _("{word} is not a language here; use one of {names}").format(
                    word=repr(shown(" ".join(call.args))), names=names)
            )
        engine = call.services.engine
        await engine.db.run(languages.choose, engine.db, call.user.key, chosen, engine.clock())
        with speaking(chosen):
            return Reply(
                kind="text",
                title=_("Language set"),
                tone=Tone.SUCCESS,
                fields=(Field(_("Now"), LANGUAGES[chosen]),),
                lines=(_("Replies to you are in this language from now on."),),
            )

    for word, name in THAI_WORDS.items():
        registry.alias(word, name)
