"""docker-compose.yml cannot run here (no Docker engine, no Besu); check it agrees with the CLI, the
Makefile, the platform's settings and the Besu network files under deploy/besu/."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from eth_keys import keys
from typer.main import get_command

from tierflow.chain.node import FeePolicy
from tierflow.cli import app
from tierflow.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
BESU = ROOT / "deploy" / "besu"
PLATFORMS = ("platform", "platform-besu")
VALIDATORS = ("besu-1", "besu-2", "besu-3", "besu-4")


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def genesis() -> dict[str, Any]:
    return json.loads((BESU / "genesis.json").read_text())


def options(service: dict[str, Any]) -> dict[str, str]:
    """A Besu service's `--name=value` command options (flags map to "")."""
    pairs = (arg.split("=", 1) for arg in service["command"])
    return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}


def validator_key(service: dict[str, Any]) -> keys.PrivateKey:
    path = options(service)["--node-private-key-file"].replace("/config/", "", 1)
    return keys.PrivateKey(bytes.fromhex((BESU / path).read_text().strip().removeprefix("0x")))


def rlp(item: bytes | list[Any]) -> bytes:
    """Recursive-length-prefix encoding (enough of it for QBFT extraData)."""
    if isinstance(item, bytes):
        return item if len(item) == 1 and item[0] < 0x80 else _rlp_length(len(item), 0x80) + item
    body = b"".join(rlp(part) for part in item)
    return _rlp_length(len(body), 0xC0) + body


def _rlp_length(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(encoded)]) + encoded


def platform_settings(monkeypatch: pytest.MonkeyPatch, service: str) -> Settings:
    """The Settings a platform service's container would read from its compose environment."""
    environment = compose()["services"][service]["environment"]
    for name in list(os.environ):
        if name.startswith("TIERFLOW_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, str(value))
    return Settings(_env_file=None)  # type: ignore[call-arg]


def cli_commands() -> set[str]:
    return set(get_command(app).commands)  # type: ignore[attr-defined]


def test_compose_has_chain_database_and_platform_with_health_checks() -> None:
    services = compose()["services"]
    assert {name for name, service in services.items() if "profiles" not in service} == {
        "anvil",
        "postgres",
        "platform",
    }
    assert {name for name, service in services.items() if service.get("profiles") == ["besu"]} == {
        *VALIDATORS,
        "platform-besu",
    }
    for name, service in services.items():
        assert "healthcheck" in service, f"service {name} has no health check"
    assert services["platform"]["depends_on"] == {
        "anvil": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    assert services["platform-besu"]["depends_on"] == {
        "besu-1": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }


def test_compose_platform_runs_existing_cli_commands() -> None:
    for name in PLATFORMS:
        script = compose()["services"][name]["command"][-1]
        used = re.findall(r"tierflow\s+([a-z-]+)", script)
        assert used, f"the {name} service runs no tierflow command"
        assert set(used) <= cli_commands(), f"{name} uses unknown commands: {set(used) - cli_commands()}"


def test_compose_platform_environment_names_existing_settings() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for name in PLATFORMS:
        for variable in compose()["services"][name]["environment"]:
            if variable == "DATABASE_URL":  # Settings.database_url's alias
                continue
            assert variable.startswith("TIERFLOW_"), f"{name}: {variable} is not a Tierflow setting"
            assert variable.removeprefix("TIERFLOW_") in fields, f"{name}: no setting reads {variable}"


def test_compose_besu_platform_settings_agree_with_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = platform_settings(monkeypatch, "platform-besu")
    config = genesis()["config"]
    services = compose()["services"]
    assert settings.chain_id == config["chainId"]
    assert settings.poa, "QBFT extraData is longer than 32 bytes: web3 needs the POA middleware"
    assert settings.confirmations == 0  # QBFT: immediate finality
    url = urlsplit(settings.rpc_url)
    assert url.hostname in VALIDATORS
    assert str(url.port) == options(services[str(url.hostname)])["--rpc-http-port"]
    assert settings.sqlalchemy_url.endswith("/tierflow_besu")
    assert "tierflow_besu" in (ROOT / "deploy" / "postgres" / "10-besu-database.sql").read_text()
    # Free gas: a zero base fee from genesis, nodes accepting price 0, and the platform bidding 0.
    assert config["zeroBaseFee"] is True
    fees = FeePolicy.from_settings(settings)
    assert fees.quote(0) == {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
    assert fees.quote(None, 0) == {"gasPrice": 0}
    for name in VALIDATORS:
        assert options(services[name])["--min-gas-price"] == "0"


def test_compose_besu_network_has_four_qbft_validators_from_its_keys() -> None:
    services = compose()["services"]
    config = genesis()["config"]
    assert set(config["qbft"]) >= {"blockperiodseconds", "epochlength", "requesttimeoutseconds"}
    nodes = {name: validator_key(services[name]) for name in VALIDATORS}
    addresses = [key.public_key.to_canonical_address() for key in nodes.values()]
    assert len(set(addresses)) == 4
    # QBFT genesis extraData: RLP([32-byte vanity, validators, no vote, round 0, no seals]).
    assert genesis()["extraData"] == "0x" + rlp([bytes(32), addresses, [], b"", []]).hex()
    hosts = {}
    for name, key in nodes.items():
        ip = services[name]["networks"]["besu"]["ipv4_address"]
        assert options(services[name])["--p2p-host"] == ip
        hosts[key.public_key.to_hex()[2:]] = f"{ip}:{options(services[name])['--p2p-port']}"
    for name in VALIDATORS:
        bootnodes = options(services[name])["--bootnodes"].split(",")
        assert bootnodes
        for enode in bootnodes:
            public_key, address = enode.removeprefix("enode://").split("@")
            assert hosts.get(public_key) == address, f"{name}: bootnode {enode} is no validator"


def test_consortium_doc_states_what_the_besu_profile_sets() -> None:
    doc = (ROOT / "docs" / "consortium.md").read_text()
    assert f"blockperiodseconds: {genesis()['config']['qbft']['blockperiodseconds']}" in doc.replace('"', "")
    for variable in compose()["services"]["platform-besu"]["environment"]:
        assert variable in doc, f"docs/consortium.md does not explain {variable}"


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
