"""README's tables stay true: commands from the registry, settings from bot/config.py."""

from __future__ import annotations

import re
from pathlib import Path

from bot.chat.commands import build_registry
from bot.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def table(marker: str) -> list[list[str]]:
    block = README.split(f"<!-- {marker}:", 1)[1].split(f"<!-- /{marker} -->", 1)[0]
    rows = [line for line in block.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_the_command_table_is_the_registry() -> None:
    expected = [[f"`{c.usage}`", c.summary, c.role.name.lower()]
                for c in build_registry().commands.values()]
    assert table("commands") == expected


def test_the_settings_table_names_every_setting() -> None:
    documented = {row[0].strip("`") for row in table("settings")}
    names = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names.update(getattr(alias, "choices", []))
    assert documented == names


def test_the_quick_start_has_the_two_commands_ci_runs() -> None:
    commands = re.findall(r"```sh\n(.+?)\n```", README)
    assert commands[0].endswith("pip install . && dcabot run")
    test_command = commands[1]
    assert test_command.endswith("pytest")
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci
