"""`tierflow serve`, and the API + indexer half of `tierflow up`."""

from __future__ import annotations

from typing import Any

import typer
import uvicorn
from rich.console import Console

from tierflow.platform import logs
from tierflow.platform.api.app import create_app, make_context
from tierflow.platform.db import get_engine
from tierflow.platform.migrate import upgrade
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.relayer import ChainGateway
from tierflow.settings import get_settings

console = Console(stderr=True)


def _run(ctx: ServiceContext, host: str, port: int, with_indexer: bool, log_level: str) -> None:
    app = create_app(ctx, run_indexer=with_indexer)
    try:
        from tierflow.platform.dashboard.routes import mount_dashboard
    except ImportError as error:  # the dashboard is optional for the API
        console.print(f"[yellow]warning:[/] dashboard not mounted: {error}")
    else:
        mount_dashboard(app, master_key=ctx.settings.master_key)
    # uvicorn handles SIGINT/SIGTERM: it stops accepting, finishes requests, runs the lifespan's
    # shutdown (which stops the indexer thread) and returns.
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, log_level=log_level.lower()
    )
    uvicorn.Server(config).run()


def serve(
    host: str | None = typer.Option(None, help="bind address (default: TIERFLOW_API_HOST)"),
    port: int | None = typer.Option(None, help="port (default: TIERFLOW_API_PORT)"),
    with_indexer: bool = typer.Option(
        True,
        "--with-indexer/--without-indexer",
        help="run the indexer in this process (else run `tierflow index`)",
    ),
    demo_keys: bool = typer.Option(
        False, help="development: put the demo participants in the directory with their public API keys"
    ),
    log_level: str = typer.Option("INFO", help="DEBUG, INFO, WARNING"),
) -> None:
    """Serve the financing API (OpenAPI at /docs) on the configured chain and database."""
    logs.configure(log_level)
    settings = get_settings()
    engine = get_engine()
    upgrade(engine)
    ctx = make_context(settings, engine)
    if demo_keys:
        from tierflow.platform.services.seed import seed_demo_directory

        seed_demo_directory(ctx)
    elif not ctx.chain_ready():
        console.print("[yellow]warning:[/] the chain is not reachable yet; writes answer 503 until it is")
    _run(ctx, host or settings.api_host, port or settings.api_port, with_indexer, log_level)


def serve_platform(w3: Any, deployment: Any, operator: Any) -> None:
    """`tierflow up`: the indexer in a thread and the API in this thread, until Ctrl-C."""
    settings = get_settings()
    engine = get_engine()
    upgrade(engine)
    ctx = make_context(settings, engine)
    ctx.set_gateway(ChainGateway(w3, deployment, operator))
    keys = {}
    if settings.environment != "production":
        from tierflow.platform.services.seed import seed_demo_directory

        keys = seed_demo_directory(ctx)
    url = f"http://{settings.api_host}:{settings.api_port}"
    console.print(f"[green]API[/] {url}  (docs {url}/docs, health {url}/health, metrics {url}/metrics)")
    for name, key in keys.items():
        console.print(f"  X-API-Key for {name:10} {key}")
    _run(ctx, settings.api_host, settings.api_port, True, "INFO")
