"""`tierflow audit verify`: walk the audit hash chain; exit 1 on any edited, deleted or inserted row."""

from __future__ import annotations

import typer
from rich.console import Console

audit_app = typer.Typer(no_args_is_help=True, add_completion=False, help="The audit trail")


@audit_app.command("verify")
def verify(
    database_url: str | None = typer.Option(None, help="SQLAlchemy URL (default: the configured database)"),
) -> None:
    """Check every entry's hash and its link to the entry before it; exit 1 when the chain is broken."""
    from tierflow.platform.db import get_engine
    from tierflow.platform.services import audit_trail

    engine = get_engine(database_url)
    checked, breaks = audit_trail.verify(engine)
    out = Console()
    if not breaks:
        seq, head = audit_trail.head(engine)
        out.print(f"[green]audit trail intact[/green]: {checked} entries, head {seq} {head}")
        return
    for problem in breaks:
        out.print(f"[red]entry {problem.seq}[/red]: {problem.problem}")
    out.print(f"[red]audit trail broken[/red]: {len(breaks)} problems in {checked} entries")
    raise typer.Exit(code=1)
