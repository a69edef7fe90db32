"""Fixtures of the bill tests (helpers live in billkit.py; `paused` is tests/contracts/conftest.py's)."""

from __future__ import annotations

import pytest
from billkit import BillKit

from tierflow.testing.chain import Platform


@pytest.fixture
def kit(tf: Platform) -> BillKit:
    return BillKit(tf)
