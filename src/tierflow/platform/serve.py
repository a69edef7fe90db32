"""`tierflow serve`, and the API + indexer half of `tierflow up`."""

from __future__ import annotations

import gc
import os
from typing import Any

import typer
import uvicorn
from rich.console import Console
from sqlalchemy.engine import Engine

from tierflow.chain.devnet import port_free
from tierflow.chain.gateway import ChainGateway
from tierflow.errors import ConfigurationError
from tierflow.lifecycle import sigterm_as_interrupt
from tierflow.platform import logs
from tierflow.platform.db import get_engine
from tierflow.platform.main import create_app, make_context
from tierflow.platform.migrate import upgrade
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.instances import single_instance
from tierflow.settings import Settings, get_settings

console = Console(stderr=True)


def _run(ctx: ServiceContext, host: str, port: int, with_indexer: bool, log_level: str) -> None:
    # create_app mounts the dashboard (with the context's master key): mounting it a second time
    # here duplicated every dashboard route, which each unmatched request then walked twice.
    app = create_app(ctx, run_indexer=with_indexer)
    freeze_startup_heap()
    # uvicorn handles SIGINT/SIGTERM: it stops accepting, finishes requests, runs the lifespan's
    # shutdown (which stops the indexer thread) and returns.
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, log_level=log_level.lower()
    )
    sigterm_as_interrupt()  # else uvicorn's re-raised SIGTERM kills the process after its drain
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        # uvicorn re-raises the Ctrl-C it captured once its graceful shutdown (lifespan included) is
        # done, so the default handler can run; here that is simply the normal way to stop.
        pass


WORKER_LOG_LEVEL = "TIERFLOW_WORKER_LOG_LEVEL"


def worker_app() -> Any:
    """The app of one `serve --workers N` process (uvicorn imports this factory in every worker).

    Each worker builds its own engine and context from the settings (connections and the chain
    gateway must not cross a fork). No indexer thread: with several workers the indexer is its own
    process (`tierflow index`), and writes wait for it by polling the checkpoint row.
    """
    logs.configure(os.environ.get(WORKER_LOG_LEVEL, "INFO"))
    app = create_app(make_context(get_settings(), get_engine()), run_indexer=False)
    freeze_startup_heap()
    return app


def freeze_startup_heap() -> None:
    """Keep what startup built (modules, ABIs, mappers, the app) out of the garbage collector's scans.

    Those objects live as long as the process, yet every full collection walked them all: ~190 ms each,
    one in a few hundred writes under load (a tenth of the server's CPU at 128 concurrent writes). Only
    for a serving process: frozen objects are never collected, which a test process creating many apps
    must not do.
    """
    gc.collect()
    gc.freeze()


def _run_workers(host: str, port: int, workers: int, log_level: str) -> None:
    os.environ[WORKER_LOG_LEVEL] = log_level  # the workers are spawned: they read it at import
    uvicorn.run(
        "tierflow.platform.serve:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        log_level=log_level.lower(),
    )


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
    workers: int = typer.Option(
        1, min=1, help="API worker processes; more than one needs --without-indexer and `tierflow index`"
    ),
) -> None:
    """Serve the financing API (OpenAPI at /docs) on the configured chain and database."""
    if workers > 1 and with_indexer:
        raise typer.BadParameter(
            "several workers cannot each run the indexer: add --without-indexer and run `tierflow index`",
            param_hint="--workers",
        )
    logs.configure(log_level)
    settings = get_settings()
    host, port = host or settings.api_host, port or settings.api_port
    if not port_free(host, port):  # before migrating anything; uvicorn would say only "[Errno 98]"
        raise ConfigurationError(
            f"port {port} on {host} is taken: stop what runs there, or use --port / TIERFLOW_API_PORT"
        )
    engine = get_engine()
    if workers > 1 and engine.dialect.name == "sqlite":
        raise typer.BadParameter(
            "SQLite serves one API instance only: point DATABASE_URL at PostgreSQL to run several workers",
            param_hint="--workers",
        )
    upgrade(engine)
    alone = single_instance(engine, settings.instance_lease_seconds)  # refuses a second on SQLite
    try:
        _serve_context(settings, engine, host, port, with_indexer, demo_keys, log_level, workers)
    finally:
        if alone is not None:
            alone.close()


def _serve_context(
    settings: Settings,
    engine: Engine,
    host: str,
    port: int,
    with_indexer: bool,
    demo_keys: bool,
    log_level: str,
    workers: int,
) -> None:
    ctx = make_context(settings, engine)
    if demo_keys:
        from tierflow.platform.services.seed import seed_demo_directory

        seed_demo_directory(ctx)
    elif not ctx.chain_ready():
        console.print("[yellow]warning:[/] the chain is not reachable yet; writes answer 503 until it is")
    if workers > 1:
        ctx.close_leases()  # the relayers checking the chain took are the workers' to lease
        engine.dispose()  # the workers open their own connections
        _run_workers(host, port, workers, log_level)
    else:
        _run(ctx, host, port, with_indexer, log_level)


def serve_platform(w3: Any, deployment: Any, operator: Any) -> None:
    """`tierflow up`: the indexer in a thread and the API in this thread, until Ctrl-C."""
    settings = get_settings()
    engine = get_engine()
    upgrade(engine)
    alone = single_instance(engine, settings.instance_lease_seconds)  # refuses a second on SQLite
    try:
        _up(settings, engine, w3, deployment, operator)
    finally:
        if alone is not None:
            alone.close()


def _up(settings: Settings, engine: Engine, w3: Any, deployment: Any, operator: Any) -> None:
    ctx = make_context(settings, engine)
    ctx.set_gateway(ChainGateway(w3, deployment, operator, ctx.relayers))
    keys = {}
    if settings.environment != "production":
        from tierflow.platform.services.seed import seed_demo_directory

        keys = seed_demo_directory(ctx)
    url = f"http://{settings.api_host}:{settings.api_port}"
    console.print(f"[green]API[/] {url}  (docs {url}/docs, health {url}/health, metrics {url}/metrics)")
    for name, key in keys.items():
        console.print(f"  X-API-Key for {name:10} {key}")
    _run(ctx, settings.api_host, settings.api_port, True, "INFO")
