"""Replies as Telegram HTML: every dynamic value escaped, messages split below 4096 characters,
buttons as an inline keyboard (confirm / cancel carry the confirmation token)."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.cards.reply import Reply, Tone
from bot.cards.taps import TapKind, command_data, confirm_data, parse_tap

MAX_MESSAGE = 4000  # below Telegram's 4096, leaving room for entities
MAX_CAPTION = 1024
ICONS = {
    Tone.INFO: "ℹ️", Tone.SUCCESS: "✅", Tone.WARNING: "❓", Tone.ERROR: "⚠️",
    Tone.SELL: "🔻", Tone.SAVE: "🏦", Tone.DEPLOY: "🔄",
}


def html_lines(reply: Reply) -> list[str]:
    out = [f"{ICONS[reply.tone]} <b>{escape(reply.title)}</b>"]
    out += [f"{escape(f.label)}: <b>{escape(f.value)}</b>" for f in reply.fields]
    out += [escape(line) for line in reply.lines]
    if reply.footer:
        out.append(f"<i>{escape(reply.footer)}</i>")
    return out


def _cut_point(line: str, limit: int) -> int:
    """Where to cut an over-long HTML line: never inside an entity (`&amp;`) or a tag."""
    cut = limit
    for opener, closer in (("&", ";"), ("<", ">")):
        start = line.rfind(opener, 0, cut)
        if start > 0 and line.find(closer, start) >= cut:
            cut = start
    return cut


def _cut_line(line: str, limit: int) -> tuple[str, str]:
    """The first piece of an over-long line and the rest, with <b>/<i> closed and reopened."""
    cut = _cut_point(line, limit - 8)  # room to close the tags still open
    head, rest = line[:cut], line[cut:]
    for tag in ("b", "i"):
        if head.rfind(f"<{tag}>") > head.rfind(f"</{tag}>"):
            closing = f"</{tag}>"
            rest = rest.removeprefix(closing) if rest.startswith(closing) else f"<{tag}>{rest}"
            head += closing
    return head, rest


def split_message(lines: list[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Join lines into messages under `limit`; an over-long line is cut where HTML allows."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            head, line = _cut_line(line, limit)
            chunks.append(head)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            candidate = line
        current = candidate
    if current or not chunks:
        chunks.append(current)
    return chunks


def render_html(reply: Reply) -> list[str]:
    return split_message(html_lines(reply))


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    rows: list[list[InlineKeyboardButton]] = []
    if reply.confirm_token:
        token = reply.confirm_token
        rows.append(
            [
                InlineKeyboardButton(reply.confirm_labels[0],
                                     callback_data=confirm_data(token, True)),
                InlineKeyboardButton(reply.confirm_labels[1],
                                     callback_data=confirm_data(token, False)),
            ]
        )
    if reply.buttons:
        rows.append(
            [
                InlineKeyboardButton(
                    b.label, callback_data=command_data(b.command, reply.owner_tag)
                )
                for b in reply.buttons
            ]
        )
    return InlineKeyboardMarkup(rows) if rows else None


def caption(reply: Reply) -> str:
    """A photo's caption: the card's title, escaped, within Telegram's 1024 characters."""
    return f"{ICONS[reply.tone]} <b>{escape(reply.title[:200])}</b>"


def parse_callback(data: str) -> tuple[str, str, bool] | None:
    """`c:<token>:y` -> ('confirm', token, True); `cmd:/status` -> ('command', '/status', _)."""
    tap = parse_tap(data)
    if tap is None:
        return None
    return ("confirm" if tap.kind is TapKind.CONFIRM else "command", tap.value, tap.accept)
