"""Handlers of CreditLines events: credit lines and their movements."""

from __future__ import annotations

from tierflow.chain.abi import Event
from tierflow.platform.indexer.handlers.registry import handles, history, require
from tierflow.platform.indexer.store import Row, Store


def _line_movement(event: Event, store: Store, line: Row, kind: str, amount: int) -> None:
    store.append(
        "credit_line_movement",
        history(
            event, line_id=line["line_id"], kind=kind, amount=amount, used=line["used"], limit=line["limit"]
        ),
    )


@handles("CreditLines:CreditLineGranted")
def credit_line_granted(event: Event, store: Store) -> None:
    a = event.args
    line = store.create(
        "credit_line",
        {
            "line_id": a["lineId"],
            "financier": a["financier"],
            "obligor": a["obligor"],
            "limit": a["limit"],
            "used": 0,
            "available": a["limit"],
            "expiry": a["expiry"],
        },
    )
    _line_movement(event, store, line, "granted", a["limit"])


@handles("CreditLines:CreditLineAdjusted")
def credit_line_adjusted(event: Event, store: Store) -> None:
    a = event.args
    line = require(store, "credit_line", a["lineId"])
    line["limit"] = a["limit"]
    line["expiry"] = a["expiry"]
    line["available"] = a["limit"] - line["used"]
    _line_movement(event, store, line, "adjusted", a["limit"])


def _line_used(event: Event, store: Store, kind: str) -> None:
    a = event.args
    line = require(store, "credit_line", a["lineId"])
    line["used"] = a["used"]
    line["available"] = line["limit"] - a["used"]
    _line_movement(event, store, line, kind, a["amount"])


@handles("CreditLines:CreditLineDrawn")
def credit_line_drawn(event: Event, store: Store) -> None:
    _line_used(event, store, "drawn")


@handles("CreditLines:CreditLineRestored")
def credit_line_restored(event: Event, store: Store) -> None:
    _line_used(event, store, "restored")
