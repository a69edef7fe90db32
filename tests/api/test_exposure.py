"""What the service shows anyone who can reach it: terse /health, guarded /metrics, offline /docs, and
settings that refuse development keys unless development is chosen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tierflow.chain.accounts import dev_account
from tierflow.platform.db import make_engine
from tierflow.platform.main import create_app
from tierflow.platform.migrate import upgrade
from tierflow.platform.services.context import IndexerLink, ServiceContext
from tierflow.settings import DEV_MASTER_KEY, Settings


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app on a migrated SQLite database with no chain node behind it."""
    path: Path = tmp_path_factory.mktemp("exposure") / "api.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    settings = Settings(
        environment="test", rpc_url="http://127.0.0.1:9", master_key="test-master-key", metrics_token="s3cret"
    )
    ctx = ServiceContext(settings=settings, engine=engine, link=IndexerLink(engine))
    with TestClient(create_app(ctx), raise_server_exceptions=False) as client:
        yield client
    engine.dispose()


def test_docs_load_only_from_this_host(offline: TestClient) -> None:
    page = offline.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page.text) + re.findall(
        r"""url:\s*['"]([^'"]+)""", page.text
    )
    assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert not re.search(r"https?://", page.text), "the docs page names another host"
    assert '"validatorUrl": null' in page.text  # the validator badge would fetch from swagger.io
    for url in urls:
        asset = offline.get(url)
        assert asset.status_code == 200 and len(asset.content) > 100, url
    assert offline.get("/redoc").status_code == 404  # FastAPI's ReDoc page loads from a CDN
    assert offline.get("/docs/assets/package.json").status_code == 404


def test_health_public_is_terse_without_internal_error_text(offline: TestClient) -> None:
    response = offline.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded"}  # the node at 127.0.0.1:9 is down
    assert offline.get("/openapi.json").json()["paths"]["/health"]


def test_health_details_and_metrics_need_the_operator(offline: TestClient) -> None:
    assert offline.get("/health", headers={"X-API-Key": "tf_x_y"}).status_code == 401
    assert offline.get("/metrics").status_code == 401
    assert offline.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    metrics = offline.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert metrics.status_code == 200 and "tierflow_http_requests_total" in metrics.text


def test_settings_default_to_production_refusing_every_public_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIERFLOW_ENVIRONMENT", raising=False)
    with pytest.raises(ValidationError, match="TIERFLOW_OPERATOR_KEY"):
        Settings()
    safe = {"operator_key": "0x" + "11" * 32, "master_key": "m" * 32}
    assert Settings(**safe).environment == "production"
    with pytest.raises(ValidationError, match="TIERFLOW_MASTER_KEY"):
        Settings(operator_key=safe["operator_key"])
    with pytest.raises(ValidationError, match="TIERFLOW_MASTER_KEY"):
        Settings(operator_key=safe["operator_key"], master_key=DEV_MASTER_KEY)
    for index in (0, 5, 19):  # any of anvil's funded accounts, not only the ones named in settings
        key = "0x" + bytes(dev_account(index).key).hex()
        with pytest.raises(ValidationError, match="TIERFLOW_OPERATOR_KEY"):
            Settings(operator_key=key, master_key=safe["master_key"])
        with pytest.raises(ValidationError, match="TIERFLOW_RELAYER_KEYS"):
            Settings(**safe, relayer_keys=key)
    assert Settings(environment="development").operator_key  # chosen explicitly: dev keys allowed
