"""The indexer's data version: moved by a window with events, a rollback, a rebuild; never by empty blocks.
A tree's version (slot_version): moved only by a window that changes that tree."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine
from test_reorg import _issue

from tierflow.platform.indexer.runner import Indexer
from tierflow.platform.models import Certificate, Checkpoint, SlotVersion
from tierflow.testing.chain import Platform

CHECKPOINT = Checkpoint.__table__  # type: ignore[attr-defined]
SLOT_VERSION = SlotVersion.__table__  # type: ignore[attr-defined]
CERT = Certificate.__table__  # type: ignore[attr-defined]


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


def _slot_versions(engine: Engine) -> dict[int, int]:
    with engine.connect() as conn:
        return {
            int(s): int(v) for s, v in conn.execute(select(SLOT_VERSION.c.slot_id, SLOT_VERSION.c.version))
        }


def _slot_of(engine: Engine, token: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(CERT.c.slot_id).where(CERT.c.token_id == token)).scalar_one())


def test_slot_version_moves_only_for_the_trees_a_window_changes(tf: Platform, engine: Engine) -> None:
    """A payable's tree version (models.SlotVersion) is the data version of the last window that changed
    that tree: a transfer in another payable leaves it; a participant's roles, a reorg and a rebuild move
    slot 0, which every tree's cache key carries."""
    indexer = Indexer.for_deployment(engine, tf.w3, tf.deployment)
    first, second = _issue(tf, 10**20), _issue(tf, 10**20)
    indexer.catch_up()
    slot_a, slot_b = _slot_of(engine, first), _slot_of(engine, second)
    _, version = _state(engine)
    before = _slot_versions(engine)
    assert before[slot_a] == before[slot_b] == version and 0 in before

    tf.transact(tf.c.receivables.functions.transferValue(second, tf.address("supplier2"), 7), "supplier1")
    indexer.catch_up()
    _, moved = _state(engine)
    after = _slot_versions(engine)
    assert moved > version and after == {**before, slot_b: moved}

    tf.transact(tf.c.registry.functions.setRoles(tf.address("supplier4"), 2 | 4), "operator")
    indexer.catch_up()
    _, roles = _state(engine)
    assert _slot_versions(engine) == {**after, 0: roles}

    fork = tf.snapshot()
    tf.transact(tf.c.receivables.functions.transferValue(first, tf.address("supplier3"), 5), "supplier1")
    indexer.catch_up()
    _, transferred = _state(engine)
    assert _slot_versions(engine)[slot_a] == transferred
    tf.revert_to(fork)
    tf.mine(1)
    indexer.catch_up()
    _, after_reorg = _state(engine)
    assert indexer.metrics.reorgs_total == 1
    assert _slot_versions(engine)[0] == after_reorg not in (roles, transferred)

    indexer.rebuild()
    _, after_rebuild = _state(engine)
    assert _slot_versions(engine)[0] == after_rebuild > after_reorg
