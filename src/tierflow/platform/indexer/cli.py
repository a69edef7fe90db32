"""`tierflow index` and `tierflow reconcile`: wiring settings, node, deployment and database together."""

from __future__ import annotations

import signal
import threading
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tierflow.errors import ConfigurationError
from tierflow.platform import logs
from tierflow.platform.db import get_engine, make_engine
from tierflow.platform.indexer.lease import IndexerLeaseHeld
from tierflow.platform.indexer.runner import Indexer, StepResult
from tierflow.platform.migrate import upgrade
from tierflow.settings import get_settings

stderr = Console(stderr=True)


def _connect() -> tuple[Any, Any]:
    from tierflow.chain.deploy import load_deployment
    from tierflow.chain.node import connect

    settings = get_settings()
    w3 = connect(settings.rpc_url, expected_chain_id=settings.chain_id, poa=settings.poa)
    chain_id = w3.eth.chain_id
    deployment = load_deployment(settings.deployments_dir, chain_id)
    if deployment is None:
        raise ConfigurationError(
            f"no deployment for chain {chain_id} in {settings.deployments_dir}: run `tierflow deploy` first"
        )
    return w3, deployment


def index(
    once: bool = typer.Option(False, "--once", help="catch up with the head, then exit"),
    confirmations: int | None = typer.Option(None, help="blocks to stay behind the head (default: settings)"),
    poll_interval: float = typer.Option(0.25, help="seconds between polls once caught up"),
    rebuild: bool = typer.Option(False, help="recompute the read models from stored raw events first"),
    log_level: str = typer.Option("INFO", help="DEBUG, INFO, WARNING"),
    window: int = typer.Option(100, help="blocks in the first eth_getLogs window (it adapts)"),
    max_window: int = typer.Option(5_000, help="largest eth_getLogs window, in blocks"),
    lease_ttl: float = typer.Option(
        30.0, help="seconds another indexer must wait after this one dies before taking over"
    ),
) -> None:
    """Follow the deployed contracts into the database (SQLite by default, DATABASE_URL for PostgreSQL)."""
    logs.configure(log_level)
    settings = get_settings()
    w3, deployment = _connect()
    # Its own engine, write lock first: the API may write the same SQLite file between our read and write.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url, immediate=True)
    upgrade(engine)
    indexer = Indexer.for_deployment(
        engine,
        w3,
        deployment,
        confirmations=settings.confirmations if confirmations is None else confirmations,
        initial_window=window,
        max_window=max_window,
        lease_ttl=lease_ttl,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        indexer.acquire()
        if rebuild:
            indexer.rebuild()
        _backfill(indexer, stop)
        if once or stop.is_set():
            checkpoint = indexer.checkpoint()
            stderr.print(f"indexed up to block {checkpoint.block_number if checkpoint else '-'}")
            indexer.release()
            return
        indexer.follow(poll_interval, stop)
    except IndexerLeaseHeld as error:
        stderr.print(f"[red]error:[/red] {error}")
        raise typer.Exit(code=1) from None


def _backfill(indexer: Indexer, stop: threading.Event) -> None:
    """Catch up with the head, with a progress bar when a terminal is watching."""
    first = indexer.next_block()
    head = indexer.rpc.block_number() - indexer.confirmations
    progress = Progress(
        TextColumn("indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks · {task.fields[events]} events · {task.fields[rate]:.0f} ev/s"),
        TimeRemainingColumn(),
        console=stderr,
        disable=not stderr.is_terminal or head - first < 100,
    )
    with progress:
        task = progress.add_task("backfill", total=max(0, head - first + 1), events=0, rate=0.0)

        def on_step(result: StepResult) -> None:
            progress.update(
                task,
                completed=max(0, result.to_block - first + 1),
                total=max(0, result.head - indexer.confirmations - first + 1),
                events=indexer.metrics.events_total,
                rate=indexer.metrics.events_per_second,
            )

        while not stop.is_set():
            result = indexer.step()
            on_step(result)
            if result.kind == "idle":
                break


def reconcile(
    block: int | None = typer.Option(None, help="compare at this block (default: the indexed checkpoint)"),
    fix_summaries: bool = typer.Option(
        False,
        help="rebuild the summary tables and the certificates' tiers if they differ from their rows "
        "(stop the indexer first)",
    ),
) -> None:
    """Compare the read models with chain state; exit code 1 when anything differs."""
    from tierflow.platform.indexer.reconcile import reconcile as run
    from tierflow.platform.indexer.summary import SUMMARIES

    w3, deployment = _connect()
    engine = get_engine()
    report = run(engine, w3, deployment, block)
    out = Console()
    if fix_summaries and any(d.what in SUMMARIES for d in report.differences):
        written = Indexer.for_deployment(engine, w3, deployment).rebuild_summaries()
        out.print(f"summary tables rebuilt: {written} rows")
        report = run(engine, w3, deployment, block)
    if fix_summaries and any(d.what == "certificate_tier" for d in report.differences):
        written = Indexer.for_deployment(engine, w3, deployment).rebuild_tiers()
        out.print(f"certificate tiers rebuilt: {written} rows")
        report = run(engine, w3, deployment, block)
    checked = ", ".join(f"{count} {what}" for what, count in sorted(report.checked.items()))
    out.print(f"reconciled at block {report.block_number}: {checked}")
    if report.ok:
        out.print("[green]no differences[/green]")
        return
    table = Table("what", "key", "field", "database", "chain", title=f"{len(report.differences)} differences")
    for difference in report.differences:
        table.add_row(
            difference.what, difference.key, difference.field, str(difference.database), str(difference.chain)
        )
    out.print(table)
    raise typer.Exit(code=1)
