"""The LINE rich menu: six buttons under the chat (Status, Buy, Reserve, Schedule, Signal, Help),
so nobody on LINE has to type a command.

Each button is a postback carrying the same data as a card's command button (`cmd:/status`), so
a tap goes through the registry and its role checks exactly like the typed command (a stranger
hears the refusal, a viewer's Buy is told it needs an admin). Buy opens the keyboard with
`/buy ` filled in. The image is drawn here with Pillow, in Noto Sans Thai (`menu_font`): each
button shows its Thai word, its English word and its command, since one menu serves everyone.

`install` is idempotent: the menu's name carries a digest of its areas and image, so a second
run finds the same menu set as default and changes nothing; a changed menu replaces the old
one (created, image uploaded to the data host, set as default, the bot's older menus deleted).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING

from bot.cards.taps import command_data
from bot.config import Settings

if TYPE_CHECKING:
    from linebot.v3.messaging import AsyncMessagingApi, RichMenuRequest
    from PIL import ImageFont

WIDTH, HEIGHT = 2500, 843  # LINE's compact full-width size; 3 x 2 buttons
NAME_PREFIX = "dcabot "


FONT_FILE = next(f for f in (files("fontpkg_noto_sans_thai") / "files").iterdir()
                 if f.name.endswith(".ttf"))


@dataclass(frozen=True, slots=True)
class MenuButton:
    label: str
    thai: str  # the command's Thai word (a registry alias), drawn above `label`
    command: str  # what the tap runs, as typed
    fill_in: str = ""  # opens the keyboard with this text instead of waiting for a choice


BUTTONS = (
    MenuButton("Status", "สถานะ", "/status"),
    MenuButton("Buy", "ซื้อ", "/buy", fill_in="/buy "),
    MenuButton("Reserve", "เงินสำรอง", "/reserve"),
    MenuButton("Schedule", "ตาราง", "/schedule"),
    MenuButton("Signal", "สัญญาณ", "/signal"),
    MenuButton("Help", "ช่วยเหลือ", "/help"),
)


@dataclass(frozen=True, slots=True)
class Installed:
    rich_menu_id: str
    changed: bool
    removed: int = 0
    image_bytes: int = 0


def _cells() -> list[tuple[int, int, int, int]]:
    """(x, y, width, height) of the 3 x 2 buttons, covering the image exactly."""
    xs, ys = [0, 833, 1666, WIDTH], [0, 421, HEIGHT]
    return [(xs[c], ys[r], xs[c + 1] - xs[c], ys[r + 1] - ys[r])
            for r in range(2) for c in range(3)]


def menu_font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    """Noto Sans Thai (SIL Open Font License, installed with dcabot as the
    `fontpkg-noto-sans-thai` package): Thai and Latin glyphs, so the menu reads the same on any
    machine, with no system fonts needed."""
    from PIL import ImageFont

    font = ImageFont.truetype(str(FONT_FILE), size)
    with contextlib.suppress(OSError, ValueError):  # FreeType without variable fonts: default
        font.set_variation_by_name("Bold" if bold else "Regular")
    return font


def menu_image(buttons: tuple[MenuButton, ...] = BUTTONS) -> bytes:
    """The menu as a PNG of exactly WIDTH x HEIGHT pixels: a tile per button with its Thai
    word, its English word and the command it runs (one menu serves every reader)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), "#0d1b2a")
    draw = ImageDraw.Draw(image)
    thai, english, command = menu_font(120, bold=True), menu_font(60), menu_font(46)
    for (x, y, w, h), button in zip(_cells(), buttons, strict=True):
        draw.rectangle((x + 8, y + 8, x + w - 9, y + h - 9), fill="#1f3b57", outline="#f7931a",
                       width=6)
        middle = x + w / 2
        draw.text((middle, y + h / 2 - 50), button.thai, font=thai, fill="white", anchor="mm")
        draw.text((middle, y + h / 2 + 62), button.label, font=english, fill="#d0dbe6",
                  anchor="mm")
        draw.text((middle, y + h / 2 + 135), button.command, font=command, fill="#f7931a",
                  anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def menu_request(name: str, buttons: tuple[MenuButton, ...] = BUTTONS) -> RichMenuRequest:
    from linebot.v3.messaging import (
        PostbackAction,
        RichMenuArea,
        RichMenuBounds,
        RichMenuRequest,
        RichMenuSize,
    )

    areas = [
        RichMenuArea(
            bounds=RichMenuBounds(x=x, y=y, width=w, height=h),
            action=PostbackAction(
                label=f"{button.thai} {button.label}",  # what screen readers say; <= 20
                data=command_data(button.command),
                displayText=None if button.fill_in else button.command,
                inputOption="openKeyboard" if button.fill_in else None,
                fillInText=button.fill_in or None,
            ),
        )
        for (x, y, w, h), button in zip(_cells(), buttons, strict=True)
    ]
    return RichMenuRequest(
        size=RichMenuSize(width=WIDTH, height=HEIGHT),
        selected=True,
        name=name,
        chatBarText="Menu",
        areas=areas,
    )


def menu_name(image: bytes) -> str:
    """`dcabot <digest>`: the same areas and image give the same name (the run is idempotent)."""
    shape = menu_request("").to_dict()
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode() + image).hexdigest()
    return NAME_PREFIX + digest[:16]


async def _default_id(api: AsyncMessagingApi) -> str | None:
    from linebot.v3.messaging import ApiException

    try:
        return str((await api.get_default_rich_menu_id()).rich_menu_id)
    except ApiException as exc:
        if exc.status == 404:  # no default menu yet
            return None
        raise


async def install(settings: Settings) -> Installed:
    """Create, upload and set the menu as default unless it already is; delete the bot's older
    menus. Only menus named by the bot (`dcabot …`) are ever touched."""
    from linebot.v3.messaging import (
        AsyncApiClient,
        AsyncMessagingApi,
        AsyncMessagingApiBlob,
        Configuration,
    )

    image = menu_image()
    name = menu_name(image)
    token = settings.line_channel_access_token
    api_config = Configuration(host=settings.line_api_url, access_token=token)
    data_config = Configuration(host=settings.line_data_api_url, access_token=token)
    async with AsyncApiClient(api_config) as client, AsyncApiClient(data_config) as data:
        api, blob = AsyncMessagingApi(client), AsyncMessagingApiBlob(data)
        menus = (await api.get_rich_menu_list()).richmenus or []
        ours = [m for m in menus if (m.name or "").startswith(NAME_PREFIX)]
        default = await _default_id(api)
        current = next((m for m in ours if m.name == name), None)
        if current is not None and current.rich_menu_id == default:
            return Installed(current.rich_menu_id, changed=False)
        created = (await api.create_rich_menu(menu_request(name))).rich_menu_id
        await blob.set_rich_menu_image(created, image, _headers={"Content-Type": "image/png"})
        await api.set_default_rich_menu(created)
        for old in ours:  # the older menus, and a half-made one of an interrupted run
            await api.delete_rich_menu(old.rich_menu_id)
        return Installed(created, changed=True, removed=len(ours), image_bytes=len(image))
