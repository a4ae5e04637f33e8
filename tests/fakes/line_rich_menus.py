"""Rich menus in the fake LINE: the menus, their images and the default menu, and the endpoints
over them, split between hosts as LINE splits them.

api.line.me answers create / validate / list / get / delete a menu and set / get / cancel the
default menu; api-data.line.me answers upload / download of a menu's image. FakeLineAPI serves
the data host on a port of its own (`data_url`), and each host answers 404 for the other's paths,
so a bot that sends an image to the API host fails here as it would against LINE.

Bodies and status codes follow the reference pages of each endpoint (developers.line.biz/en/
reference/messaging-api/): "Not found", "no default richmenu", "must upload richmenu image before
applying it to user", "The image size is not allowed for richmenu", "An image has already been
uploaded to the richmenu". The 413 over 2 MB is LINE's common status code; the bodies of the 413
and 415, of an unreadable image and of the 1000-menu limit are not documented and paraphrased.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Self

from ._server import ServedFake, ThreadedASGIServer
from .line_api_methods import Answer
from .line_rich_menu_checks import MAX_IMAGE_BYTES, image_fits, image_size, validate_rich_menu
from .line_validation import error_body

NOT_FOUND = {"message": "Not found"}
NO_DEFAULT = {"message": "no default richmenu", "details": []}
IMAGE_REQUIRED = {"message": "must upload richmenu image before applying it to user", "details": []}
IMAGE_NOT_ALLOWED = {"message": "The image size is not allowed for richmenu"}
IMAGE_ALREADY_UPLOADED = {"message": "An image has already been uploaded to the richmenu"}
UNSUPPORTED_MEDIA_TYPE = {"message": "Unsupported Media Type"}
PAYLOAD_TOO_LARGE = {"message": "Payload Too Large"}
TOO_MANY_MENUS = {"message": "The maximum number of rich menus (1000) has been reached"}
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_RICH_MENUS = 1000
IMAGE_TYPES = ("image/png", "image/jpeg")
DATA_ENDPOINTS = frozenset({"richmenu_upload_image", "richmenu_download_image"})
_ID = r"(?P<id>[^/]+)"
_ROUTES = [
    ("POST", re.compile(r"/v2/bot/richmenu"), "richmenu_create"),
    ("POST", re.compile(r"/v2/bot/richmenu/validate"), "richmenu_validate"),
    ("GET", re.compile(r"/v2/bot/richmenu/list"), "richmenu_list"),
    ("GET", re.compile(rf"/v2/bot/richmenu/{_ID}/content"), "richmenu_download_image"),
    ("POST", re.compile(rf"/v2/bot/richmenu/{_ID}/content"), "richmenu_upload_image"),
    ("GET", re.compile(rf"/v2/bot/richmenu/{_ID}"), "richmenu_get"),
    ("DELETE", re.compile(rf"/v2/bot/richmenu/{_ID}"), "richmenu_delete"),
    ("POST", re.compile(rf"/v2/bot/user/all/richmenu/{_ID}"), "richmenu_set_default"),
    ("GET", re.compile(r"/v2/bot/user/all/richmenu"), "richmenu_get_default"),
    ("DELETE", re.compile(r"/v2/bot/user/all/richmenu"), "richmenu_cancel_default"),
]


def route(method: str, path: str) -> tuple[str, str | None] | None:
    """(endpoint, rich menu ID) of a rich menu path, on whichever host it belongs to."""
    for verb, pattern, endpoint in _ROUTES:
        found = pattern.fullmatch(path) if verb == method else None
        if found is not None:
            return endpoint, found.groupdict().get("id")
    return None


def _content_type(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def call_params(endpoint: str, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
    """What a Call records: the menu object sent, or the type and length of an image."""
    if endpoint == "richmenu_upload_image":
        return {"contentType": _content_type(headers), "bytes": len(raw)}
    if endpoint in ("richmenu_create", "richmenu_validate"):
        try:
            params = json.loads(raw)
        except ValueError:
            return {}
        return params if isinstance(params, dict) else {}
    return {}


@dataclass(frozen=True)
class RichMenu:
    """A rich menu as the fake holds it: LINE's rich menu response object and its image."""

    rich_menu_id: str
    body: dict[str, Any]
    image: bytes | None = None
    image_content_type: str | None = None
    image_size: tuple[int, int] | None = None

    @property
    def has_image(self) -> bool:
        return self.image is not None

    @property
    def name(self) -> str:
        return str(self.body["name"])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.body["size"]["width"]), int(self.body["size"]["height"])

    @property
    def chat_bar_text(self) -> str:
        return str(self.body["chatBarText"])

    @property
    def areas(self) -> list[dict[str, Any]]:
        return list(self.body["areas"])


def _response_object(rich_menu_id: str, menu: dict[str, Any]) -> dict[str, Any]:
    keys = ("size", "selected", "name", "chatBarText", "areas")
    return {"richMenuId": rich_menu_id, **{k: menu[k] for k in keys}}


