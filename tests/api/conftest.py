"""Fixtures of the API tests: anvil + contracts + in-process indexer + app, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apikit import Api, start_api


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from start_api(request.param, tmp_path_factory.mktemp(f"api-{request.param}"))


@pytest.fixture(scope="session")
def funded(api: Api) -> Api:
    """Settlement token for the banks and core enterprises (minted by bank1, the settlement bank)."""
    for who in ("bank1", "bank2", "core1", "core2", "supplier1", "supplier2"):
        api.ok("bank1", "/v1/settlement/mint", {"to": api.address(who), "amount": 10**13})
    return api
