"""docker-compose.yml cannot run here (no Docker engine); check it agrees with the CLI and the Makefile."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml
from typer.main import get_command

from tierflow.cli import app
from tierflow.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def cli_commands() -> set[str]:
    return set(get_command(app).commands)  # type: ignore[attr-defined]


def test_compose_has_chain_database_and_platform_with_health_checks() -> None:
    services = compose()["services"]
    assert set(services) == {"anvil", "postgres", "platform"}
    for name, service in services.items():
        assert "healthcheck" in service, f"service {name} has no health check"
    assert services["platform"]["depends_on"] == {
        "anvil": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }


def test_compose_platform_runs_existing_cli_commands() -> None:
    platform = compose()["services"]["platform"]
    script = platform["command"][-1]
    used = re.findall(r"tierflow\s+([a-z-]+)", script)
    assert used, "the platform service runs no tierflow command"
    assert set(used) <= cli_commands(), f"compose uses unknown commands: {set(used) - cli_commands()}"


def test_compose_chain_matches_devnet_defaults() -> None:
    anvil = compose()["services"]["anvil"]
    args = anvil["command"]
    assert args[args.index("--chain-id") + 1] == "31337"
    port = args[args.index("--port") + 1]
    assert Settings().rpc_url.endswith(f":{port}")
    env = compose()["services"]["platform"]["environment"]
    assert env["TIERFLOW_RPC_URL"] == f"http://anvil:{port}"
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://")


def test_makefile_up_and_test_use_the_same_cli() -> None:
    makefile = (ROOT / "Makefile").read_text()
    up_recipe = re.search(r"^up:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert up_recipe is not None
    words = shlex.split(up_recipe.group(1))
    assert words[-2:] == ["$(BIN)/tierflow", "up"]
    assert "up" in cli_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
