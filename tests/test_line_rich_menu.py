"""`dcabot line rich-menu` against the fake LINE API (its API host and, apart, its data host, as
LINE splits them): the menu is created, its image of the required size uploaded to the data
host, set as default; a second run changes nothing; a changed menu replaces the bot's old one.
The menu's taps go through the registry and its role checks like typed commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chat import line_rich_menu
from bot.cli import main
from tests.app_harness import (
    LINE_ADMIN,
    LINE_STRANGER,
    LINE_VIEWER,
    World,
    flex_texts,
    line,
    tg,
    world,
)
from tests.fakes.line_api import FakeLineAPI

__all__ = ["line", "tg", "world"]  # fixtures


@pytest.fixture
def line_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeLineAPI]:
    with FakeLineAPI() as fake:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("DCABOT_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", fake.channel_access_token)
        monkeypatch.setenv("LINE_CHANNEL_SECRET", fake.channel_secret)
        monkeypatch.setenv("LINE_API_URL", fake.base_url)
        monkeypatch.setenv("LINE_DATA_API_URL", fake.data_url)
        yield fake


def test_the_menu_is_made_once_and_a_second_run_changes_nothing(
    line_env: FakeLineAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = line_env
    assert main(["line", "rich-menu"]) == 0
    said = capsys.readouterr().out
    [menu] = fake.rich_menus()
    assert menu.has_image and menu.image_size == (2500, 843)
    assert menu.image_content_type == "image/png"
    assert fake.default_rich_menu() == menu.rich_menu_id
    assert f"rich menu {menu.rich_menu_id} created" in said and "2500x843" in said
    areas = menu.body["areas"]
    assert [a["action"]["data"] for a in areas] == [
        "cmd:/status", "cmd:/buy", "cmd:/reserve", "cmd:/schedule", "cmd:/signal", "cmd:/help"
    ]
    assert areas[1]["action"]["inputOption"] == "openKeyboard"
    assert areas[1]["action"]["fillInText"] == "/buy "
    uploads = len(fake.calls_to("richmenu_upload_image"))
    assert uploads == 1

    assert main(["line", "rich-menu"]) == 0
    again = capsys.readouterr().out
    assert "up to date" in again and "nothing changed" in again
    assert [m.rich_menu_id for m in fake.rich_menus()] == [menu.rich_menu_id]
    assert len(fake.calls_to("richmenu_create")) == 1
    assert len(fake.calls_to("richmenu_upload_image")) == uploads


def test_a_changed_menu_replaces_the_bots_old_one_and_leaves_others_alone(
    line_env: FakeLineAPI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = line_env
    someone_elses = fake.add_rich_menu(
        {"size": {"width": 2500, "height": 843}, "selected": False, "name": "campaign",
         "chatBarText": "Sale", "areas": []}
    )
    assert main(["line", "rich-menu"]) == 0
    first = fake.default_rich_menu()
    changed = (*line_rich_menu.BUTTONS[:5], line_rich_menu.MenuButton("Profit", "กำไร", "/profit"))
    monkeypatch.setattr(line_rich_menu, "BUTTONS", changed)
    monkeypatch.setattr(line_rich_menu.menu_image, "__defaults__", (changed,))
    monkeypatch.setattr(line_rich_menu.menu_request, "__defaults__", (changed,))
    assert main(["line", "rich-menu"]) == 0
    assert "removed 1 older menu" in capsys.readouterr().out
    ids = [m.rich_menu_id for m in fake.rich_menus()]
    assert first not in ids and someone_elses in ids and len(ids) == 2
    assert fake.default_rich_menu() not in (first, someone_elses)


def test_the_upload_goes_to_the_data_host(
    line_env: FakeLineAPI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LINE_DATA_API_URL", line_env.base_url)  # the API host: LINE says 404
    assert main(["line", "rich-menu"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("dcabot: LINE said 404") and "\n" not in error.strip()
    assert line_env.default_rich_menu() is None  # never set without its image


def test_a_bad_token_is_one_line(
    line_env: FakeLineAPI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", "not-the-token")
    assert main(["line", "rich-menu"]) == 2
    assert "LINE refused LINE_CHANNEL_ACCESS_TOKEN" in capsys.readouterr().err
    assert line_env.rich_menus() == []


def test_menu_taps_run_through_the_registry_and_its_roles(world: World) -> None:
    status = world.line_taps("cmd:/status", LINE_ADMIN)
    assert any("Portfolio" in " ".join(flex_texts(m)) for m in status), status
    buy = world.line_taps("cmd:/buy", LINE_VIEWER)
    assert any("needs an admin" in " ".join(flex_texts(m)) for m in buy), buy
    stranger = world.line_taps("cmd:/status", LINE_STRANGER)
    assert all("Portfolio" not in " ".join(flex_texts(m)) for m in stranger)
    assert world.counts()["Order"] == 0


def test_each_button_shows_its_commands_thai_word_in_a_font_that_has_it() -> None:
    """The menu is drawn in the installed Noto Sans Thai: every character of every label is in
    the font (no missing-glyph boxes), each Thai word is the registry's alias of the button's
    command, and the Thai words are really drawn (another word gives another image)."""
    from io import BytesIO

    from fontTools.ttLib import TTFont
    from PIL import Image

    from bot.chat.commands import build_registry

    glyphs = TTFont(str(line_rich_menu.FONT_FILE)).getBestCmap()
    aliases = build_registry().aliases
    for button in line_rich_menu.BUTTONS:
        for text in (button.thai, button.label, button.command):
            assert [c for c in text if ord(c) not in glyphs] == [], text
        assert aliases[button.thai] == button.command.lstrip("/"), button
    image = line_rich_menu.menu_image()
    assert Image.open(BytesIO(image)).size == (2500, 843)
    other = (line_rich_menu.MenuButton("Status", "กำไร", "/status"),
             *line_rich_menu.BUTTONS[1:])
    assert line_rich_menu.menu_image(other) != image
