"""Handlers of SettlementToken events: settlement-token balances."""

from __future__ import annotations

from tierflow.chain.abi import Event
from tierflow.platform.indexer.handlers.registry import handles, history, require
from tierflow.platform.indexer.store import Store
from tierflow.platform.models import ZERO_ADDRESS


def _credit(store: Store, address: str, amount: int) -> None:
    row = store.get("settlement_balance", address)
    if row is None:
        store.create("settlement_balance", {"address": address, "balance": amount})
    else:
        row["balance"] += amount
        row["updated_block"] = store.block_number


@handles("SettlementToken:Transfer")
def settlement_transfer(event: Event, store: Store) -> None:
    a = event.args
    if a["from"] != ZERO_ADDRESS:
        require(store, "settlement_balance", a["from"])["balance"] -= a["value"]
    if a["to"] != ZERO_ADDRESS:
        _credit(store, a["to"], a["value"])
    store.append(
        "settlement_movement", history(event, from_address=a["from"], to_address=a["to"], amount=a["value"])
    )
