"""`tierflow audit verify` and `anchor`: check the trail's hash chain and on-chain anchors; anchor days."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from tierflow.chain.gateway import ChainGateway

audit_app = typer.Typer(no_args_is_help=True, add_completion=False, help="The audit trail")


def _gateway() -> ChainGateway:
    from eth_account import Account

    from tierflow.chain.gateway import ChainGateway
    from tierflow.platform.indexer.cli import _connect
    from tierflow.settings import get_settings

    w3, deployment = _connect()
    return ChainGateway(w3, deployment, Account.from_key(get_settings().operator_key))


@audit_app.command("verify")
def verify(
    database_url: str | None = typer.Option(None, help="SQLAlchemy URL (default: the configured database)"),
    anchors: bool = typer.Option(True, help="also compare each day's head with its anchor on chain"),
) -> None:
    """Check each entry's hash, its link to the one before, and the days anchored on chain; 1 on a break."""
    from tierflow.platform.db import get_engine
    from tierflow.platform.services import audit_trail

    engine = get_engine(database_url)
    checked, breaks = audit_trail.verify(engine)
    out = Console()
    missing: list[int] = []
    if anchors:
        gateway = _gateway()
        anchor_breaks, missing = audit_trail.verify_anchors(engine, audit_trail.chain_anchor(gateway))
        breaks += anchor_breaks
    if missing:
        days = ", ".join(map(str, missing))
        out.print(f"[yellow]days not anchored yet[/yellow]: {days} (run `tierflow audit anchor`)")
    if not breaks:
        seq, head = audit_trail.head(engine)
        out.print(f"[green]audit trail intact[/green]: {checked} entries, head {seq} {head}")
        return
    for problem in breaks:
        out.print(f"[red]entry {problem.seq}[/red]: {problem.problem}")
    out.print(f"[red]audit trail broken[/red]: {len(breaks)} problems in {checked} entries")
    raise typer.Exit(code=1)


@audit_app.command("anchor")
def anchor(
    day: int | None = typer.Option(
        None, help="unix day to anchor (default: every ended day not anchored yet)"
    ),
) -> None:
    """Anchor the trail's head of each ended day on chain (operator); run it once a day, e.g. from cron."""
    from tierflow.platform.db import get_engine
    from tierflow.platform.services import audit_trail

    engine = get_engine()
    gateway = _gateway()
    out = Console()
    if day is None:
        for each, tx_hash in audit_trail.anchor_ended_days(engine, gateway, gateway.operator):
            out.print(f"anchored day {each}: {tx_hash}")
        return
    if audit_trail.chain_anchor(gateway)(day)[0] == 0:
        out.print(f"anchored day {day}: {audit_trail.anchor_day(engine, gateway, gateway.operator, day)}")
