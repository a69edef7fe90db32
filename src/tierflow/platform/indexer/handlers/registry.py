"""The handler registry ("Contract:Event" -> handler, rows to prefetch) and the helpers every handler uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tierflow.chain.abi import Event
from tierflow.platform.indexer.store import Row, Store

Handler = Callable[[Event, Store], None]

HANDLERS: dict[str, Handler] = {}

# Rows an event will look up that are usually not cached (a new document, a new account), so that
# the runner can load them for a whole window in one query: key → (table, primary key) pairs.
PREFETCH: dict[str, Callable[[Event], list[tuple[str, tuple[Any, ...]]]]] = {
    "DocumentRegistry:DocumentRegistered": lambda event: [("document", (event.args["docHash"],))],
    "SettlementToken:Transfer": lambda event: [
        ("settlement_balance", (event.args["from"],)),
        ("settlement_balance", (event.args["to"],)),
    ],
    "ParticipantRegistry:SystemContractSet": lambda event: [("system_contract", (event.args["account"],))],
}


def handles(key: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of `key` ("Contract:Event")."""

    def register(function: Handler) -> Handler:
        if key in HANDLERS:
            raise ValueError(f"two handlers for {key}")
        HANDLERS[key] = function
        return function

    return register


class MissingRowError(LookupError):
    """An event refers to a row that no earlier event created: the events are incomplete or out of order."""


def require(store: Store, table: str, *key: Any) -> Row:
    row = store.get(table, *key)
    if row is None:
        raise MissingRowError(f"{table}{key} does not exist")
    row["updated_block"] = store.block_number
    return row


def history(event: Event, **values: Any) -> Row:
    return {
        "block_number": event.block_number,
        "log_index": event.log_index,
        "tx_hash": event.tx_hash,
        **values,
    }
