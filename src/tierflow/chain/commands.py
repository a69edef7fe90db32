"""Chain commands of the `tierflow` CLI: devnet, deploy, compile."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import typer
from eth_account import Account
from rich.console import Console
from rich.table import Table

from tierflow.chain.accounts import DEMO_GOVERNOR_INDICES, dev_account
from tierflow.chain.compile import compile_all
from tierflow.chain.deploy import Deployment, GovernanceConfig, deploy_all, load_deployment, upgrade_all
from tierflow.chain.devnet import Devnet
from tierflow.chain.layout import check_layouts, record_release
from tierflow.chain.node import FeePolicy, connect
from tierflow.errors import ConfigurationError
from tierflow.settings import get_settings

console = Console()


def register(app: typer.Typer) -> None:
    app.command("compile")(compile_command)
    app.command("devnet")(devnet_command)
    app.command("deploy")(deploy_command)
    app.command("storage-check")(storage_check_command)


def compile_command(force: bool = typer.Option(False, help="ignore the artifact cache")) -> None:
    """Compile contracts/ with the pinned solc (cached by content hash)."""
    artifacts = compile_all(use_cache=not force)
    deployable = sorted(a.name for a in artifacts.values() if len(a.bytecode) > 2)
    console.print(f"[green]compiled[/] {len(deployable)} contracts: {', '.join(deployable)}")


def storage_check_command(
    record: str | None = typer.Option(None, help="record the current build as the reference of this release"),
) -> None:
    """Check the upgradeable contracts' storage layout against the releases in deploy/releases/."""
    if record:
        console.print(f"recorded the current build-info in {record_release(record)}")
        return
    result = check_layouts()
    console.print(result.report)
    if not result.ok:
        raise typer.Exit(1)


def devnet_command(
    port: int = typer.Option(8545, help="JSON-RPC port on 127.0.0.1"),
    state_dir: Path | None = typer.Option(None, help="keep chain state in this directory across restarts"),
    block_time: float | None = typer.Option(None, help="seconds per block (default: mine on every tx)"),
) -> None:
    """Run a local anvil until Ctrl-C."""
    devnet = Devnet(port=port, state_dir=state_dir, block_time=block_time)
    with devnet:
        console.print(
            f"[green]anvil[/] listening on {devnet.url} (chain id {devnet.chain_id}); Ctrl-C stops it"
        )
        wait_for_interrupt()
    console.print("anvil stopped")


def deploy_command(
    rpc_url: str | None = typer.Option(None, help="JSON-RPC endpoint (default TIERFLOW_RPC_URL)"),
    chain_id: int | None = typer.Option(None, help="refuse to deploy unless the node reports this chain id"),
    force: bool = typer.Option(False, help="deploy anew even if deployments/<chain_id>.json is live"),
    upgrade: bool = typer.Option(
        False,
        help="upgrade the recorded deployment in place through governance (propose, approve, wait, execute)",
    ),
    governor_key: list[str] = typer.Option(
        [],
        help="a governor's private key, once per approving governor (devnet: the demo governors)",
    ),
    governor: list[str] = typer.Option(
        [], help="a governor's address, once per governor (default: the operator and the two demo banks)"
    ),
    threshold: int = typer.Option(2, help="approvals a proposal needs (M of the N governors)"),
    delay: str = typer.Option("60s", help="the timelock's delay after the last approval: 90s, 30m, 48h, 2d"),
    window: str = typer.Option("7d", help="a proposal's life, longer than the delay: 7d, 336h"),
    guardian: str | None = typer.Option(
        None, help="may pause the platform at once, nothing else (default: demo)"
    ),
    controller: str | None = typer.Option(
        None, help="places and lifts judicial holds at once (default: the operator)"
    ),
) -> None:
    """Deploy and wire every contract; write deployments/<chain_id>.json (idempotent).

    Governance (a new deployment only): the governors, M, the delay, the window, the guardian and the
    controller; defaults are the demo's (docs/contracts.md, "Who can do what")."""
    settings = get_settings()
    if settings.environment == "production" and not upgrade and not (governor and guardian):
        raise ConfigurationError(
            "a production deployment names its governors (--governor, once each) and its guardian "
            "(--guardian): the demo's keys are public"
        )
    demo = GovernanceConfig.demo()
    governance = GovernanceConfig(
        governors=governor or demo.governors,
        threshold=threshold,
        delay=parse_duration(delay, "--delay"),
        window=parse_duration(window, "--window"),
        guardian=guardian or demo.guardian,
        controller=controller or demo.controller,
    ).check()  # refused before the node is asked anything
    # Errors become one line on stderr (tierflow.clierrors), like every command's.
    w3 = connect(rpc_url or settings.rpc_url, chain_id or settings.chain_id, poa=settings.poa)
    operator = Account.from_key(settings.operator_key)
    if upgrade:
        existing = load_deployment(settings.deployments_dir, w3.eth.chain_id)
        if existing is None:
            raise ConfigurationError(f"no deployment recorded for chain {w3.eth.chain_id}: deploy first")
        governors = [Account.from_key(key) for key in governor_key]
        if not governors and settings.environment != "production":
            governors = [dev_account(index) for index in DEMO_GOVERNOR_INDICES]
        deployment = upgrade_all(
            w3,
            existing,
            governors,
            deployments_dir=settings.deployments_dir,
            progress=console.log,
            fees=FeePolicy.from_settings(settings),
        )
        print_deployment(deployment, settings.deployments_dir)
        return
    deployment = deploy_all(
        w3,
        operator,
        deployments_dir=settings.deployments_dir,
        force=force,
        progress=console.log,
        fees=FeePolicy.from_settings(settings),
        governance=governance,
    )
    if deployment.governance is not None and deployment.governance != governance:
        console.print(
            "[yellow]the live deployment keeps the governance it was deployed with[/]: change it by "
            "proposals to the council, or deploy anew with --force"
        )
    print_deployment(deployment, settings.deployments_dir)


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_duration(text: str, option: str) -> int:
    """Seconds of "90", "90s", "30m", "48h" or "7d"; ConfigurationError naming `option` otherwise."""
    raw = text.strip().lower()
    unit = DURATION_UNITS.get(raw[-1:], 0) if raw else 0
    number = raw[:-1] if unit else raw
    if not number.isdigit():
        raise ConfigurationError(
            f"{option} {text!r} is not a duration: write whole seconds, minutes, hours or days "
            "(90s, 30m, 48h, 7d)"
        )
    return int(number) * (unit or 1)


def print_deployment(deployment: Deployment, deployments_dir: Path) -> None:
    table = Table(title=f"Tierflow on chain {deployment.chain_id} (from block {deployment.deploy_block})")
    table.add_column("contract")
    table.add_column("address")
    table.add_column("implementation")
    table.add_column("version")
    for name, record in deployment.contracts.items():
        table.add_row(name, record.address, record.implementation, record.version)
    console.print(table)
    if deployment.governance is not None:
        g = deployment.governance
        console.print(
            f"governance: {g.threshold} of {len(g.governors)} governors ({', '.join(g.governors)}), "
            f"delay {g.delay} s, window {g.window} s, guardian {g.guardian}, controller {g.controller}"
        )
    console.print(f"recorded in {deployment.path(deployments_dir)}")


def wait_for_interrupt() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
