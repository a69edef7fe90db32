"""The app serves 128 concurrent writes without queueing them behind anyio's 40 worker threads."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from tierflow.platform.main import create_app
from tierflow.platform.services.context import IndexerLink, ServiceContext
from tierflow.settings import Settings


def test_request_threads_limit_is_above_128_concurrent_writes() -> None:
    router = APIRouter()

    @router.get("/threads")
    async def threads() -> int:  # the limit of the worker threads that the app's sync routes run in
        return int(to_thread.current_default_thread_limiter().total_tokens)

    settings = Settings(environment="test", rpc_url="http://127.0.0.1:9", master_key="test-master-key")
    engine = create_engine("sqlite://")
    ctx = ServiceContext(settings=settings, engine=engine, link=IndexerLink(engine))
    with TestClient(create_app(ctx, extra_routers=[router])) as client:
        assert client.get("/threads").json() >= 128
