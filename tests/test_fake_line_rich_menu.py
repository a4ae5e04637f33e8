"""Rich menus on the fake LINE, driven through the real line-bot-sdk v3: menus on the API host,
their images on the data host (its own port, as api-data.line.me is its own host), and the
answers LINE documents when a menu, an image or the order of the calls is wrong.
"""

from __future__ import annotations

import functools
import io
import json
import re
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    Configuration,
    MessageAction,
    MessagingApi,
    MessagingApiBlob,
    PostbackAction,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
    URIAction,
)
from pydantic.v1 import ValidationError

from tests.fakes.line_api import FakeLineAPI

WIDTH, HEIGHT = 2500, 843
PNG = {"Content-Type": "image/png"}
JPEG = {"Content-Type": "image/jpeg"}
IMAGE_NOT_ALLOWED = {"message": "The image size is not allowed for richmenu"}


@functools.cache
def png(width: int = WIDTH, height: int = HEIGHT, *, pad: int = 0) -> bytes:
    """A grey 8-bit greyscale PNG; `pad` bytes of tEXt make it as large as a test needs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress((b"\x00" + b"\x80" * width) * height)
    text = chunk(b"tEXt", b"Comment\x00" + b"x" * pad) if pad else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + text
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


@functools.cache
def jpeg(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    from PIL import Image  # matplotlib's own dependency

    out = io.BytesIO()
    Image.new("RGB", (width, height), (13, 27, 42)).save(out, format="JPEG")
    return out.getvalue()


def matplotlib_png(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """The kind of image the bot draws: a matplotlib figure of exactly width x height pixels."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width / 100, height / 100), dpi=100)
    figure.add_axes((0, 0, 1, 1)).text(0.5, 0.5, "Status", ha="center")
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100)
    return out.getvalue()


def menu(
    width: int = WIDTH, height: int = HEIGHT, *, areas: list[RichMenuArea] | None = None
) -> RichMenuRequest:
    half = width // 2
    default_areas = [
        RichMenuArea(
            bounds=RichMenuBounds(x=0, y=0, width=half, height=height),
            action=PostbackAction(label="Status", data="cmd:/status", displayText="/status"),
        ),
        RichMenuArea(
            bounds=RichMenuBounds(x=half, y=0, width=width - half, height=height),
            action=PostbackAction(
                label="Buy", data="cmd:/buy", inputOption="openKeyboard", fillInText="/buy "
            ),
        ),
    ]
    return RichMenuRequest(
        size=RichMenuSize(width=width, height=height),
        selected=True,
        name="dcabot test",
        chatBarText="Menu",
        areas=default_areas if areas is None else areas,
    )


def error(exc: pytest.ExceptionInfo[ApiException]) -> tuple[int, Any]:
    return exc.value.status, json.loads(exc.value.body)


class Apis:
    def __init__(self, api: AsyncMessagingApi, blob: AsyncMessagingApiBlob) -> None:
        self.api, self.blob = api, blob


@pytest.fixture
async def line() -> AsyncIterator[FakeLineAPI]:
    async with FakeLineAPI() as fake:
        yield fake


def config(host: str, line: FakeLineAPI, token: str | None = None) -> Configuration:
    return Configuration(host=host, access_token=token or line.channel_access_token)


@pytest.fixture
async def sdk(line: FakeLineAPI) -> AsyncIterator[Apis]:
    async with (
        AsyncApiClient(config(line.base_url, line)) as client,
        AsyncApiClient(config(line.data_url, line)) as data,
    ):
        yield Apis(AsyncMessagingApi(client), AsyncMessagingApiBlob(data))


async def created(sdk: Apis, request: RichMenuRequest | None = None) -> str:
    return str((await sdk.api.create_rich_menu(request or menu())).rich_menu_id)


