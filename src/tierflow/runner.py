"""`tierflow up`: the whole platform on embedded defaults (local anvil, contracts, demo participants)."""

from __future__ import annotations

import time

import typer
from rich.console import Console

from tierflow.chain.accounts import dev_account
from tierflow.chain.commands import print_deployment
from tierflow.chain.demo import register_demo_participants
from tierflow.chain.deploy import deploy_all
from tierflow.chain.devnet import Devnet, rpc_ready
from tierflow.chain.node import TxSender, connect
from tierflow.settings import get_settings

console = Console()


def up_command(
    fresh: bool = typer.Option(False, help="discard the devnet state kept under var/devnet"),
) -> None:
    """Start a local chain, deploy, register demo participants and run until Ctrl-C."""
    settings = get_settings()
    state_dir = settings.data_dir / "devnet"
    if fresh and state_dir.exists():
        for path in state_dir.iterdir():
            path.unlink()
    devnet = Devnet(port=settings.devnet_port, state_dir=state_dir, log_file=settings.data_dir / "anvil.log")
    if rpc_ready(devnet.url):
        console.print(
            f"[red]error:[/] port {devnet.port} is taken; stop what runs there or set TIERFLOW_DEVNET_PORT"
        )
        raise typer.Exit(2)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with devnet:
        w3 = connect(devnet.url, expected_chain_id=devnet.chain_id)
        operator = dev_account(0)
        deployment = deploy_all(w3, operator, deployments_dir=settings.deployments_dir, progress=console.log)
        sender = TxSender(w3, deployment.decoder())
        register_demo_participants(w3, deployment, sender, operator, progress=console.log)
        print_deployment(deployment, settings.deployments_dir)
        console.print(
            f"[green]healthy[/] chain {w3.eth.chain_id} at {devnet.url}, block {w3.eth.block_number}, "
            f"{len(deployment.contracts)} contracts, up in {time.monotonic() - started:.1f}s; Ctrl-C stops"
        )
        # The indexer (in a thread) and the API (in this thread) until Ctrl-C; then the devnet stops.
        from tierflow.platform.serve import serve_platform

        serve_platform(w3, deployment, operator)
    console.print("stopped; chain state kept in", state_dir)
