"""Fixtures of the dashboard's browser tests: chromium, the live platform (chain + indexer + API + pages)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from dashkit import Live, Site

from tierflow.platform.db import make_engine
from tierflow.testing import harness, synthetic
from tierflow.testing.chain import Platform


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not harness.chromium_available():
        pytest.skip("chromium is not installed: `make test` installs it (apt-get install chromium)")
    with harness.chromium() as browser:
        yield browser


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from tierflow.platform.main import create_app
    from tierflow.testing.service import service_context

    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'live.db'}"
    platform = Platform.start()
    server = None
    try:
        ctx, keys = service_context(platform, url, master_key="dashboard-test-key")
        server = harness.ServerThread(create_app(ctx, run_indexer=True)).start()
        assert ctx.link.wait_for(platform.w3.eth.block_number, 60), "the indexer did not catch up"
        with httpx.Client(base_url=server.url, timeout=60) as http:
            live = Live(platform=platform, ctx=ctx, server=server, keys=keys, http=http)
            # Money and credit for the scenarios: bank1 is the settlement bank.
            for who in ("bank1", "bank2", "core1", "core2"):
                live.api("bank1", "/v1/settlement/mint", {"to": live.address(who), "amount": 10**13})
            yield live
    finally:
        if server is not None:
            server.stop()
        platform.stop()


@pytest.fixture(scope="session")
def line_core1(live: Live) -> int:
    body = live.api(
        "bank1",
        "/v1/financier/credit-lines",
        {"obligor": live.address("core1"), "limit": 10**12, "expiry": live.today(300)},
    )
    return int(body["result"]["line_id"])


@pytest.fixture(scope="session")
def synthetic_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from fastapi import FastAPI

    from tierflow.platform.dashboard.mount import mount_dashboard

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('synthetic') / 'book.db'}")
    synthetic.create_tables(engine)
    seeded = synthetic.seed_book(engine, synthetic.seed_people(engine), requests=120, positions=400)
    synthetic.seed_tree(engine, seeded, slot_id=seeded.counts["payables"] + 1, tokens=600)
    app = FastAPI()
    mount_dashboard(app, engine=lambda: engine, master_key="synthetic")
    server = harness.ServerThread(app).start()
    try:
        yield Site(server, seeded)
    finally:
        server.stop()
        engine.dispose()
