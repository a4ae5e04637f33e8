"""The map in docs/design.md holds: imports point one way and no module imports itself back.

Module-level imports only (an import inside a function, or under TYPE_CHECKING, is a late or
type-only use and draws no edge at load time)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "storage", "strategies")


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in PACKAGES:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] in PACKAGES)
    return found


GRAPH: dict[str, set[str]] = {
    _module(path): _imports(path)
    for package in PACKAGES
    for path in (ROOT / package).rglob("*.py")
    if "migrations" not in path.parts
}
EDGES = {m: {d for d in deps if d in GRAPH and d != m} for m, deps in GRAPH.items()}


def test_no_module_imports_itself_back() -> None:
    cycles: list[list[str]] = []
    seen: set[str] = set()

    def walk(node: str, trail: list[str]) -> None:
        for nxt in sorted(EDGES[node]):
            if nxt in trail:
                cycles.append([*trail[trail.index(nxt):], nxt])
            elif nxt not in seen:
                walk(nxt, [*trail, nxt])
        seen.add(node)

    for start in sorted(EDGES):
        if start not in seen:
            walk(start, [start])
    assert cycles == []


def _importers(prefix: str, target: str) -> list[str]:
    return sorted(
        f"{m} imports {d}"
        for m, deps in GRAPH.items()
        if m.startswith(prefix)
        for d in deps
        if d == target or d.startswith(f"{target}.")
    )


@pytest.mark.parametrize(
    ("layer", "must_not_import"),
    [
        ("strategies", "bot"),
        ("strategies", "storage"),
        ("storage", "bot"),
        ("bot.exchanges", "bot.engine"),
        ("bot.exchanges", "bot.chat"),
        ("bot.engine", "bot.chat"),
        ("bot.engine", "bot.notify"),
        ("bot.engine", "bot.cards"),
        ("bot.engine", "bot.app"),
        ("bot.engine", "bot.runtime"),
        ("bot.cards", "bot.chat"),
        ("bot.cards", "bot.notify"),
        ("bot.cards", "bot.engine"),
        ("bot.cards", "storage"),
        ("bot.notify", "bot.chat"),
        ("bot.chat", "bot.runtime"),
        ("bot.runtime", "bot.app"),
    ],
)
def test_imports_point_one_way(layer: str, must_not_import: str) -> None:
    assert _importers(layer, must_not_import) == []
