"""The property-based scenarios of the contracts (tests/contracts/test_invariants.py) and of the bills
(tests/contracts/bills/test_bills_invariants.py), indexed: after every random step the read models equal chain
state (`reconcile` finds no difference)."""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import invariant, run_state_machine_as_test
from sqlalchemy.engine import Engine

from tierflow.platform.indexer.reconcile import reconcile
from tierflow.platform.indexer.runner import Indexer
from tierflow.testing.chain import Platform

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contracts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contracts" / "bills"))
from test_bills_invariants import BillsMachine, CountingKit  # noqa: E402
from test_invariants import LeanChain, TierflowMachine  # noqa: E402

pytestmark = pytest.mark.slow


class IndexedMachine(TierflowMachine):
    """TierflowMachine with the indexer following it into a fresh database per example."""

    databases: ClassVar[list[Callable[[], Engine]]] = []  # a list: a plain function would become a method
    steps_checked: ClassVar[int] = 0

    def __init__(self) -> None:
        # the database first: TierflowMachine.__init__ changes the chain, and only teardown reverts it
        self.engine = self.databases[0]()
        self.indexer = Indexer.for_deployment(
            self.engine, self.platform.w3, self.platform.deployment, initial_window=3
        )
        super().__init__()

    @invariant()
    def read_models_equal_chain(self) -> None:
        self.indexer.catch_up()
        report = reconcile(self.engine, self.tf.w3, self.tf.deployment)
        assert report.differences == []
        IndexedMachine.steps_checked += 1

    def teardown(self) -> None:
        super().teardown()
        self.engine.dispose()


def test_foundation_scenario_read_models_equal_chain_after_every_step(
    platform_session: Platform, fresh_engine: Callable[[], Engine], database_url: str
) -> None:
    IndexedMachine.platform = platform_session
    IndexedMachine.chain = LeanChain(platform_session)
    IndexedMachine.total_steps = 0
    IndexedMachine.outcomes = {}
    IndexedMachine.databases = [fresh_engine]
    IndexedMachine.steps_checked = 0
    base = platform_session.snapshot()
    try:
        run_state_machine_as_test(
            IndexedMachine,
            settings=settings(
                max_examples=3 if database_url.startswith("sqlite") else 1,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
            ),
        )
    finally:
        platform_session.revert_to(base)
    assert IndexedMachine.steps_checked >= 25


class IndexedBillsMachine(BillsMachine):
    """BillsMachine with the indexer following it into a fresh database per example."""

    databases: ClassVar[list[Callable[[], Engine]]] = []
    steps_checked: ClassVar[int] = 0
    outcomes: ClassVar[Counter[str]] = Counter()  # its own: the upgrade step runs once in this run too
    seconds: ClassVar[defaultdict[str, float]] = defaultdict(float)

    def __init__(self) -> None:
        self.engine = self.databases[0]()
        tf = self.kit.tf
        self.indexer = Indexer.for_deployment(self.engine, tf.w3, tf.deployment, initial_window=3)
        super().__init__()

    @invariant()
    def read_models_equal_chain(self) -> None:
        self.indexer.catch_up()
        report = reconcile(self.engine, self.tf.w3, self.tf.deployment)
        assert report.differences == []
        IndexedBillsMachine.steps_checked += 1

    def teardown(self) -> None:
        super().teardown()
        self.engine.dispose()


def test_bills_scenario_read_models_equal_chain_after_every_step(
    tf: Platform, fresh_engine: Callable[[], Engine], database_url: str
) -> None:
    bankx = tf.extra_account(0)
    kit = CountingKit(tf)  # counts what it mints: the machine checks that money is conserved
    kit.tx(kit.registry.functions.register(bankx.address, 4, b"\x01" * 32), "operator")
    tf.accounts["bankx"] = bankx
    IndexedBillsMachine.kit = kit
    IndexedBillsMachine.databases = [fresh_engine]
    IndexedBillsMachine.steps_checked = 0
    IndexedBillsMachine.outcomes.clear()
    try:
        run_state_machine_as_test(
            IndexedBillsMachine,
            settings=settings(
                max_examples=2 if database_url.startswith("sqlite") else 1,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
            ),
        )
    finally:
        del tf.accounts["bankx"]
    assert IndexedBillsMachine.steps_checked >= 25
    print(f"\nissue-15 rules: {dict(sorted(IndexedBillsMachine.outcomes.items()))}")
