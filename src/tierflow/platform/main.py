"""The application: `create_app` wires the API, the dashboard and the in-process indexer over one context."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from tierflow.platform.api.app import DESCRIPTION, OPENAPI_TAGS, mount_api
from tierflow.platform.dashboard.mount import mount_dashboard
from tierflow.platform.indexer.metrics import IndexerMetrics
from tierflow.platform.services.batch_sweep import BatchSweeper
from tierflow.platform.services.context import IndexerLink, ServiceContext
from tierflow.platform.services.periodic import Periodic
from tierflow.settings import Settings, get_settings

# Worker threads for sync routes and pages (anyio's default is 40): enough for 128 writes in flight at
# once from one participant's pipeline, with room for reads beside them.
REQUEST_THREADS = 256

log = logging.getLogger("tierflow.api")


class IndexerThread:
    """Runs the indexer beside the API, woken by writes so that read-your-writes costs milliseconds."""

    def __init__(self, ctx: ServiceContext, poll_interval: float = 0.25) -> None:
        self.ctx = ctx
        self.poll_interval = poll_interval
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.metrics = IndexerMetrics()
        self.error: str | None = None
        self.lease_retry = 1.0  # [s] between attempts to take the lease another indexer holds

    def start(self) -> IndexerThread:
        from tierflow.platform.indexer.lease import IndexerLeaseHeld
        from tierflow.platform.indexer.runner import Indexer

        gateway = self.ctx.gateway()
        # Its own engine (pool): API requests waiting for the indexer must never starve it of connections.
        self.engine = indexer_engine(self.ctx.engine.url.render_as_string(hide_password=False))
        indexer = Indexer.for_deployment(
            self.engine, gateway.w3, gateway.deployment, metrics=self.metrics,
            confirmations=self.ctx.settings.confirmations,
        )  # fmt: skip
        link = self.ctx.link
        link.in_process = True

        def run() -> None:
            while not self.stop_event.is_set():
                try:
                    result = indexer.step()
                    self.error = None
                except Exception as error:  # keep serving; /health reports it
                    self.error = f"{type(error).__name__}: {error}"
                    log.warning(
                        "indexer step failed: %s", self.error, extra={"fields": {"error": self.error}}
                    )
                    # Another indexer writes this database: try again now and then (it may stop).
                    held = isinstance(error, IndexerLeaseHeld)
                    self.stop_event.wait(self.lease_retry if held else 0.05)
                    continue
                if result.kind == "reorg":
                    checkpoint = indexer.checkpoint()
                    link.rolled_back(-1 if checkpoint is None else checkpoint.block_number)
                elif result.kind in ("indexed", "idle"):
                    checkpoint = indexer.checkpoint()
                    if checkpoint is not None:
                        link.indexed(checkpoint.block_number)
                if result.kind == "idle":
                    if link.wake.wait(self.poll_interval):
                        # Woken by a write: give concurrent writes a moment to land so that one
                        # window indexes all their blocks (fewer steps, each write waits less).
                        time.sleep(0.003)
                    link.wake.clear()
            try:
                indexer.release()  # a clean stop: another indexer may take over at once
            except Exception as error:  # it expires by itself anyway
                log.warning("indexer lease release failed", extra={"fields": {"error": str(error)}})

        self.thread = threading.Thread(target=run, name="tierflow-indexer", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.ctx.link.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
        if getattr(self, "engine", None) is not None:
            self.engine.dispose()


class AuditAnchorer(Periodic):
    """Anchors each ended day's audit-trail head on chain (issue 14), checked every `interval` seconds,
    beside the indexer: one process per deployment runs it, and a day already anchored is skipped."""

    name = "tierflow-audit-anchor"
    failed = "audit anchoring failed"

    def __init__(self, ctx: ServiceContext, interval: float) -> None:
        super().__init__(interval)
        self.ctx = ctx
        self.anchored: list[tuple[int, str]] = []  # (day, transaction hash) anchored by this process

    def run_once(self, now: int | None = None) -> list[tuple[int, str]]:
        from tierflow.platform.services import audit_trail

        gateway = self.ctx.gateway()
        done = audit_trail.anchor_ended_days(self.ctx.engine, gateway, gateway.operator, now)
        self.anchored.extend(done)
        for day, tx_hash in done:
            log.info("audit trail anchored", extra={"fields": {"day": day, "tx_hash": tx_hash}})
        return done


def indexer_engine(url: str) -> Engine:
    """An engine of its own for the in-process indexer (write lock first on SQLite: see make_engine)."""
    from tierflow.platform.db import make_engine

    return make_engine(url, immediate=True)


def make_context(settings: Settings | None = None, engine: Engine | None = None) -> ServiceContext:
    from tierflow.platform.db import get_engine

    settings = settings or get_settings()
    if engine is None:
        engine = get_engine(settings.sqlalchemy_url)
    return ServiceContext(settings=settings, engine=engine, link=IndexerLink(engine))


def create_app(
    ctx: ServiceContext | None = None, *, run_indexer: bool = False, extra_routers: list[Any] | None = None
) -> FastAPI:
    """The API over `ctx` (default: from settings). `run_indexer` runs the indexer in a thread."""
    context = ctx or make_context()
    indexer: IndexerThread | None = None
    anchorer: AuditAnchorer | None = None
    sweeper: BatchSweeper | None = None

    running = 0  # lifespans entered: tools that wrap the app in a fresh client per call nest them

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal indexer, anchorer, sweeper, running
        running += 1
        # Sync routes run in anyio's worker threads, 40 by default: a write waits there for its block,
        # so 128 concurrent writes would queue behind 40 (a participant's pipeline then fills blocks
        # by a third). The threads mostly wait on the node; the limit only bounds memory.
        to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        if run_indexer and indexer is None:
            indexer = IndexerThread(context).start()
            app.state.indexer = indexer
            # The process that indexes also anchors the audit trail: one per deployment (the lease).
            every = context.settings.audit_anchor_interval_seconds
            if every > 0:
                anchorer = AuditAnchorer(context, every).start()
                app.state.audit_anchorer = anchorer
        # Every instance settles what a stopped run left unanswered: at start, and when it outlives one.
        sweep_every = context.settings.batch_sweep_interval_seconds
        if sweep_every > 0 and sweeper is None:
            sweeper = BatchSweeper(context, sweep_every).start()
            app.state.batch_sweeper = sweeper
        try:
            yield
        finally:
            running -= 1
            if running == 0 and sweeper is not None:
                sweeper.stop()
                sweeper = None
                app.state.batch_sweeper = None
            if running == 0 and anchorer is not None:
                anchorer.stop()
                anchorer = None
                app.state.audit_anchorer = None
            if running == 0 and indexer is not None:
                indexer.stop()
                indexer = None
                app.state.indexer = None
            if running == 0:
                context.close_leases()

    app = FastAPI(
        title="Tierflow financing API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=OPENAPI_TAGS,
        docs_url=None,  # api.docs serves Swagger UI from npm assets; FastAPI's pages load a CDN
        redoc_url=None,
    )
    app.state.context = context
    app.state.indexer = None
    app.state.audit_anchorer = None
    app.state.batch_sweeper = None
    mount_api(app, context, extra_routers)
    mount_dashboard(app)  # the web pages under /dashboard (tierflow.platform.dashboard)
    return app
