"""Replies as LINE Flex bubbles, from the JSON templates in `flex_templates/`.

A template is an ordinary bubble with a `{{title}}` placeholder and four markers the renderer
expands: `__fields__` (label/value rows), `__lines__` (free text), `__footer_text__` and
`__buttons__` (postback buttons: a confirmation token, or a command to run). A card too big for
LINE's 30 KB bubble is cut down and says so. `line_messages` wraps the bubble into the messages
sent: the card with its alt text, the chart, and the quick replies of the main commands.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any

from bot.cards.reply import Reply, Tone
from bot.cards.taps import command_data, confirm_data
from bot.i18n import _

TONE_COLOURS = {
    Tone.ERROR: "#C62828",
    Tone.WARNING: "#F9A825",
    Tone.SELL: "#AD1457",
    Tone.SAVE: "#1565C0",
    Tone.DEPLOY: "#00838F",
}
MAX_TEXT = 2000
MAX_ALT_TEXT = 400
QUICK_REPLIES = ("/status", "/signal", "/reserve", "/schedule", "/history", "/help")
MAX_BUBBLE_BYTES = 28_000  # LINE refuses a bubble of 30 KB or more
MAX_SHORTENINGS = 12


@cache
def template(kind: str) -> str:
    folder = resources.files("flex_templates")
    name = f"{kind}.json" if folder.joinpath(f"{kind}.json").is_file() else "card.json"
    return folder.joinpath(name).read_text(encoding="utf-8")


def available_templates() -> list[str]:
    folder = resources.files("flex_templates")
    return sorted(
        p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")
    )


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "text", "text": text[:MAX_TEXT] or " ", "wrap": True, **style}


def _field_rows(reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "type": "box",
            "layout": "baseline",
            "spacing": "sm",
            "contents": [
                _text(f.label, color="#8C8C8C", size="sm", flex=2),
                _text(f.value, color="#111111", size="sm", flex=3, weight="bold"),
            ],
        }
        for f in reply.fields
    ]


def _buttons(reply: Reply) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if reply.confirm_token:
        confirm, cancel = reply.confirm_labels
        for label, answer, style in ((confirm, "y", "primary"), (cancel, "n", "secondary")):
            out.append(
                {
                    "type": "button",
                    "style": style,
                    "height": "sm",
                    "action": {
                        "type": "postback",
                        "label": label,
                        "data": confirm_data(reply.confirm_token, answer == "y"),
                        "displayText": label,
                    },
                }
            )
    for button in reply.buttons:
        out.append(
            {
                "type": "button",
                "style": "link",
                "height": "sm",
                "action": {
                    "type": "postback",
                    "label": button.label[:20],
                    "data": command_data(button.command, reply.owner_tag),
                    "displayText": button.command,
                },
            }
        )
    return out


def _expand(node: Any, reply: Reply) -> Any:
    if isinstance(node, list):
        expanded: list[Any] = []
        for item in node:
            marker = item.get("type") if isinstance(item, dict) else None
            if marker == "__fields__":
                expanded += _field_rows(reply)
            elif marker == "__lines__":
                expanded += [_text(line, size="sm") for line in reply.lines]
            elif marker == "__footer_text__":
                expanded += (
                    [_text(reply.footer, size="xs", color="#8C8C8C")] if reply.footer else []
                )
            elif marker == "__buttons__":
                expanded += _buttons(reply)
            else:
                expanded.append(_expand(item, reply))
        return expanded
    if isinstance(node, dict):
        return {key: _expand(value, reply) for key, value in node.items()}
    if isinstance(node, str):
        return node.replace("{{title}}", reply.title)
    return node


def _drop_empty_boxes(bubble: dict[str, Any]) -> dict[str, Any]:
    for section in ("header", "body", "footer"):
        box = bubble.get(section)
        if isinstance(box, dict) and not box.get("contents"):
            del bubble[section]
    return bubble


@cache
def _parsed(kind: str) -> Any:
    return json.loads(template(kind))


def _bubble_bytes(bubble: dict[str, Any]) -> int:
    return len(json.dumps(bubble, ensure_ascii=False).encode())


def _cut_note() -> str:
    return _("… cut short: too long for one LINE card (Telegram or the terminal show it all).")


def _shortened(reply: Reply) -> Reply:
    """`reply` with half its lines (or fields) and a note saying so: one step to fit LINE."""
    if len(reply.lines) > 1:
        kept = reply.lines[: len(reply.lines) // 2]
        return replace(reply, lines=(*kept[:-1], _cut_note()))
    if len(reply.fields) > 1:
        return replace(reply, fields=reply.fields[: len(reply.fields) // 2], lines=(_cut_note(),))
    return replace(reply, lines=tuple(line[:200] for line in reply.lines), footer="")


def flex_bubble(reply: Reply) -> dict[str, Any]:
    """The Flex bubble for `reply`, cut down until it is under LINE's 30 KB per bubble."""
    bubble = _render_bubble(reply)
    for _step in range(MAX_SHORTENINGS):
        if _bubble_bytes(bubble) <= MAX_BUBBLE_BYTES:
            break
        reply = _shortened(reply)
        bubble = _render_bubble(reply)
    return bubble


