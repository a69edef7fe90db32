"""Fixtures of the dashboard's browser tests: chromium, the live platform (chain + indexer + API + pages)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tierflow.chain.accounts import dev_account
from tierflow.chain.testing import Platform
from tierflow.platform.dashboard import harness, synthetic
from tierflow.platform.db import make_engine

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot under tests/artifacts/, rewritten on every run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not harness.chromium_available():
        pytest.skip("chromium is not installed: `make test` installs it (apt-get install chromium)")
    with harness.chromium() as browser:
        yield browser


def sign_in(browser: Any, base_url: str, api_key: str, *, locale: str = "en-GB") -> Any:
    """A fresh browser context (its own cookies) signed in with `api_key` through the sign-in form."""
    context = browser.new_context(base_url=base_url, locale=locale, viewport={"width": 1360, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []  # console errors and warnings (a CSP violation, a 404 asset, a script error)
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.console_errors = errors
    page.goto("/dashboard/sign-in")
    page.get_by_label("API key", exact=True).fill(api_key)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state("domcontentloaded")
    return page


# -- the live platform -----------------------------------------------------------------------


@dataclass
class Live:
    """chain + indexer + API + dashboard behind one URL, the demo participants' keys and an API client."""

    platform: Platform
    ctx: Any
    server: harness.ServerThread
    keys: dict[str, str]
    http: httpx.Client
    _seq: list[int] = field(default_factory=lambda: [0])

    @property
    def url(self) -> str:
        return self.server.url

    def address(self, who: str) -> str:
        return self.platform.address(who)

    def api(self, who: str, path: str, json: Any = None, **kwargs: Any) -> dict[str, Any]:
        response = self.http.post(path, json=json, headers={"X-API-Key": self.keys[who]}, **kwargs)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def today(self, days: int = 0) -> str:
        day = dt.datetime.fromtimestamp(self.platform.now(), dt.UTC).date() + dt.timedelta(days=days)
        return day.isoformat()

    def unique(self) -> str:
        self._seq[0] += 1
        return f"INV-{time.time_ns()}-{self._seq[0]}"

    def issue(self, core: str, supplier: str, face: int, line_id: int, days: int = 60) -> tuple[int, int]:
        """An accepted certificate, set up through the API (the flows under test use the pages)."""
        response = self.http.post(
            "/v1/core/documents",
            headers={"X-API-Key": self.keys[core]},
            files={"file": ("invoice.pdf", b"%PDF invoice", "application/pdf")},
            data={"seller": self.address(supplier), "kind": "invoice", "invoice_number": self.unique()},
        )
        assert response.status_code == 200, response.text
        body = self.api(
            core,
            "/v1/core/certificates",
            {
                "supplier": self.address(supplier),
                "face": face,
                "maturity": self.today(days),
                "line_id": line_id,
                "document_ids": [response.json()["document_id"]],
            },
        )
        slot, token = int(body["result"]["slot_id"]), int(body["result"]["token_id"])
        self.api(supplier, f"/v1/supplier/payables/{slot}/accept")
        return slot, token


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from tierflow.platform.api.app import create_app
    from tierflow.platform.migrate import upgrade
    from tierflow.platform.services.context import IndexerLink, ServiceContext
    from tierflow.platform.services.relayer import ChainGateway
    from tierflow.platform.services.seed import seed_demo_directory
    from tierflow.settings import Settings

    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'live.db'}"
    platform = Platform.start()
    server = None
    try:
        engine = make_engine(url)
        upgrade(engine)
        settings = Settings(
            environment="test",
            master_key="dashboard-test-key",
            database_url=url,
            chain_id=platform.w3.eth.chain_id,
        )
        ctx = ServiceContext(settings=settings, engine=engine, link=IndexerLink(engine))
        ctx.set_gateway(ChainGateway(platform.w3, platform.deployment, dev_account(0)))
        keys = seed_demo_directory(ctx)
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


# -- synthetic read models (no chain): big books and trees -----------------------------------


@dataclass
class Site:
    server: harness.ServerThread
    seeded: synthetic.Seeded

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def synthetic_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from fastapi import FastAPI

    from tierflow.platform.dashboard.routes import mount_dashboard

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
