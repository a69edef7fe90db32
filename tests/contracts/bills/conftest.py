"""Fixtures of the bill tests (helpers live in billkit.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from billkit import BillKit

from tierflow.testing.chain import Platform


@pytest.fixture
def kit(tf: Platform) -> BillKit:
    return BillKit(tf)


@pytest.fixture
def paused(tf: Platform) -> Iterator[None]:
    tf.transact(tf.c.registry.functions.pause(), "operator")
    yield
