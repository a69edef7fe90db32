"""Helpers of the indexer tests: synthetic events, applying them like a window, table dumps."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from tierflow.chain.abi import Event
from tierflow.platform.indexer.handlers import HANDLERS
from tierflow.platform.indexer.store import Store
from tierflow.platform.models import READ_MODELS, Checkpoint, RawEvent

# -- synthetic events ---------------------------------------------------------------------------------

ADDRESSES = {name: "0x" + f"{i:02x}" * 20 for i, name in enumerate(
    ["zero", "operator", "core1", "core2", "supplier1", "supplier2", "supplier3", "bank1", "bank2", "auditor"]
)}  # fmt: skip
ZERO = "0x0000000000000000000000000000000000000000"


def h32(n: int) -> str:
    return "0x" + f"{n:064x}"


class EventFactory:
    """Builds Events with consecutive log indexes inside a block."""

    def __init__(self) -> None:
        self.block = 1
        self.log_index = 0

    def next_block(self) -> None:
        self.block += 1
        self.log_index = 0

    def __call__(self, key: str, **args: Any) -> Event:
        contract, name = key.split(":")
        event = Event(
            contract=contract,
            event=name,
            args=args,
            block_number=self.block,
            block_hash=h32(self.block),
            log_index=self.log_index,
            tx_hash=h32(10**6 + self.block * 1000 + self.log_index),
            tx_index=0,
            address=ZERO,
            block_time=1_800_000_000 + self.block,
        )
        self.log_index += 1
        return event


def apply(engine: Engine, events: Iterable[Event], journal: bool = True, store: Store | None = None) -> Store:
    """Run the handlers of `events` in one transaction, like one indexer window."""
    store = store or Store()
    with engine.begin() as conn:
        store.begin(conn)
        for event in events:
            if event.block_number != store.block_number:
                store.begin_block(event.block_number, journal)
            HANDLERS[event.key](event, store)
            APPLIED_KEYS.add(event.key)
        store.flush()
    return store


APPLIED_KEYS: set[str] = set()


def row(engine: Engine, model: Any, *key: Any) -> dict[str, Any] | None:
    table = model.__table__
    condition = [column == value for column, value in zip(table.primary_key.columns, key, strict=True)]
    with engine.connect() as conn:
        found = conn.execute(select(table).where(*condition)).mappings().first()
    return None if found is None else dict(found)


def rows(engine: Engine, model: Any) -> list[dict[str, Any]]:
    table = model.__table__
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()]


def dump(engine: Engine, raw: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Every read model (and raw events and checkpoint position), ordered: equal dumps, equal databases."""
    models = [*READ_MODELS, RawEvent] if raw else list(READ_MODELS)
    result = {model.__tablename__: rows(engine, model) for model in models}
    if raw:
        result["indexer_checkpoint"] = [
            {"block_number": r["block_number"], "block_hash": r["block_hash"]}
            for r in rows(engine, Checkpoint)
        ]
    return result
