"""Structural checks of LINE message objects, answered with LINE's 400 error body.

The wording follows LINE's documented examples where there is one ("The request body has 1
error(s)", "Size must be between 1 and 5", "Length must be between 0 and 5000"); the other detail
messages are close paraphrases. Lengths are counted in UTF-16 code units, as LINE counts them.
"""

from __future__ import annotations

import json
import re
from typing import Any

Detail = dict[str, str]

USER_OR_GROUP_ID = re.compile(r"^[UCR][0-9a-f]{32}$")
MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_ALT_TEXT = 1500
MAX_URL = 2000
MAX_BUBBLE_JSON = 30_000
MAX_CAROUSEL_JSON = 50_000
FLEX_COMPONENTS = frozenset(
    {"box", "button", "image", "video", "icon", "text", "span", "separator", "filler"}
)
BOX_LAYOUTS = frozenset({"horizontal", "vertical", "baseline"})


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _detail(message: str, prop: str) -> Detail:
    return {"message": message, "property": prop}


def error_body(details: list[Detail]) -> dict[str, Any]:
    return {"message": f"The request body has {len(details)} error(s)", "details": details}


def _required_text(obj: dict[str, Any], key: str, prop: str, limit: int) -> list[Detail]:
    value = obj.get(key)
    if not isinstance(value, str) or value == "":
        return [_detail("must be specified", f"{prop}.{key}")]
    if _utf16_len(value) > limit:
        return [_detail(f"Length must be between 0 and {limit}", f"{prop}.{key}")]
    return []


def _https_url(obj: dict[str, Any], key: str, prop: str) -> list[Detail]:
    value = obj.get(key)
    if not isinstance(value, str) or value == "":
        return [_detail("must be specified", f"{prop}.{key}")]
    if not value.startswith("https://"):
        return [_detail("must be a valid HTTPS URL", f"{prop}.{key}")]
    if len(value) > MAX_URL:
        return [_detail(f"Length must be between 0 and {MAX_URL}", f"{prop}.{key}")]
    return []


def _component(node: Any, prop: str) -> list[Detail]:
    if not isinstance(node, dict) or node.get("type") not in FLEX_COMPONENTS:
        return [_detail("must be a flex component", f"{prop}.type")]
    kind = node["type"]
    errors: list[Detail] = []
    if kind == "box":
        if node.get("layout") not in BOX_LAYOUTS:
            errors.append(
                _detail("must be one of horizontal, vertical, baseline", f"{prop}.layout")
            )
        children = node.get("contents")
        if not isinstance(children, list):
            return [*errors, _detail("must be specified", f"{prop}.contents")]
        for i, child in enumerate(children):
            errors += _component(child, f"{prop}.contents[{i}]")
    elif kind == "text" and not node.get("text") and not node.get("contents"):
        errors.append(_detail("must be specified", f"{prop}.text"))
    elif kind in ("image", "icon"):
        errors += _https_url(node, "url", prop)
    elif kind == "button" and not isinstance(node.get("action"), dict):
        errors.append(_detail("must be specified", f"{prop}.action"))
    return errors


def _bubble(bubble: Any, prop: str) -> list[Detail]:
    if not isinstance(bubble, dict) or bubble.get("type") != "bubble":
        return [_detail("must be a bubble", f"{prop}.type")]
    errors: list[Detail] = []
    for block in ("header", "hero", "body", "footer"):
        if block in bubble:
            errors += _component(bubble[block], f"{prop}.{block}")
    return errors


def _flex(message: dict[str, Any], prop: str) -> list[Detail]:
    errors = _required_text(message, "altText", prop, MAX_ALT_TEXT)
    contents = message.get("contents")
    cprop = f"{prop}.contents"
    if not isinstance(contents, dict):
        return [*errors, _detail("must be specified", cprop)]
    size = len(json.dumps(contents, ensure_ascii=False).encode())
    if contents.get("type") == "bubble":
        errors += _bubble(contents, cprop)
        if size > MAX_BUBBLE_JSON:
            errors.append(_detail("The size of the bubble must be less than 30 KB", cprop))
    elif contents.get("type") == "carousel":
        bubbles = contents.get("contents")
        if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= 12:
            errors.append(_detail("Size must be between 1 and 12", f"{cprop}.contents"))
        else:
            for i, bubble in enumerate(bubbles):
                errors += _bubble(bubble, f"{cprop}.contents[{i}]")
        if size > MAX_CAROUSEL_JSON:
            errors.append(_detail("The size of the carousel must be less than 50 KB", cprop))
    else:
        errors.append(_detail("must be one of bubble, carousel", f"{cprop}.type"))
    return errors


def _text(message: dict[str, Any], prop: str) -> list[Detail]:
    text = message.get("text")
    if not isinstance(text, str) or text == "":
        return [_detail("must be specified", f"{prop}.text")]
    if _utf16_len(text) > MAX_TEXT:
        return [_detail(f"Length must be between 0 and {MAX_TEXT}", f"{prop}.text")]
    return []


def _image(message: dict[str, Any], prop: str) -> list[Detail]:
    return _https_url(message, "originalContentUrl", prop) + _https_url(
        message, "previewImageUrl", prop
    )


def _sticker(message: dict[str, Any], prop: str) -> list[Detail]:
    return [
        _detail("must be specified", f"{prop}.{key}")
        for key in ("packageId", "stickerId")
        if not message.get(key)
    ]


_CHECKS = {"text": _text, "flex": _flex, "image": _image, "sticker": _sticker}


def _quick_reply(quick_reply: Any, prop: str) -> list[Detail]:
    if quick_reply is None:
        return []
    items = quick_reply.get("items") if isinstance(quick_reply, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= 13:
        return [_detail("Size must be between 1 and 13", f"{prop}.quickReply.items")]
    return [
        _detail("must be specified", f"{prop}.quickReply.items[{i}].action")
        for i, item in enumerate(items)
        if not isinstance(item, dict) or not isinstance(item.get("action"), dict)
    ]


def validate_messages(messages: Any) -> list[Detail]:
    """Every problem LINE would report for a `messages` array (empty when it is sane)."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        return [_detail(f"Size must be between 1 and {MAX_MESSAGES}", "messages")]
    errors: list[Detail] = []
    for i, message in enumerate(messages):
        prop = f"messages[{i}]"
        if not isinstance(message, dict):
            errors.append(_detail("must be a message object", prop))
            continue
        check = _CHECKS.get(str(message.get("type")))
        if check is None:
            errors.append(_detail("must be one of text, flex, image, sticker", f"{prop}.type"))
            continue
        errors += check(message, prop)
        errors += _quick_reply(message.get("quickReply"), prop)
    return errors


def invalid_property(name: str) -> dict[str, Any]:
    return {
        "message": f"The property, '{name}', in the request body is invalid (line: -, column: -)"
    }