def _render_bubble(reply: Reply) -> dict[str, Any]:
    bubble: dict[str, Any] = _expand(_parsed(reply.kind), reply)  # _expand copies every node
    header = bubble.get("header")
    if reply.tone in TONE_COLOURS and isinstance(header, dict):
        header["backgroundColor"] = TONE_COLOURS[reply.tone]
    if not bubble["body"]["contents"]:
        bubble["body"]["contents"] = [_text(" ", size="xs")]
    return _drop_empty_boxes(bubble)


def alt_text(reply: Reply) -> str:
    parts = [reply.title, *(f"{f.label}: {f.value}" for f in reply.fields), *reply.lines]
    return " · ".join(parts)[:MAX_ALT_TEXT]


def quick_reply() -> dict[str, Any]:
    """Buttons above the keyboard for the main commands; a tap sends the command as text."""
    return {
        "items": [
            {"type": "action", "action": {"type": "message", "label": c[:20], "text": c}}
            for c in QUICK_REPLIES
        ]
    }


def line_messages(reply: Reply, *, image_url: str | None, quick: bool,
                  links: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The LINE messages for `reply`, as the Messaging API's JSON: its Flex card, then the
    chart (or why it is missing).

    Plain JSON rather than the SDK's pydantic models: building and serialising those costs
    ~2.5 ms a message, more than the rest of a reply. The shapes are checked against the SDK's
    models (`Message.from_dict`) in tests/test_flex_templates.py. `image_url` must be https
    (LINE refuses anything else); `quick` adds the quick replies, which only people allowed to
    use the bot get.
    """
    card = {"type": "flex", "altText": alt_text(reply) or "dcabot", "contents": flex_bubble(reply)}
    messages: list[dict[str, Any]] = [card]
    if reply.image is not None:
        if image_url:
            messages.append(
                {"type": "image", "originalContentUrl": image_url, "previewImageUrl": image_url}
            )
        else:
            messages.append({"type": "text", "text": _(
                "The chart is not shown here: LINE fetches pictures from the bot's https "
                "address, and PUBLIC_URL is not set.")})
    if reply.documents:
        text = (
            _("Your files (each link works once, for 10 minutes):") + "\n" + "\n".join(links)
            if links
            else _("The files are not sent here: LINE users fetch them from the bot's https "
                   "address, and PUBLIC_URL is not set. `dcabot export` writes them on the "
                   "bot's machine.")
        )
        messages.append({"type": "text", "text": text[:5000]})
    if quick:
        messages[-1]["quickReply"] = quick_reply()
    return messages
