"""Fixtures of the core-contract tests (helpers live in certkit.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from certkit import Kit

from tierflow.testing.chain import Platform


@pytest.fixture
def kit(tf: Platform) -> Kit:
    return Kit(tf)


@pytest.fixture
def paused(tf: Platform) -> Iterator[None]:
    tf.transact(tf.c.registry.functions.pause(), "operator")
    yield
