"""Local anvil chain lifecycle: start from node_modules, wait until healthy, stop cleanly."""

from __future__ import annotations

import os
import platform as _platform  # the stdlib module; Tierflow's own package is tierflow.platform
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import httpx

from tierflow.errors import ChainUnavailableError, ConfigurationError
from tierflow.settings import DEV_MNEMONIC, REPO_ROOT

DEV_CHAIN_ID = 31337
# [gas] per block, as the consortium genesis sets it (deploy/besu/genesis.json, docs/consortium.md): a
# participant's pipelined writes go out as one batch transaction per round, and a node packs blocks by
# the transactions' gas limits, so anvil's default 30 M would hold about a hundred batched writes.
DEV_BLOCK_GAS_LIMIT = 100_000_000


def anvil_binary() -> Path:
    """The native anvil shipped by npm `@foundry-rs/anvil` (no node process in between)."""
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(_platform.machine(), "amd64")
    native = REPO_ROOT / "node_modules" / "@foundry-rs" / f"anvil-linux-{arch}" / "bin" / "anvil"
    if native.exists():
        return native
    wrapper = REPO_ROOT / "node_modules" / ".bin" / "anvil"
    if wrapper.exists():
        return wrapper
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise ConfigurationError("anvil not found: run `npm ci` in the repository root (or `make setup`)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(host: str, port: int) -> bool:
    """Whether a server could bind `host:port` now (as uvicorn and anvil will, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def rpc_ready(url: str, timeout: float = 0.5) -> bool:
    try:
        response = httpx.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=timeout
        )
        return response.status_code == 200 and "result" in response.json()
    except (httpx.HTTPError, ValueError):
        return False


class Devnet:
    """One anvil process. Use as a context manager, or call start()/stop()."""

    def __init__(
        self,
        port: int | None = None,
        chain_id: int = DEV_CHAIN_ID,
        state_dir: Path | None = None,
        block_time: float | None = None,
        accounts: int = 20,
        log_file: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        """`extra_args` go to anvil as they are, e.g. ("--base-fee", "0") for a chain without fees."""
        self.port = port or free_port()
        self.chain_id = chain_id
        self.state_dir = state_dir
        self.block_time = block_time
        self.accounts = accounts
        self.log_file = log_file
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen[bytes] | None = None
        self.home: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        command = [
            str(anvil_binary()),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.accounts),
            "--mnemonic", DEV_MNEMONIC,
            "--balance", "1000000",
            "--gas-limit", str(DEV_BLOCK_GAS_LIMIT),
            "--silent",
        ]  # fmt: skip
        if self.block_time:
            command += ["--block-time", str(self.block_time)]
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            # --state loads the file when it exists and dumps to it on exit: state survives restarts.
            command += ["--state", str(self.state_dir / "anvil-state.json")]
        return command + list(self.extra_args)

    def start(self, timeout: float = 30.0) -> Devnet:
        if rpc_ready(self.url) or not port_free("127.0.0.1", self.port):
            raise ConfigurationError(f"port {self.port} is taken (something listens there): choose another")
        output = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        # anvil keeps the states of blocks it no longer holds in memory under ~/.foundry/anvil/tmp and
        # leaves them there when it is stopped (2-7 GB per hour of 1 s blocks): a home of its own, deleted
        # in stop(), keeps a day of test and bench runs from filling the disk
        self.home = Path(tempfile.mkdtemp(prefix="tierflow-anvil-home-"))
        self.process = subprocess.Popen(
            self.command(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "HOME": str(self.home)},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ChainUnavailableError(f"anvil exited with code {self.process.returncode} at start")
            if rpc_ready(self.url):
                return self
            time.sleep(0.05)
        self.stop()
        raise ChainUnavailableError(f"anvil did not answer on {self.url} within {timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            if self.state_dir is not None:
                self._stop_mining()
            # SIGINT lets anvil dump --state before it exits.
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    def _stop_mining(self) -> None:
        """Mine nothing more before the state dump. anvil dumps --state on SIGINT while its RPC server
        still mines and answers: a block mined after the dump read the state would be reported to its
        sender and then be missing after the restart, which no real node does with a block it reported
        (it is a reorg; tests/api/test_node_faults.py plays that one on purpose). Transactions arriving
        from now on stay in the pool and are dropped by the restart, as a node's pool is."""
        for method, value in (("evm_setAutomine", False), ("evm_setIntervalMining", 0)):
            try:
                request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": [value]}
                httpx.post(self.url, json=request, timeout=2.0)
            except httpx.HTTPError:
                return  # a node that does not answer mines nothing either

    def __enter__(self) -> Devnet:
        return self.start() if self.process is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
