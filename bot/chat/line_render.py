"""Replies as LINE Flex bubbles, from the JSON templates in `flex_templates/`.

A template is an ordinary bubble with a `{{title}}` placeholder and four markers the renderer
expands: `__fields__` (label/value rows), `__lines__` (free text), `__footer_text__` and
`__buttons__` (postback buttons: a confirmation token, or a command to run).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from bot.chat.replies import Reply, Tone

TONE_COLOURS = {Tone.ERROR: "#C62828", Tone.WARNING: "#F9A825"}
MAX_TEXT = 2000
MAX_ALT_TEXT = 400
QUICK_REPLIES = ("/status", "/signal", "/reserve", "/schedule", "/history", "/help")


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
        for label, answer, style in (("Confirm", "y", "primary"), ("Cancel", "n", "secondary")):
            out.append(
                {
                    "type": "button",
                    "style": style,
                    "height": "sm",
                    "action": {
                        "type": "postback",
                        "label": label,
                        "data": f"c:{reply.confirm_token}:{answer}",
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
                    "data": f"cmd:{button.command}",
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


def flex_bubble(reply: Reply) -> dict[str, Any]:
    bubble: dict[str, Any] = _expand(json.loads(template(reply.kind)), reply)
    header = bubble.get("header")
    if reply.tone in TONE_COLOURS and isinstance(header, dict):
        header["backgroundColor"] = TONE_COLOURS[reply.tone]
    if not bubble["body"]["contents"]:
        bubble["body"]["contents"] = [_text(" ", size="xs")]
    return _drop_empty_boxes(bubble)


def alt_text(reply: Reply) -> str:
    parts = [reply.title, *(f"{f.label}: {f.value}" for f in reply.fields), *reply.lines]
    return " · ".join(parts)[:MAX_ALT_TEXT]
