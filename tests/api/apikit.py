"""Shared helpers of the API tests: the Api client wrapper, a throw-away PostgreSQL, start_api() and
synthetic_api() (the API over synthetic read models, for reads at volume)."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.engine import Engine

from tierflow.platform.db import make_engine
from tierflow.platform.main import create_app, make_context
from tierflow.platform.pgtemp import PgCluster
from tierflow.platform.services.context import ServiceContext
from tierflow.settings import Settings
from tierflow.testing import synthetic
from tierflow.testing.chain import Platform
from tierflow.testing.service import service_context


@dataclass
class Api:
    """A running API over a fresh chain, with the demo participants' keys and request helpers."""

    platform: Platform
    ctx: ServiceContext
    client: TestClient
    keys: dict[str, str]
    backend: str
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def headers(self, who: str | None, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if who is not None:
            headers["X-API-Key"] = self.keys[who]
        return headers

    def get(self, who: str | None, path: str, **params: Any) -> Response:
        return self.client.get(path, headers=self.headers(who), params=params)

    def post(self, who: str | None, path: str, json: Any = None, key: str | None = None) -> Response:
        extra = {"Idempotency-Key": key} if key else {}
        return self.client.post(path, headers=self.headers(who, **extra), json=json)

    def ok(self, who: str | None, path: str, json: Any = None) -> dict[str, Any]:
        response = self.post(who, path, json)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body.get("status") == "executed":
            assert body["indexed"], body
        return body

    def address(self, who: str) -> str:
        return who if who.startswith("0x") else self.platform.address(who)

    def today(self, days: int = 0) -> str:
        now = dt.datetime.fromtimestamp(self.platform.now(), dt.UTC).date()
        return (now + dt.timedelta(days=days)).isoformat()

    def unique(self, prefix: str = "INV") -> str:
        return f"{prefix}-{self.backend}-{time.time_ns()}-{next(self._counter)}"

    def invoice_number(self) -> str:
        """A fresh 20-digit number of a fully digital invoice (全电发票), unique across test runs."""
        return f"{time.time_ns() % 10**16:016d}{next(self._counter) % 10**4:04d}"

    # -- workflow shortcuts -----------------------------------------------------------------------
    def invoice(self, core: str, supplier: str, number: str | None = None) -> str:
        response = self.client.post(
            "/v1/core/documents",
            headers=self.headers(core),
            files={"file": ("invoice.pdf", f"%PDF invoice {number}".encode(), "application/pdf")},
            data={
                "seller": self.address(supplier),
                "kind": "invoice",
                "invoice_number": number or self.invoice_number(),
            },
        )
        assert response.status_code == 200, response.text
        return str(response.json()["document_id"])

    def credit_line(self, bank: str, core: str, limit: int = 10**12) -> int:
        body = self.ok(
            bank,
            "/v1/financier/credit-lines",
            {"obligor": self.address(core), "limit": limit, "expiry": self.today(360)},
        )
        return int(body["result"]["line_id"])

    def onboard(
        self, name: str, role: str = "supplier", *, id_prefix: str = "9132", contact: str | None = None
    ) -> dict[str, Any]:
        """The operator onboards a custodial participant under a fresh legal id: the API's answer (its
        `participant` and `api_key`)."""
        body: dict[str, Any] = {"legal_name": name, "legal_id": self.unique(id_prefix), "roles": [role]}
        if contact is not None:
            body["contact"] = contact
        return self.ok("operator", "/v1/operator/participants", body)

    def issue(
        self, core: str, supplier: str, face: int, line_id: int, days: int = 90, accept: bool = True
    ) -> tuple[int, int]:
        doc = self.invoice(core, supplier)
        body = self.ok(
            core,
            "/v1/core/certificates",
            {
                "supplier": self.address(supplier),
                "face": face,
                "maturity": self.today(days),
                "line_id": line_id,
                "document_ids": [doc],
            },
        )
        slot, token = int(body["result"]["slot_id"]), int(body["result"]["token_id"])
        if accept:
            self.ok(supplier, f"/v1/supplier/payables/{slot}/accept")
        return slot, token


def start_api(backend: str, tmp: Path) -> Iterator[Api]:
    cluster: PgCluster | None = None
    if backend == "postgresql":
        cluster = PgCluster.start()
        url = cluster.create_database()
    else:
        url = f"sqlite:///{tmp / 'api.db'}"
    platform = Platform.start()
    try:
        ctx, keys = service_context(platform, url, master_key="test-master-key")
        engine = ctx.engine
        app = create_app(ctx, run_indexer=True)
        with TestClient(app, raise_server_exceptions=False) as client:
            api = Api(platform=platform, ctx=ctx, client=client, keys=keys, backend=backend)
            assert ctx.link.wait_for(platform.w3.eth.block_number, 60), "the indexer did not catch up"
            yield api
        engine.dispose()
    finally:
        platform.stop()
        if cluster is not None:
            cluster.stop()


@dataclass
class Synthetic:
    """The API over synthetic read models (testing.synthetic), no chain: for reads at volume."""

    engine: Engine
    client: TestClient
    seeded: synthetic.Seeded

    def get(self, who: str, path: str, **params: Any) -> Response:
        return self.client.get(path, params=params, headers={"X-API-Key": self.seeded.tokens[who]})


def synthetic_api(
    backend: str, tmp: Path, fill: Callable[[Engine, synthetic.Seeded], None]
) -> Iterator[Synthetic]:
    """Yields a Synthetic over a fresh SQLite file or throw-away PostgreSQL database filled by `fill`."""
    cluster = PgCluster.start() if backend == "postgresql" else None
    url = cluster.create_database() if cluster else f"sqlite:///{tmp / 'synthetic.db'}"
    engine = make_engine(url)
    try:
        synthetic.create_tables(engine)
        seeded = synthetic.seed_people(engine)
        fill(engine, seeded)
        settings = Settings(environment="test", rpc_url="http://127.0.0.1:9", database_url=url)
        with TestClient(create_app(make_context(settings, engine))) as client:
            yield Synthetic(engine, client, seeded)
    finally:
        engine.dispose()
        if cluster is not None:
            cluster.stop()


def queued_together(queue: Any, count: int, run: Callable[[int], None]) -> None:
    """Run `run(0)` .. `run(count - 1)` in threads that all queue behind a group being written (holding
    `queue`'s writing lock, a group_commit queue) so that they are written as one group."""
    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    with queue.writing:
        for thread in threads:
            thread.start()
        while len(queue.waiting) < count:
            threading.Event().wait(0.01)
    for thread in threads:
        thread.join(timeout=30)
