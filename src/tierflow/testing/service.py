"""A service context on a migrated database, wired to a test Platform's chain (API and page tests)."""

from __future__ import annotations

from tierflow.chain.accounts import dev_account
from tierflow.chain.gateway import ChainGateway
from tierflow.platform.db import make_engine
from tierflow.platform.migrate import upgrade
from tierflow.platform.services.context import IndexerLink, ServiceContext
from tierflow.platform.services.seed import seed_demo_directory
from tierflow.settings import Settings
from tierflow.testing.chain import Platform


def service_context(
    platform: Platform, database_url: str, master_key: str
) -> tuple[ServiceContext, dict[str, str]]:
    """Migrate `database_url`, wire a ServiceContext to the platform's chain, put the demo participants in
    the directory; return the context and the demo participants' API keys by name."""
    engine = make_engine(database_url)
    upgrade(engine)
    settings = Settings(
        environment="test",
        master_key=master_key,
        database_url=database_url,
        chain_id=platform.w3.eth.chain_id,
        # Every test client is one network address ("testclient") for hundreds of tests, some of which
        # refuse bad keys on purpose; the per-address limit has its own tests (tests/api/test_throttle.py).
        auth_failures_per_address=0,
        # A test that plays a crash sweeps when it means to (tests/api/test_batch_sweep.py), not a thread
        # of its app a minute later in another test's middle.
        batch_sweep_interval_seconds=0,
    )
    ctx = ServiceContext(settings=settings, engine=engine, link=IndexerLink(engine))
    ctx.set_gateway(ChainGateway(platform.w3, platform.deployment, dev_account(0), ctx.relayers))
    return ctx, seed_demo_directory(ctx)
