"""Reorgs on anvil (snapshot/revert), events on both branches: orphaned rows go, the new branch is indexed."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from ixkit import dump
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tierflow.platform.indexer.reconcile import reconcile
from tierflow.platform.indexer.runner import Indexer
from tierflow.platform.models import Certificate, RawEvent
from tierflow.testing.chain import Platform

DAY = 86_400


def _issue(tf: Platform, face: int) -> int:
    c = tf.c
    receipt = tf.transact(
        c.credit_lines.functions.grant(tf.address("core1"), 10**22, tf.now() + 365 * DAY), "bank1"
    )
    line = tf.events(receipt, c.credit_lines, "CreditLineGranted")[0]["lineId"]
    receipt = tf.transact(
        c.receivables.functions.issue(
            tf.address("supplier1"), face, tf.now() + 90 * DAY, line, [os.urandom(32)]
        ),
        "core1",
    )
    issued = tf.events(receipt, c.receivables, "CertificateIssued")[0]
    tf.transact(c.receivables.functions.accept(issued["slotId"]), "supplier1")
    return int(issued["tokenId"])


def _branch(tf: Platform, token: int, to: str, values: list[int]) -> None:
    for value in values:
        tf.transact(tf.c.receivables.functions.transferValue(token, tf.address(to), value), "supplier1")
    tf.transact(tf.c.token.functions.mint(tf.address(to), sum(values)), "bank1")


@pytest.mark.parametrize(
    ("reorg_window", "longer", "max_window"),
    [(128, True, 5_000), (128, False, 5_000), (2, True, 5_000), (128, True, 1)],
    ids=[
        "undo-journal-longer-branch",
        "undo-journal-shorter-branch",
        "replay-beyond-journal",
        "one-block-windows",
    ],
)
def test_reorg_rolls_back_orphaned_blocks_and_indexes_the_new_branch(
    tf: Platform,
    engine: Engine,
    fresh_engine: Callable[[], Engine],
    reorg_window: int,
    longer: bool,
    max_window: int,
) -> None:
    token = _issue(tf, 10**20 + 1)
    for _ in range(3):  # blocks below the fork, with nothing to undo
        tf.mine()
    fork = tf.snapshot()
    fork_block = tf.w3.eth.block_number
    indexer = Indexer.for_deployment(
        engine, tf.w3, tf.deployment, reorg_window=reorg_window, initial_window=3
    )
    _branch(tf, token, "supplier2", [1, 2, 3, 4])  # branch A
    indexer.catch_up()
    orphaned = tf.w3.eth.get_block(fork_block + 1)["hash"].to_0x_hex()
    tf.revert_to(fork)
    _branch(tf, token, "supplier3", [5, 6, 7, 8, 9] if longer else [5])  # branch B
    indexer.catch_up()
    assert indexer.metrics.reorgs_total == 1
    assert reconcile(engine, tf.w3, tf.deployment).differences == []
    with engine.connect() as conn:
        assert (
            conn.execute(select(RawEvent.block_hash).where(RawEvent.block_hash == orphaned)).first() is None
        )
        holders = {h for (h,) in conn.execute(select(Certificate.holder))}
    assert tf.address("supplier2") not in holders and tf.address("supplier3") in holders
    fresh = fresh_engine()
    Indexer.for_deployment(fresh, tf.w3, tf.deployment).catch_up()
    assert dump(engine) == dump(fresh)


@pytest.mark.parametrize("max_window", [1, 100], ids=["parent-hash-check", "checkpoint-check"])
def test_reorg_at_the_checkpoint_block_itself(tf: Platform, engine: Engine, max_window: int) -> None:
    """The tip is replaced by a block of the same height: same number, other hash."""
    token = _issue(tf, 1000)
    fork = tf.snapshot()
    indexer = Indexer.for_deployment(engine, tf.w3, tf.deployment, max_window=max_window)
    _branch(tf, token, "supplier2", [1])
    indexer.catch_up()
    height = tf.w3.eth.block_number
    tf.revert_to(fork)
    _branch(tf, token, "supplier3", [2])
    assert tf.w3.eth.block_number == height
    indexer.catch_up()
    assert indexer.metrics.reorgs_total == 1
    assert reconcile(engine, tf.w3, tf.deployment).differences == []
