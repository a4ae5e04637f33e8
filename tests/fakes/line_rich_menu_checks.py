"""What LINE checks in a rich menu object and in a rich menu image, answered the way LINE does.

Limits, from LINE's Messaging API reference (developers.line.biz/en/reference/messaging-api/):
the rich menu object (`size`: width 800-2500 px, height >= 250 px, width / height >= 1.45;
`name` <= 300 characters; `chatBarText` <= 14; at most 20 `areas`), the action objects (postback
`data`, `displayText`, `text`, `fillInText` <= 300; message `text` <= 300; `uri` <= 1000 with
the schemes http, https, line, tel; a `label` in a rich menu <= 20), and "Upload rich menu image"
(JPEG or PNG, the same size limits, at most 1 MB). An area must also lie inside the menu and the
image must be exactly the menu's size. The documented wording is used where there is one ("must
be specified", "invalid uri", "The request body has 1 error(s)"); the other detail messages are
paraphrases in the same style.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from .line_validation import Detail

MIN_WIDTH, MAX_WIDTH, MIN_HEIGHT, MIN_ASPECT = 800, 2500, 250, 1.45
MAX_NAME, MAX_CHAT_BAR_TEXT, MAX_AREAS, MAX_LABEL = 300, 14, 20, 20
MAX_ACTION_TEXT, MAX_URI = 300, 1000
MAX_IMAGE_BYTES = 1024 * 1024
URI_SCHEMES = ("http:", "https:", "line:", "tel:")
ACTION_TYPES = (
    "postback", "message", "uri", "datetimepicker", "richmenuswitch",
    "camera", "cameraRoll", "location", "clipboard",
)  # fmt: skip
INPUT_OPTIONS = frozenset({"closeRichMenu", "openRichMenu", "openKeyboard", "openVoice"})
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (C0-CF except DHT C4, JPG C8, DAC CC) carry the image size
JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _detail(message: str, prop: str) -> Detail:
    return {"message": message, "property": prop}


def _length(text: str) -> int:
    """Characters as LINE counts them: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(obj: dict[str, Any], key: str, prop: str, limit: int, *, required: bool) -> list[Detail]:
    value = obj.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, str) or (required and value == ""):
        return [_detail("must be specified", f"{prop}.{key}" if prop else key)]
    if _length(value) > limit:
        return [_detail(f"Length must be between 0 and {limit}", f"{prop}.{key}" if prop else key)]
    return []


def _size(size: Any) -> tuple[list[Detail], tuple[int, int] | None]:
    if not isinstance(size, dict):
        return [_detail("must be specified", "size")], None
    width, height = _int(size.get("width")), _int(size.get("height"))
    errors: list[Detail] = []
    if width is None:
        errors.append(_detail("must be specified", "size.width"))
    elif not MIN_WIDTH <= width <= MAX_WIDTH:
        errors.append(_detail(f"must be between {MIN_WIDTH} and {MAX_WIDTH}", "size.width"))
    if height is None:
        errors.append(_detail("must be specified", "size.height"))
    elif height < MIN_HEIGHT:
        errors.append(_detail(f"must be greater than or equal to {MIN_HEIGHT}", "size.height"))
    if errors or width is None or height is None:
        return errors, None
    if width / height < MIN_ASPECT:
        message = f"The aspect ratio (width / height) must be at least {MIN_ASPECT}"
        return [_detail(message, "size")], None
    return [], (width, height)


def _bounds(bounds: Any, prop: str, size: tuple[int, int] | None) -> list[Detail]:
    if not isinstance(bounds, dict):
        return [_detail("must be specified", prop)]
    values = {key: _int(bounds.get(key)) for key in ("x", "y", "width", "height")}
    errors = [_detail("must be specified", f"{prop}.{k}") for k, v in values.items() if v is None]
    if errors:
        return errors
    x, y, width, height = (int(v or 0) for v in values.values())
    errors += [_detail("must be greater than or equal to 0", f"{prop}.{k}")
               for k, v in (("x", x), ("y", y)) if v < 0]  # fmt: skip
    errors += [_detail("must be greater than or equal to 1", f"{prop}.{k}")
               for k, v in (("width", width), ("height", height)) if v < 1]  # fmt: skip
    if not errors and size is not None and (x + width > size[0] or y + height > size[1]):
        errors.append(_detail("The area must lie within the size of the rich menu", prop))
    return errors


