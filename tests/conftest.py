"""Shared fixtures: one anvil with every contract deployed per session, reverted after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
