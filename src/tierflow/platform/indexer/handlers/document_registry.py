"""Handlers of DocumentRegistry events: invoice documents bound to assets."""

from __future__ import annotations

from tierflow.chain.abi import Event
from tierflow.platform.indexer.handlers.registry import handles, require
from tierflow.platform.indexer.store import Store


@handles("DocumentRegistry:DocumentRegistered")
def document_registered(event: Event, store: Store) -> None:
    a = event.args
    row = store.get("document", a["docHash"])
    if row is None:
        store.create(
            "document",
            {"doc_hash": a["docHash"], "asset": a["asset"], "asset_id": a["assetId"], "status": "bound"},
        )
    else:  # released earlier, now backing another asset
        row.update(asset=a["asset"], asset_id=a["assetId"], status="bound", updated_block=store.block_number)


@handles("DocumentRegistry:DocumentReleased")
def document_released(event: Event, store: Store) -> None:
    require(store, "document", event.args["docHash"])["status"] = "released"
