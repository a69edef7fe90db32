"""The CLI as an operator meets it: one line for bad settings, ports checked first, SIGTERM a clean stop."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner
from web3 import Web3

from tierflow.chain.accounts import dev_account
from tierflow.chain.deploy import load_deployment
from tierflow.chain.devnet import Devnet, free_port
from tierflow.cli import app
from tierflow.platform.logs import JsonFormatter
from tierflow.settings import get_settings

TIERFLOW = [sys.executable, "-m", "tierflow.cli"]


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERFLOW_") and k != "DATABASE_URL"}
    env.update(
        TIERFLOW_ENVIRONMENT="test",
        TIERFLOW_DATA_DIR=str(tmp / "var"),
        TIERFLOW_DEPLOYMENTS_DIR=str(tmp / "deployments"),
        TIERFLOW_RPC_URL="http://127.0.0.1:9",
    )
    env.update(extra)
    return env


def _invoke(
    tmp: Path, monkeypatch: pytest.MonkeyPatch, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in process (a subprocess costs seconds of imports) with only `env` configured."""
    for name in [k for k in os.environ if k.startswith("TIERFLOW_") or k == "DATABASE_URL"]:
        monkeypatch.delenv(name)
    for name, value in _env(tmp, **env).items():
        if (name.startswith("TIERFLOW_") or name == "DATABASE_URL") and value:  # "": left unset
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args))
    finally:
        get_settings.cache_clear()
        # `serve` configured JSON logs onto the runner's (now closed) stderr: another test's server
        # thread logging through that handler would print "--- Logging error ---" into the next run.
        logger = logging.getLogger("tierflow")
        for handler in [h for h in logger.handlers if isinstance(h.formatter, JsonFormatter)]:
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr[-2000:]
    # JSON log lines are the process's logs (another test's live server may log while a command runs
    # in this process), not the command's answer.
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("{")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def devnet() -> Iterator[Devnet]:
    with Devnet() as node:
        yield node


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["serve"], {"DATABASE_URL": "no-such-scheme://x"}, ["DATABASE_URL"]),
        (["serve"], {"DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:9/x"}, ["database", "DATABASE_URL"]),
        (["serve"], {"TIERFLOW_API_PORT": "eighty"}, ["TIERFLOW_API_PORT"]),
        (["serve"], {"TIERFLOW_ENVIRONMENT": "production"}, ["TIERFLOW_OPERATOR_KEY", "development"]),
        (["index", "--once"], {}, ["127.0.0.1:9", "TIERFLOW_RPC_URL"]),
        (["reconcile"], {"TIERFLOW_RPC_URL": "ftp://node"}, ["TIERFLOW_RPC_URL"]),
        (["deploy"], {}, ["TIERFLOW_RPC_URL"]),
        # governance options are checked before the node is asked anything (its URL here is dead)
        (["deploy", "--threshold", "4"], {}, ["--threshold 4", "3 governors", "M <= N"]),
        (["deploy", "--threshold", "0"], {}, ["--threshold 0", "between 1"]),
        (["deploy", "--delay", "2d", "--window", "1d"], {}, ["--window (86400 s)", "longer than --delay"]),
        (["deploy", "--delay", "soon"], {}, ["--delay 'soon'", "90s, 30m, 48h, 7d"]),
        (
            ["deploy", "--governor", "0x" + "1" * 40, "--governor", "0x" + "1" * 40, "--threshold", "1"],
            {},
            ["distinct"],
        ),
        (["deploy", "--guardian", "0x1234"], {}, ["not an address: 0x1234"]),
    ],
)
def test_cli_answers_bad_settings_with_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], words: list[str]
) -> None:
    _one_line_error(_invoke(tmp_path, monkeypatch, *args, **env), *words)


def test_cli_wrong_chain_id_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, devnet: Devnet
) -> None:
    for command in (["index", "--once"], ["reconcile"]):
        result = _invoke(tmp_path, monkeypatch, *command, TIERFLOW_RPC_URL=devnet.url, TIERFLOW_CHAIN_ID="1")
        _one_line_error(result, "chain id 31337", "TIERFLOW_CHAIN_ID")