def _action(action: Any, prop: str) -> list[Detail]:
    if not isinstance(action, dict):
        return [_detail("must be specified", prop)]
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        return [_detail(f"must be one of {', '.join(ACTION_TYPES)}", f"{prop}.type")]
    errors = _text(action, "label", prop, MAX_LABEL, required=False)
    if kind == "postback":
        errors += _text(action, "data", prop, MAX_ACTION_TEXT, required=True)
        for key in ("displayText", "text", "fillInText"):
            errors += _text(action, key, prop, MAX_ACTION_TEXT, required=False)
        if action.get("displayText") is not None and action.get("text") is not None:
            errors.append(_detail("displayText and text can't both be specified", prop))
        option = action.get("inputOption")
        if option is not None and option not in INPUT_OPTIONS:
            message = f"must be one of {', '.join(sorted(INPUT_OPTIONS))}"
            errors.append(_detail(message, f"{prop}.inputOption"))
    elif kind == "message":
        errors += _text(action, "text", prop, MAX_ACTION_TEXT, required=True)
    elif kind == "uri":
        uri_errors = _text(action, "uri", prop, MAX_URI, required=True)
        if not uri_errors and not str(action["uri"]).lower().startswith(URI_SCHEMES):
            uri_errors = [_detail("invalid uri", f"{prop}.uri")]  # LINE's documented example
        errors += uri_errors
    elif kind in ("datetimepicker", "richmenuswitch"):
        errors += _text(action, "data", prop, MAX_ACTION_TEXT, required=True)
        if kind == "richmenuswitch":
            errors += _text(action, "richMenuAliasId", prop, 32, required=True)
        elif action.get("mode") not in ("date", "time", "datetime"):
            errors.append(_detail("must be one of date, time, datetime", f"{prop}.mode"))
    elif kind == "clipboard":
        errors += _text(action, "clipboardText", prop, 1000, required=True)
    return errors


def validate_rich_menu(menu: Any) -> list[Detail]:
    """Every problem LINE would report for a rich menu object (empty when it is valid)."""
    if not isinstance(menu, dict):
        return [_detail("must be a rich menu object", "")]
    errors, size = _size(menu.get("size"))
    if not isinstance(menu.get("selected"), bool):
        errors.append(_detail("must be specified", "selected"))
    errors += _text(menu, "name", "", MAX_NAME, required=True)
    errors += _text(menu, "chatBarText", "", MAX_CHAT_BAR_TEXT, required=True)
    areas = menu.get("areas")
    # LINE has accepted `"areas": []` (line-bot-sdk-php#347); the reference gives only the max
    if not isinstance(areas, list) or len(areas) > MAX_AREAS:
        return [*errors, _detail(f"Size must be between 0 and {MAX_AREAS}", "areas")]
    for i, area in enumerate(areas):
        prop = f"areas[{i}]"
        if not isinstance(area, dict):
            errors.append(_detail("must be specified", prop))
            continue
        errors += _bounds(area.get("bounds"), f"{prop}.bounds", size)
        errors += _action(area.get("action"), f"{prop}.action")
    return errors


# -- images -----------------------------------------------------------------------------------


def _png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, if the file is a whole PNG (IHDR first, its CRC
    right, IEND last)."""
    if len(data) < 45 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    (length,) = struct.unpack(">I", data[8:12])
    if length != 13 or struct.unpack(">I", data[29:33])[0] != zlib.crc32(data[12:29]):
        return None
    if data[-12:] != b"\x00\x00\x00\x00IEND\xaeB`\x82":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame segment, walking the segments from SOI."""
    if not data.startswith(b"\xff\xd8") or not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # standalone markers
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in JPEG_SOF:
            if at + 9 > len(data) or length < 7:
                return None
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        if marker in (0xD9, 0xDA) or length < 2:  # EOI or scan data before any frame header
            return None
        at += 2 + length
    return None


def image_size(data: bytes, content_type: str) -> tuple[int, int] | None:
    """The pixel size of `data` read as `content_type` (image/png or image/jpeg); None when the
    bytes are not a whole image of that type."""
    if content_type == "image/png":
        return _png_size(data)
    if content_type == "image/jpeg":
        return _jpeg_size(data)
    return None


def image_fits(size: tuple[int, int]) -> bool:
    """LINE's requirements for any rich menu image, whatever the menu."""
    width, height = size
    return MIN_WIDTH <= width <= MAX_WIDTH and height >= MIN_HEIGHT and width / height >= MIN_ASPECT
