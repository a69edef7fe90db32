"""Indexer bookkeeping tables: immutable raw events, the checkpoint, seen block hashes, the undo journal."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index
from sqlmodel import SQLModel

from tierflow.platform.models._fields import addr, big, hash32, json_field, text


class RawEvent(SQLModel, table=True):
    """Every log of a Tierflow contract, decoded; never updated, deleted only when its block is orphaned."""

    __tablename__ = "raw_event"
    __table_args__ = (Index("ix_raw_event_order", "block_number", "log_index"),)

    block_hash: str = hash32(primary_key=True)
    log_index: int = big(primary_key=True)
    block_number: int = big()
    block_time: int | None = big(nullable=True)
    tx_hash: str = hash32(index=True)
    tx_index: int = big()
    contract: str = text(64)
    address: str = addr()
    event: str = text(64)
    # Decoded arguments: ints as JSON numbers (exact in Python), bytes as 0x-hex, addresses checksummed.
    args: dict[str, Any] = json_field()


class Checkpoint(SQLModel, table=True):
    """The last block whose events are fully in the database; one row, written with those events."""

    __tablename__ = "indexer_checkpoint"

    id: int = big(primary_key=True, default=1)
    chain_id: int = big()
    block_number: int = big()
    block_hash: str = hash32()
    # Every block above this one has complete undo records (None: none has), see indexer.store.
    journal_floor: int | None = big(nullable=True)
    # Changes whenever the indexer changes rows (a window with events, a rollback, a rebuild), never on
    # a window of empty blocks: response caches and the dashboard's poller key by it, so that a chain
    # producing a block a second does not make every cached read cold. See indexer.runner.next_version.
    data_version: int = big(default=0)


class SlotVersion(SQLModel, table=True):
    """The data version of the last indexer window that changed a payable's tree (its payable,
    certificates, their movements or financing requests), written in that window's transaction.

    A lineage tree cached by (its slot's version, slot 0's version) stays valid while other payables
    change: keyed by the checkpoint's data_version, every change anywhere rebuilt every tree (~100-190 ms
    of CPU at 10,000 tokens). Slot 0 is no payable: participant changes (a financier role moves tiers of
    every tree), rollbacks and rebuilds write it, so that no key of a tree ever comes back after them.
    A missing row means "unknown": readers fall back to the checkpoint's data_version.
    """

    __tablename__ = "slot_version"

    slot_id: int = big(primary_key=True)
    version: int = big()


class IndexedBlock(SQLModel, table=True):
    """Hashes of indexed blocks (window ends and blocks with events): where to look for a fork point."""

    __tablename__ = "indexed_block"

    number: int = big(primary_key=True)
    hash: str = hash32()


class UndoEntry(SQLModel, table=True):
    """The state of a read-model row before block `block_number` changed it; replayed backwards on a reorg."""

    __tablename__ = "undo_entry"

    block_number: int = big(primary_key=True)
    seq: int = big(primary_key=True)
    table_name: str = text(64)
    key: list[Any] = json_field()
    before: dict[str, Any] = json_field()


class IndexerLease(SQLModel, table=True):
    """Which indexer may write this database (one row): see tierflow.platform.indexer.lease."""

    __tablename__ = "indexer_lease"

    id: int = big(primary_key=True, default=1)
    holder: str = text(128)  # host:pid:random
    acquired_at: int = big()  # [unix s]
    renewed_at: int = big()  # [unix s]
    expires_at: int = big()  # [unix s]
