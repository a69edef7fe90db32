"""Typed JSON errors: 422, 404, 409 and 503 with stable codes; no 500; failures change nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from apikit import Api
from fastapi.testclient import TestClient
from sqlalchemy import text

from tierflow.platform.db import make_engine
from tierflow.platform.main import create_app
from tierflow.platform.services.context import IndexerLink, ServiceContext
from tierflow.settings import Settings


def test_validation_errors_are_422_with_a_location(api: Api) -> None:
    response = api.post("supplier1", "/v1/certificates/1/transfer", {"to": "0x123", "value": -5})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["request_id"]
    assert {tuple(d["loc"]) for d in error["details"]} >= {("body", "to"), ("body", "value")}
    response = api.post(
        "supplier1", "/v1/certificates/0/transfer", {"to": api.address("supplier2"), "value": 1}
    )
    assert response.status_code == 422
    response = api.client.post(
        "/v1/certificates/1/transfer", headers=api.headers("supplier1"), content=b"{not json"
    )
    assert response.status_code == 422


def test_unknown_objects_are_404(api: Api) -> None:
    cases = [
        ("supplier1", "/v1/certificates/999999"),
        ("supplier1", "/v1/payables/999999"),
        ("bank1", "/v1/financier/requests/999999"),
        ("core1", "/v1/documents/" + "0" * 32),
        ("operator", "/v1/operator/participants/0x0000000000000000000000000000000000000001"),
        ("operator", "/v1/nothing-here"),
    ]
    for who, path in cases:
        response = api.get(who, path)
        assert response.status_code == 404, f"{path}: {response.text}"
        assert response.json()["error"]["code"].endswith("not_found")
    response = api.post(
        "supplier1", "/v1/certificates/999999/transfer", {"to": api.address("supplier2"), "value": 1}
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "certificate_not_found"


def test_failed_write_leaves_chain_and_database_unchanged(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    _, token = api.issue("core1", "supplier1", 10_000, line)
    block = api.platform.w3.eth.block_number
    before = api.get("supplier1", "/v1/supplier/holdings").json()
    response = api.post(
        "supplier1", f"/v1/certificates/{token}/transfer", {"to": api.address("supplier2"), "value": 20_000}
    )
    assert response.status_code == 409
    assert response.json()["error"]["message"].startswith("CertificateInsufficientValue: token")
    assert api.platform.w3.eth.block_number == block  # nothing was sent
    assert api.get("supplier1", "/v1/supplier/holdings").json() == before


def test_request_ids_and_health_and_metrics(api: Api) -> None:
    response = api.client.get("/v1/me", headers={**api.headers("supplier1"), "X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    health = api.client.get("/health")
    assert health.status_code == 200, health.text
    body = health.json()
    assert body["status"] == "ok" and body["chain"]["ok"] and body["database"]["ok"]
    assert body["indexer"]["lag_blocks"] is not None and body["indexer"]["in_process"]
    metrics = api.client.get("/metrics")
    assert metrics.status_code == 200
    assert 'tierflow_http_requests_total{method="GET",route="/v1/me",status="200"}' in metrics.text
    assert "tierflow_indexer_indexed_block" in metrics.text


@pytest.fixture
def broken(tmp_path_factory: pytest.TempPathFactory, api: Api) -> Iterator[TestClient]:
    """An API whose chain node is gone and whose database is unreachable."""
    settings = Settings(
        environment="test", rpc_url="http://127.0.0.1:9", master_key="test-master-key",
        database_url="postgresql+psycopg://nobody@127.0.0.1:9/none",
    )  # fmt: skip
    engine = make_engine(settings.sqlalchemy_url, connect_args={"connect_timeout": 1})
    ctx = ServiceContext(settings=settings, engine=engine, link=IndexerLink(engine))
    with TestClient(create_app(ctx), raise_server_exceptions=False) as client:
        yield client


def test_unavailable_chain_or_database_is_503(broken: TestClient, api: Api) -> None:
    response = broken.get("/v1/me", headers=api.headers("supplier1"))
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_unavailable"
    health = broken.get("/health")
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    assert health.json()["chain"]["ok"] is False and health.json()["database"]["ok"] is False


def test_unavailable_chain_with_a_working_database_is_503(api: Api) -> None:
    settings = Settings(environment="test", rpc_url="http://127.0.0.1:9", master_key="test-master-key")
    ctx = ServiceContext(settings=settings, engine=api.ctx.engine, link=IndexerLink(api.ctx.engine))
    with TestClient(create_app(ctx), raise_server_exceptions=False) as client:
        response = client.post(
            "/v1/certificates/1/transfer",
            headers=api.headers("supplier1"),
            json={"to": api.address("supplier2"), "value": 1},
        )
        assert response.status_code in (403, 404, 503), response.text
        response = client.get("/v1/settlement/balance", headers=api.headers("supplier1"))
        assert response.status_code == 503 and response.json()["error"]["code"] == "chain_unavailable"


def test_health_reports_a_lost_indexer_lease_and_recovers(api: Api) -> None:
    """Another indexer took the lease: the in-process indexer stops writing, /health says who holds it."""
    now = int(time.time())
    with api.ctx.engine.begin() as conn:
        conn.execute(
            text("UPDATE indexer_lease SET holder = :holder, expires_at = :expires"),
            {"holder": "elsewhere:11:aaaa", "expires": now + 60},
        )
    try:
        api.platform.mine()
        api.ctx.link.wake.set()
        deadline, body = time.monotonic() + 15, {}
        while time.monotonic() < deadline:
            body = api.client.get("/health").json()
            if "error" in body["indexer"]:
                break
            time.sleep(0.1)
        assert (
            "IndexerLeaseHeld" in body["indexer"]["error"] and "elsewhere:11:aaaa" in body["indexer"]["error"]
        )
    finally:
        with api.ctx.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE indexer_lease SET expires_at = 0")
    assert api.ctx.link.wait_for(api.platform.w3.eth.block_number, 30), "the indexer did not take over again"
    deadline = time.monotonic() + 10
    while "error" in api.client.get("/health").json()["indexer"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "error" not in api.client.get("/health").json()["indexer"]