async def test_create_upload_set_default_and_read_back(line: FakeLineAPI, sdk: Apis) -> None:
    assert line.data_url != line.base_url
    rich_menu_id = await created(sdk)
    assert re.fullmatch(r"richmenu-[0-9a-f]{32}", rich_menu_id)
    with pytest.raises(ApiException) as no_default:
        await sdk.api.get_default_rich_menu_id()
    assert error(no_default) == (404, {"message": "no default richmenu", "details": []})

    image = matplotlib_png()
    await sdk.blob.set_rich_menu_image(rich_menu_id, image, _headers=PNG)
    await sdk.api.set_default_rich_menu(rich_menu_id)

    assert (await sdk.api.get_default_rich_menu_id()).rich_menu_id == rich_menu_id
    listed = (await sdk.api.get_rich_menu_list()).richmenus
    assert [m.rich_menu_id for m in listed] == [rich_menu_id]
    got = await sdk.api.get_rich_menu(rich_menu_id)
    assert (got.name, got.chat_bar_text, got.selected) == ("dcabot test", "Menu", True)
    assert (got.size.width, got.size.height) == (WIDTH, HEIGHT)
    buy = got.areas[1].action
    assert (buy.data, buy.input_option, buy.fill_in_text) == ("cmd:/buy", "openKeyboard", "/buy ")
    answer = await sdk.blob.get_rich_menu_image_with_http_info(rich_menu_id)
    assert bytes(answer.data) == image and answer.headers["content-type"] == "image/png"

    [stored] = line.rich_menus()
    assert stored.rich_menu_id == rich_menu_id and stored.has_image
    assert stored.image_size == (WIDTH, HEIGHT) and stored.image == image
    assert line.default_rich_menu() == rich_menu_id
    [upload] = line.calls_to("richmenu_upload_image")
    assert upload.params == {"contentType": "image/png", "bytes": len(image)}
    assert upload.target == rich_menu_id and upload.status == 200
    assert line.calls_to("richmenu_create")[0].params["chatBarText"] == "Menu"
    assert len(line.calls_to("richmenu_set_default")) == 1
    assert [c.status for c in line.calls_to("richmenu_get_default")] == [404, 200]


async def test_each_host_answers_only_its_own_paths(line: FakeLineAPI, sdk: Apis) -> None:
    rich_menu_id = await created(sdk)
    async with (
        AsyncApiClient(config(line.base_url, line)) as api_host,
        AsyncApiClient(config(line.data_url, line)) as data_host,
    ):
        wrong_blob = AsyncMessagingApiBlob(api_host)  # the blob API left on api.line.me
        with pytest.raises(ApiException) as upload:
            await wrong_blob.set_rich_menu_image(rich_menu_id, png(), _headers=PNG)
        assert error(upload) == (404, {"message": "Not found"})
        with pytest.raises(ApiException) as download:
            await wrong_blob.get_rich_menu_image(rich_menu_id)
        assert download.value.status == 404
        with pytest.raises(ApiException) as create:
            await AsyncMessagingApi(data_host).create_rich_menu(menu())
        assert create.value.status == 404
    assert not line.rich_menus()[0].has_image and len(line.rich_menus()) == 1
    assert line.calls_to("richmenu_upload_image") == []
    assert line.calls_to(f"POST /v2/bot/richmenu/{rich_menu_id}/content")[0].status == 404


