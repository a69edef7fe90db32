"""Shared fixtures: one anvil with every contract deployed per session, reverted after each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Settings default to production, which refuses anvil's public keys: every test process (and the CLI
# commands tests run in it or spawn from it) runs on a local devnet, as the test environment.
os.environ.setdefault("TIERFLOW_ENVIRONMENT", "test")

from tierflow.testing.chain import Platform


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
