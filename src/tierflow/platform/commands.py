"""Platform commands of the `tierflow` CLI (index, reconcile, serve); each area adds its own."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the platform's commands to the top-level CLI."""
    from tierflow.platform.indexer import cli as indexer_cli

    app.command("index")(indexer_cli.index)
    app.command("reconcile")(indexer_cli.reconcile)

    from tierflow.platform import serve as api_cli

    app.command("serve")(api_cli.serve)

    from tierflow.platform.audit_cli import audit_app

    app.add_typer(audit_app, name="audit")