class RichMenuState:
    """The channel's rich menus (in creation order), their images and the default menu."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._menus: dict[str, RichMenu] = {}
        self._default: str | None = None

    def reset(self) -> None:
        with self._lock:
            self._menus.clear()
            self._default = None

    def menus(self) -> list[RichMenu]:
        with self._lock:
            return list(self._menus.values())

    def get(self, rich_menu_id: str) -> RichMenu | None:
        with self._lock:
            return self._menus.get(rich_menu_id)

    @property
    def default(self) -> str | None:
        return self._default

    def add(
        self,
        menu: dict[str, Any],
        image: bytes | None = None,
        content_type: str = "image/png",
        *,
        default: bool = False,
    ) -> RichMenu:
        """Store a menu as if created (and its image uploaded) earlier; for test setup."""
        details = validate_rich_menu(menu)
        if details:
            raise ValueError(f"invalid rich menu: {details}")
        if default and image is None:
            raise ValueError("a default rich menu needs an image")
        rich_menu_id = f"richmenu-{secrets.token_hex(16)}"
        stored = RichMenu(rich_menu_id, _response_object(rich_menu_id, menu))
        if image is not None:
            size = image_size(image, content_type)
            stored = dataclasses.replace(
                stored, image=image, image_content_type=content_type, image_size=size
            )
        with self._lock:
            self._menus[stored.rich_menu_id] = stored
            if default:
                self._default = stored.rich_menu_id
        return stored

    # -- the endpoints ---------------------------------------------------------------------

    def handle(
        self, endpoint: str, rich_menu_id: str | None, headers: dict[str, str], raw: bytes
    ) -> Answer:
        if endpoint in ("richmenu_create", "richmenu_validate"):
            return self._create(raw, save=endpoint == "richmenu_create")
        if endpoint == "richmenu_list":
            return 200, {"richmenus": [m.body for m in self.menus()]}, {}
        if endpoint == "richmenu_get_default":
            default = self._default
            return (404, NO_DEFAULT, {}) if default is None else (200, {"richMenuId": default}, {})
        if endpoint == "richmenu_cancel_default":
            with self._lock:
                self._default = None
            return 200, {}, {}
        if endpoint == "richmenu_upload_image":
            return self._upload(str(rich_menu_id), _content_type(headers), raw)
        with self._lock:
            menu = self._menus.get(str(rich_menu_id))
            if menu is None:
                return 404, NOT_FOUND, {}
            if endpoint == "richmenu_get":
                return 200, menu.body, {}
            if endpoint == "richmenu_download_image":
                if menu.image is None:
                    return 404, NOT_FOUND, {}
                return 200, menu.image, {"content-type": str(menu.image_content_type)}
            if endpoint == "richmenu_set_default":
                if menu.image is None:
                    return 400, IMAGE_REQUIRED, {}
                self._default = menu.rich_menu_id
                return 200, {}, {}
            del self._menus[menu.rich_menu_id]  # richmenu_delete
            if self._default == menu.rich_menu_id:
                self._default = None
            return 200, {}, {}

    def _create(self, raw: bytes, *, save: bool) -> Answer:
        try:
            menu = json.loads(raw)
        except ValueError as exc:
            return 400, {"message": f"The request body could not be parsed as JSON ({exc})"}, {}
        details = validate_rich_menu(menu)
        if details:
            return 400, error_body(details), {}
        if not save:
            return 200, {}, {}
        rich_menu_id = f"richmenu-{secrets.token_hex(16)}"
        with self._lock:
            if len(self._menus) >= MAX_RICH_MENUS:
                return 400, TOO_MANY_MENUS, {}
            self._menus[rich_menu_id] = RichMenu(rich_menu_id, _response_object(rich_menu_id, menu))
        return 200, {"richMenuId": rich_menu_id}, {}

    def _upload(self, rich_menu_id: str, content_type: str, raw: bytes) -> Answer:
        if len(raw) > MAX_REQUEST_BYTES:
            return 413, PAYLOAD_TOO_LARGE, {}
        if content_type not in IMAGE_TYPES:
            return 415, UNSUPPORTED_MEDIA_TYPE, {}
        with self._lock:
            menu = self._menus.get(rich_menu_id)
            if menu is None:
                return 404, NOT_FOUND, {}
            if menu.image is not None:
                return 400, IMAGE_ALREADY_UPLOADED, {}
            size = image_size(raw, content_type)
            if size is None:
                return 400, {"message": f"The request body is not a valid {content_type} image"}, {}
            if len(raw) > MAX_IMAGE_BYTES or not image_fits(size) or size != menu.size:
                return 400, IMAGE_NOT_ALLOWED, {}
            self._menus[rich_menu_id] = dataclasses.replace(
                menu, image=raw, image_content_type=content_type, image_size=size
            )
        return 200, {}, {}


class RichMenuHelpers(ServedFake):
    """A ServedFake that also serves the data host (`_data_server`, started and stopped with
    `_server`), and what FakeLineAPI offers tests about rich menus."""

    rich_menu_state: RichMenuState
    _data_server: ThreadedASGIServer

    def start(self) -> Self:
        self._server.start()
        try:
            self._data_server.start()
        except BaseException:
            self._server.stop()
            raise
        return self

    def stop(self) -> None:
        try:
            self._data_server.stop()
        finally:
            self._server.stop()

    @property
    def data_url(self) -> str:
        """For `Configuration(host=...)` of MessagingApiBlob: the api-data.line.me host."""
        return self._data_server.url

    def rich_menus(self) -> list[RichMenu]:
        """The channel's rich menus in creation order (`has_image`, `image_size`, `body`...)."""
        return self.rich_menu_state.menus()

    def rich_menu(self, rich_menu_id: str) -> RichMenu | None:
        return self.rich_menu_state.get(rich_menu_id)

    def default_rich_menu(self) -> str | None:
        """The ID of the default rich menu, or None when none is set."""
        return self.rich_menu_state.default

    def add_rich_menu(
        self,
        menu: dict[str, Any],
        image: bytes | None = None,
        content_type: str = "image/png",
        *,
        default: bool = False,
    ) -> str:
        """A menu (a rich menu object as sent to create) that exists before the test; its ID."""
        return self.rich_menu_state.add(menu, image, content_type, default=default).rich_menu_id