def test_deploy_records_the_governance_it_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, devnet: Devnet
) -> None:
    """Three governors of which all three must approve, a 2-hour delay, a 3-day window, the guardian and
    the controller named: the council and timelock deployed with them, and deployments/<id>.json says so."""
    governors = [dev_account(i).address for i in (0, 7, 9)]
    guardian, controller = dev_account(15).address, dev_account(9).address
    args = [a for g in governors for a in ("--governor", g)]
    result = _invoke(
        tmp_path, monkeypatch, "deploy", *args, "--threshold", "3", "--delay", "2h", "--window", "3d",
        "--guardian", guardian, "--controller", controller, TIERFLOW_RPC_URL=devnet.url,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    recorded = load_deployment(tmp_path / "deployments", devnet.chain_id)
    assert recorded is not None and recorded.governance is not None
    assert recorded.governance.model_dump() == {
        "governors": governors, "threshold": 3, "delay": 7200, "window": 3 * 86_400,
        "guardian": guardian, "controller": controller,
    }  # fmt: skip
    w3 = Web3(Web3.HTTPProvider(devnet.url))
    council = recorded.contract(w3, "GovernanceCouncil").functions
    assert (council.threshold().call(), council.governorCount().call(), council.window().call()) == (
        3,
        3,
        259_200,
    )
    min_delay = w3.eth.call({"to": Web3.to_checksum_address(recorded.timelock), "data": "0xf27a0c92"})
    assert int.from_bytes(min_delay, "big") == 7200  # the timelock's getMinDelay()
    registry = recorded.contract(w3, "ParticipantRegistry").functions
    assert registry.canControl(controller, False).call() is True
    assert "3 of 3 governors" in result.stdout


def test_devnet_taken_port_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, devnet: Devnet
) -> None:
    _one_line_error(
        _invoke(tmp_path, monkeypatch, "devnet", "--port", str(devnet.port)), str(devnet.port), "taken"
    )


def test_up_refuses_a_taken_api_port_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    devnet_port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        api_port = taken.getsockname()[1]
        started = time.monotonic()
        result = _invoke(
            tmp_path, monkeypatch, "up", TIERFLOW_ENVIRONMENT="development",
            TIERFLOW_API_PORT=str(api_port), TIERFLOW_DEVNET_PORT=str(devnet_port),
        )  # fmt: skip
    _one_line_error(result, f"port {api_port}", "TIERFLOW_API_PORT")
    assert time.monotonic() - started < 15
    assert not (tmp_path / "deployments").exists(), "deployed although the API could never start"
    assert _anvil_pids(devnet_port) == []


def test_serve_taken_port_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, devnet: Devnet
) -> None:
    result = _invoke(tmp_path, monkeypatch, "serve", "--port", str(devnet.port))
    _one_line_error(result, f"port {devnet.port}", "--port")


def test_up_needs_development_chosen_explicitly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _one_line_error(_invoke(tmp_path, monkeypatch, "up"), "TIERFLOW_ENVIRONMENT=development")
    # Nothing set: production, which refuses the public anvil keys.
    result = _invoke(tmp_path, monkeypatch, "serve", TIERFLOW_ENVIRONMENT="")
    _one_line_error(result, "TIERFLOW_OPERATOR_KEY")


def _anvil_pids(port: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(b"anvil") for arg in argv[:1]) and str(port).encode() in argv:
            pids.append(int(entry.name))
    return pids


def _start_up(tmp: Path, api_port: int, devnet_port: int) -> subprocess.Popen[str]:
    env = _env(
        tmp, TIERFLOW_ENVIRONMENT="development",
        TIERFLOW_API_PORT=str(api_port), TIERFLOW_DEVNET_PORT=str(devnet_port),
    )  # fmt: skip
    return subprocess.Popen(
        [*TIERFLOW, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait_healthy(process: subprocess.Popen[str], url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0][-3000:]
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise AssertionError(f"not healthy in {timeout}s: {process.communicate()[0][-3000:]}")


def _head(port: int) -> int:
    request = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    return int(httpx.post(f"http://127.0.0.1:{port}", json=request).json()["result"], 16)


def _up_then_sigterm(tmp: Path, api_port: int, devnet_port: int, timeout: float) -> tuple[str, int, int]:
    """Start `tierflow up`, wait until healthy, SIGTERM it; its output, the chain head and anvil's pid."""
    process = _start_up(tmp, api_port, devnet_port)
    try:
        _wait_healthy(process, f"http://127.0.0.1:{api_port}", timeout)
        [anvil] = _anvil_pids(devnet_port)
        head = _head(devnet_port)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output[-3000:]
    assert "stopped; chain state kept" in output
    assert _anvil_pids(devnet_port) == [], "anvil outlived `tierflow up`"
    assert not Path(f"/proc/{anvil}").exists()
    return output, head, anvil


def test_up_sigterm_stops_api_indexer_and_chain_and_the_next_start_resumes(tmp_path: Path) -> None:
    api_port, devnet_port = free_port(), free_port()
    first, head, _ = _up_then_sigterm(tmp_path, api_port, devnet_port, 120)
    assert "deployed" in first.lower() or "Tierflow on chain" in first
    assert (tmp_path / "var" / "devnet" / "anvil-state.json").stat().st_size > 0
    # The next start finds its ports free and its chain where it was (the deployment is still live).
    _, resumed, _ = _up_then_sigterm(tmp_path, api_port, devnet_port, 60)
    assert resumed >= head
