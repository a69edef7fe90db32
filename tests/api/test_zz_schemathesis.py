"""Schemathesis over the OpenAPI schema: generated requests for every operation never get a 500.

Generated operator calls (pause, parameters, suspensions, key revocations) change the chain and the
directory, so this test runs on a platform of its own rather than the session's shared one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from apikit import Api, start_api
from hypothesis import HealthCheck, given, settings

EXAMPLES = int(os.environ.get("TIERFLOW_SCHEMATHESIS_EXAMPLES", "6"))

# The caller whose key reaches the code behind each prefix (a wrong role would stop at the guard).
CALLERS = [
    ("/v1/operator", "operator"),
    ("/v1/financier", "bank1"),
    ("/v1/settlement/mint", "bank1"),
    ("/v1/core", "core1"),
    ("/v1/supplier", "supplier1"),
    ("/v1/audit", "auditor"),
    ("/v1/payables", "core1"),
    ("/v1", "supplier1"),
]


# Generated addresses are random, so every write stopped at "not a registered participant" before the
# code that encodes the transaction (where a pre-1970 date became a 500). Known parties reach it.
ADDRESS_OF = {
    "obligor": "core1",
    "acceptor": "core1",
    "supplier": "supplier1",
    "payee": "supplier1",
    "to": "supplier2",
    "financier": "bank1",
    "pledgee": "bank1",
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def isolated_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from start_api(request.param, tmp_path_factory.mktemp(f"schemathesis-{request.param}"))


def test_no_server_errors(isolated_api: Api) -> None:
    api = isolated_api
    # An existing credit line, so that generated adjustments reach the chain (not only 404).
    ids = {"line_id": api.credit_line("bank1", "core1")}
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        who = next((name for prefix, name in CALLERS if operation.path.startswith(prefix)), "supplier1")

        run = _runner(api, operation, who, failures, ids)
        run()
    assert operations >= 50
    assert not failures, "\n".join(failures[:20])


def _runner(api: Api, operation: Any, who: str, failures: list[str], ids: dict[str, int]) -> Any:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: schemathesis.Case) -> None:
        case.headers = {**(case.headers or {}), "X-API-Key": api.keys[who]}
        if isinstance(case.body, dict):
            for field, party in ADDRESS_OF.items():
                if isinstance(case.body.get(field), str):
                    case.body[field] = api.address(party)
        for name, value in ids.items():
            if case.path_parameters and name in case.path_parameters:
                case.path_parameters[name] = value
        response = case.call()
        if response.status_code >= 500 and not (response.status_code == 503 and case.path == "/health"):
            failures.append(
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
                f" (body {case.body!r:.300})"
            )
        elif response.status_code >= 400:
            error = response.json()["error"]
            assert error["code"] and error["message"], response.text

    return run