async def test_images_line_refuses(line: FakeLineAPI, sdk: Apis) -> None:
    rich_menu_id = await created(sdk)

    async def upload(image: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        with pytest.raises(ApiException) as refused:
            await sdk.blob.set_rich_menu_image(rich_menu_id, image, _headers=headers)
        return error(refused)

    assert await upload(png(1250, 421), PNG) == (400, IMAGE_NOT_ALLOWED)  # not the menu's size
    assert await upload(png(2500, 1686), PNG) == (400, IMAGE_NOT_ALLOWED)
    assert await upload(png(pad=1_100_000), PNG) == (400, IMAGE_NOT_ALLOWED)  # over 1 MB
    assert (await upload(png(pad=2_200_000), PNG))[0] == 413  # over LINE's 2 MB request limit
    assert (await upload(png(), {"Content-Type": "image/gif"}))[0] == 415
    assert (await upload(jpeg(), PNG))[0] == 400  # a JPEG said to be a PNG
    assert (await upload(png()[:-20], PNG))[0] == 400  # cut short
    assert line.rich_menus()[0].has_image is False

    await sdk.blob.set_rich_menu_image(rich_menu_id, jpeg(), _headers=JPEG)
    assert await upload(png(), PNG) == (
        400,
        {"message": "An image has already been uploaded to the richmenu"},
    )
    with pytest.raises(ApiException) as unknown:
        await sdk.blob.set_rich_menu_image("richmenu-" + "0" * 32, png(), _headers=PNG)
    assert error(unknown) == (404, {"message": "Not found"})
    stored = line.rich_menu(rich_menu_id)
    assert stored is not None and stored.image_content_type == "image/jpeg"
    assert stored.image_size == (WIDTH, HEIGHT)
    statuses = [c.status for c in line.calls_to("richmenu_upload_image")]
    assert statuses == [400, 400, 400, 413, 415, 400, 400, 200, 400, 404]


async def test_set_default_needs_an_uploaded_image(line: FakeLineAPI, sdk: Apis) -> None:
    rich_menu_id = await created(sdk)
    with pytest.raises(ApiException) as refused:
        await sdk.api.set_default_rich_menu(rich_menu_id)
    assert error(refused) == (
        400,
        {"message": "must upload richmenu image before applying it to user", "details": []},
    )
    with pytest.raises(ApiException) as unknown:
        await sdk.api.set_default_rich_menu("richmenu-" + "f" * 32)
    assert error(unknown) == (404, {"message": "Not found"})
    assert line.default_rich_menu() is None


async def test_invalid_menus_get_lines_400_and_nothing_is_created(
    line: FakeLineAPI, sdk: Apis
) -> None:
    def one_error(message: str, prop: str) -> dict[str, Any]:
        details = [{"message": message, "property": prop}]
        return {"message": "The request body has 1 error(s)", "details": details}

    outside = RichMenuArea(
        bounds=RichMenuBounds(x=2000, y=0, width=600, height=HEIGHT),
        action=MessageAction(text="/status"),
    )
    ftp = RichMenuArea(
        bounds=RichMenuBounds(x=0, y=0, width=100, height=100),
        action=URIAction(label="Docs", uri="ftp://example.com/menu"),
    )
    long_label = RichMenuArea(
        bounds=RichMenuBounds(x=0, y=0, width=100, height=100),
        action=PostbackAction(label="L" * 21, data="cmd:/help"),
    )
    cases = [
        (menu(areas=[outside]), one_error(
            "The area must lie within the size of the rich menu", "areas[0].bounds"
        )),
        (menu(areas=[ftp]), one_error("invalid uri", "areas[0].action.uri")),
        (menu(areas=[long_label]), one_error(
            "Length must be between 0 and 20", "areas[0].action.label"
        )),
        (menu(2500, 2000), one_error(
            "The aspect ratio (width / height) must be at least 1.45", "size"
        )),
        (menu(areas=[outside] * 21), None),
    ]  # fmt: skip
    for request, body in cases:
        for call in (sdk.api.create_rich_menu, sdk.api.validate_rich_menu_object):
            with pytest.raises(ApiException) as refused:
                await call(request)
            status, answer = error(refused)
            assert status == 400 and answer == (body or answer)
            assert answer["message"].startswith("The request body has")
    too_many = {"message": "Size must be between 0 and 20", "property": "areas"}
    assert too_many in json.loads(refused.value.body)["details"]
    assert await sdk.api.validate_rich_menu_object(menu()) is None
    assert line.rich_menus() == []
    assert len(line.calls_to("richmenu_validate")) == len(cases) + 1


async def test_chat_bar_text_over_14_refused_by_sdk_and_by_line(line: FakeLineAPI) -> None:
    with pytest.raises(ValidationError):
        RichMenuRequest(chatBarText="Open the menu!!")  # the SDK checks it first
    body = menu().to_dict() | {"chatBarText": "Open the menu!!", "name": ""}
    headers = {"Authorization": f"Bearer {line.channel_access_token}"}
    async with httpx.AsyncClient(base_url=line.base_url, headers=headers) as client:
        answer = await client.post("/v2/bot/richmenu", json=body)
        no_json = await client.post("/v2/bot/richmenu", content=b"{", headers=headers)
    assert answer.status_code == 400
    assert answer.json() == {
        "message": "The request body has 2 error(s)",
        "details": [
            {"message": "must be specified", "property": "name"},
            {"message": "Length must be between 0 and 14", "property": "chatBarText"},
        ],
    }
    assert no_json.status_code == 400 and "parsed as JSON" in no_json.json()["message"]
    assert line.rich_menus() == []


async def test_deleting_the_default_menu_clears_the_default(line: FakeLineAPI, sdk: Apis) -> None:
    keep, default = await created(sdk), await created(sdk)
    for rich_menu_id in (keep, default):
        await sdk.blob.set_rich_menu_image(rich_menu_id, png(), _headers=PNG)
    await sdk.api.set_default_rich_menu(default)
    await sdk.api.delete_rich_menu(default)
    assert line.default_rich_menu() is None
    with pytest.raises(ApiException) as gone:
        await sdk.api.get_default_rich_menu_id()
    assert gone.value.status == 404
    for call in (sdk.api.get_rich_menu, sdk.api.delete_rich_menu, sdk.blob.get_rich_menu_image):
        with pytest.raises(ApiException) as missing:
            await call(default)
        assert error(missing) == (404, {"message": "Not found"})
    assert [m.rich_menu_id for m in (await sdk.api.get_rich_menu_list()).richmenus] == [keep]

    await sdk.api.set_default_rich_menu(keep)
    await sdk.api.cancel_default_rich_menu()
    assert line.default_rich_menu() is None
    assert [m.rich_menu_id for m in line.rich_menus()] == [keep]


async def test_every_endpoint_wants_the_channel_token(line: FakeLineAPI) -> None:
    rich_menu_id = line.add_rich_menu(menu().to_dict())
    auth_failed = {
        "message": "Authentication failed. Confirm that the access token in the "
        "authorization header is valid."
    }
    async with (
        AsyncApiClient(config(line.base_url, line, "stale-token")) as client,
        AsyncApiClient(config(line.data_url, line, "stale-token")) as data,
    ):
        api, blob = AsyncMessagingApi(client), AsyncMessagingApiBlob(data)
        calls = [
            api.create_rich_menu(menu()),
            api.get_rich_menu_list(),
            api.set_default_rich_menu(rich_menu_id),
            api.delete_rich_menu(rich_menu_id),
            blob.set_rich_menu_image(rich_menu_id, png(), _headers=PNG),
        ]
        for call in calls:
            with pytest.raises(ApiException) as refused:
                await call
            assert error(refused) == (401, auth_failed)
    [stored] = line.rich_menus()
    assert stored.rich_menu_id == rich_menu_id and not stored.has_image
    assert [c.status for c in line.calls] == [401] * 5


async def test_a_lost_upload_answer_then_a_retry_is_already_uploaded(
    line: FakeLineAPI, sdk: Apis
) -> None:
    rich_menu_id = await created(sdk)
    line.server_error_next("richmenu_upload_image", to=rich_menu_id, accepted=True)
    with pytest.raises(ApiException) as lost:
        await sdk.blob.set_rich_menu_image(rich_menu_id, png(), _headers=PNG)
    assert lost.value.status == 500
    with pytest.raises(ApiException) as retried:
        await sdk.blob.set_rich_menu_image(rich_menu_id, png(), _headers=PNG)
    assert error(retried)[1]["message"] == "An image has already been uploaded to the richmenu"
    await sdk.api.set_default_rich_menu(rich_menu_id)  # the first upload did land
    line.fail_next("richmenu_list", 429, {"message": "The API rate limit has been exceeded."})
    with pytest.raises(ApiException) as limited:
        await sdk.api.get_rich_menu_list()
    assert limited.value.status == 429


async def test_seeded_menus_and_reset(line: FakeLineAPI, sdk: Apis) -> None:
    old = line.add_rich_menu(menu().to_dict(), png(), default=True)
    assert (await sdk.api.get_default_rich_menu_id()).rich_menu_id == old
    assert bytes(await sdk.blob.get_rich_menu_image(old)) == png()
    with pytest.raises(ValueError):
        line.add_rich_menu(menu().to_dict(), default=True)  # a default needs an image
    line.reset()
    assert line.rich_menus() == [] and line.default_rich_menu() is None and line.calls == []


def test_the_sync_client_against_both_hosts() -> None:
    with FakeLineAPI() as line:
        with (
            ApiClient(config(line.base_url, line)) as client,
            ApiClient(config(line.data_url, line)) as data,
        ):
            api, blob = MessagingApi(client), MessagingApiBlob(data)
            rich_menu_id = api.create_rich_menu(menu(1200, 405)).rich_menu_id
            blob.set_rich_menu_image(rich_menu_id, jpeg(1200, 405), _headers=JPEG)
            api.set_default_rich_menu(rich_menu_id)
            assert bytes(blob.get_rich_menu_image(rich_menu_id)) == jpeg(1200, 405)
        assert line.default_rich_menu() == rich_menu_id
        assert line.rich_menus()[0].image_size == (1200, 405)
