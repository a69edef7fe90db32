"""The indexer's data version: moved by a window with events, a rollback, a rebuild; never by empty blocks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine

from tierflow.platform.indexer.runner import Indexer
from tierflow.platform.models import Checkpoint
from tierflow.testing.chain import Platform

CHECKPOINT = Checkpoint.__table__  # type: ignore[attr-defined]


def _state(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        row = conn.execute(select(CHECKPOINT.c.block_number, CHECKPOINT.c.data_version)).one()
    return int(row[0]), int(row[1])


def test_data_version_moves_only_when_rows_change(tf: Platform, engine: Engine) -> None:
    indexer = Indexer.for_deployment(engine, tf.w3, tf.deployment, max_window=1)
    indexer.catch_up()
    block, version = _state(engine)
    assert version > 0

    tf.mine(3)  # empty blocks, indexed one window each
    indexer.catch_up()
    assert _state(engine) == (block + 3, version)

    fork = tf.snapshot()
    tf.transact(tf.c.token.functions.mint(tf.address("supplier1"), 5), "bank1")
    indexer.catch_up()
    block_with_event, after_event = _state(engine)
    assert block_with_event == block + 4 and after_event > version

    # A reorg replaces the block with an empty one: the rows go back, under a version never used before.
    tf.revert_to(fork)
    tf.mine(1)
    indexer.catch_up()
    assert indexer.metrics.reorgs_total == 1
    _, after_reorg = _state(engine)
    assert after_reorg not in (version, after_event)

    indexer.rebuild()
    _, after_rebuild = _state(engine)
    assert after_rebuild > after_reorg
