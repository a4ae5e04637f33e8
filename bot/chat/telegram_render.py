"""Replies as Telegram HTML: every dynamic value escaped, messages split below 4096 characters,
buttons as an inline keyboard (confirm / cancel carry the confirmation token)."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.chat.replies import Reply, Tone

MAX_MESSAGE = 4000  # below Telegram's 4096, leaving room for entities
ICONS = {Tone.INFO: "ℹ️", Tone.SUCCESS: "✅", Tone.WARNING: "❓", Tone.ERROR: "⚠️"}
CONFIRM, COMMAND = "c", "cmd"


def html_lines(reply: Reply) -> list[str]:
    out = [f"{ICONS[reply.tone]} <b>{escape(reply.title)}</b>"]
    out += [f"{escape(f.label)}: <b>{escape(f.value)}</b>" for f in reply.fields]
    out += [escape(line) for line in reply.lines]
    if reply.footer:
        out.append(f"<i>{escape(reply.footer)}</i>")
    return out


def split_message(lines: list[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Join lines into messages under `limit`; an over-long line is cut at the limit."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
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
                InlineKeyboardButton("Confirm", callback_data=f"{CONFIRM}:{token}:y"),
                InlineKeyboardButton("Cancel", callback_data=f"{CONFIRM}:{token}:n"),
            ]
        )
    if reply.buttons:
        rows.append(
            [
                InlineKeyboardButton(b.label, callback_data=f"{COMMAND}:{b.command}"[:64])
                for b in reply.buttons
            ]
        )
    return InlineKeyboardMarkup(rows) if rows else None


def parse_callback(data: str) -> tuple[str, str, bool] | None:
    """`c:<token>:y` -> ('confirm', token, True); `cmd:/status` -> ('command', '/status', _)."""
    kind, _, rest = data.partition(":")
    if kind == CONFIRM:
        token, _, answer = rest.partition(":")
        return ("confirm", token, answer == "y") if token else None
    if kind == COMMAND and rest.startswith("/"):
        return ("command", rest, False)
    return None
