"""Fixtures of the API tests: anvil + contracts + in-process indexer + app, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from apikit import Api, start_api


@pytest.fixture(scope="session")
def running_apis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Api]]:
    """The running API of a backend, started on first use and kept until the session ends.

    `api` switches between its two backends; pytest tears a parametrized session fixture down at
    each switch. A serial run switches once, but an xdist worker runs whole files (each file: SQLite
    tests, then PostgreSQL ones) and restarted both platforms for every file: 52 set-ups of 4-8 s
    in one run, where the serial run had 11.
    """
    started: dict[str, tuple[Api, Iterator[Api]]] = {}

    def running(backend: str) -> Api:
        if backend not in started:
            run = start_api(backend, tmp_path_factory.mktemp(f"api-{backend}"))
            started[backend] = (next(run), run)
        return started[backend][0]

    try:
        yield running
    finally:
        for _, run in started.values():
            try:
                next(run, None)  # leaves start_api's `with` blocks: the app, the chain, the cluster stop
            except Exception as error:  # the other backend still stops
                print(f"stopping an API platform: {error!r}")


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest, running_apis: Callable[[str], Api]) -> Api:
    return running_apis(request.param)


@pytest.fixture(scope="session")
def funded_backends() -> set[str]:
    return set()


@pytest.fixture(scope="session")
def funded(api: Api, funded_backends: set[str]) -> Api:
    """Settlement token for the banks and core enterprises (minted by bank1, the settlement bank),
    once per running API however often `api` switches backends."""
    if api.backend not in funded_backends:
        for who in ("bank1", "bank2", "core1", "core2", "supplier1", "supplier2"):
            api.ok("bank1", "/v1/settlement/mint", {"to": api.address(who), "amount": 10**13})
        funded_backends.add(api.backend)
    return api
