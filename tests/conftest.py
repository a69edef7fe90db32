"""Shared fixtures: one anvil with every contract deployed per session, reverted after each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Settings default to production, which refuses anvil's public keys: every test process (and the CLI
# commands tests run in it or spawn from it) runs on a local devnet, as the test environment.
os.environ.setdefault("TIERFLOW_ENVIRONMENT", "test")

from tierflow.testing.chain import Platform


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` (pyproject's addopts): two workers for the whole suite (`python -m pytest`, `make
    test`, CI), one process when paths are named (a worker's start-up would cost more than it saves).
    `-n 2` splits a named subset anyway; PYTEST_XDIST_AUTO_NUM_WORKERS still decides when set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    if config.args_source is not pytest.Config.ArgsSource.TESTPATHS:
        return 0
    return 2 if (os.cpu_count() or 1) >= 2 else 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (pyproject's addopts: two workers, one test file each at a time), the files
    that hold a `slow` test go first: the workers take files in collection order, and one of them
    (a state machine, the crash test) left for last kept one worker busy alone at the end. A run
    without workers (-n 0, -p no:xdist) keeps the collection order."""
    if not hasattr(config, "workerinput"):
        return
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: files keep their order


@pytest.fixture(scope="session")
def platform_session() -> Iterator[Platform]:
    platform = Platform.start()
    try:
        yield platform
    finally:
        platform.stop()


@pytest.fixture
def tf(platform_session: Platform) -> Iterator[Platform]:
    """The deployed platform; every change a test makes is rolled back after it."""
    snapshot = platform_session.snapshot()
    try:
        yield platform_session
    finally:
        platform_session.revert_to(snapshot)
