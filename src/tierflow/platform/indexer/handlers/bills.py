"""Handlers of Bills events: bill packages, sub-ticket ranges, quotes and movements."""

from __future__ import annotations

from typing import Any

from tierflow.chain.abi import Event
from tierflow.platform.indexer.handlers.registry import MissingRowError, handles, history, require
from tierflow.platform.indexer.store import Row, Store


def _bill_move(event: Event, store: Store, kind: str, range_id: int, **values: Any) -> None:
    store.append(
        "bill_movement",
        history(event, package_id=event.args["packageId"], kind=kind, range_id=range_id, **values),
    )


def _new_range(
    store: Store, range_id: int, package_id: int, holder: str, start: int, end: int, **values: Any
) -> Row:
    return store.create(
        "bill_range",
        {
            "range_id": range_id,
            "package_id": package_id,
            "holder": holder,
            "start": start,
            "end": end,
            **values,
        },
    )


def _carve(
    store: Store, source: Row, new_range_id: int, start: int, end: int, remainder_id: int, **new: Any
) -> None:
    """IBills' carving rule: [start, end] leaves `source` for record `new_range_id` (see IBills.sol)."""
    _new_range(store, new_range_id, source["package_id"], start=start, end=end, **new)
    if start == source["start"]:
        if end == source["end"]:
            source["status"] = "Closed"
        else:
            source["start"] = end + 1
    else:
        right = source["end"]
        source["end"] = start - 1
        if end < right:
            _new_range(
                store,
                remainder_id,
                source["package_id"],
                holder=source["holder"],
                start=end + 1,
                end=right,
                status="Held",
                prev=source["prev"],
                depth=source["depth"],
                origin="remainder",
            )


def _package_status(event: Event, store: Store, status: str) -> Row:
    package = require(store, "bill_package", event.args["packageId"])
    package["status"] = status
    return package


@handles("Bills:BillIssued")
def bill_issued(event: Event, store: Store) -> None:
    a = event.args
    store.create(
        "bill_package",
        {
            "package_id": a["packageId"],
            "drawer": a["drawer"],
            "acceptor": a["acceptor"],
            "payee": a["payee"],
            "face": a["face"],
            "maturity": a["maturity"],
            "splittable": a["splittable"],
            "not_transferable": a["notTransferable"],
            "bank_acceptance": a["bankAcceptance"],
            "status": "Issued",
            "invoice_hashes": list(a["invoiceHashes"]),
        },
    )
    # Readable by invoice too: an issue checks whether its invoice awaits a bill's receipt
    # (services.documents). Once per hash: Bills does not refuse a repeated one in a proposal.
    for doc_hash in dict.fromkeys(a["invoiceHashes"]):
        store.create("bill_invoice", {"doc_hash": doc_hash, "package_id": a["packageId"]})


@handles("Bills:BillCancelled")
def bill_cancelled(event: Event, store: Store) -> None:
    _package_status(event, store, "Cancelled")


@handles("Bills:BillAccepted")
def bill_accepted(event: Event, store: Store) -> None:
    _package_status(event, store, "Accepted")


@handles("Bills:BillRejected")
def bill_rejected(event: Event, store: Store) -> None:
    _package_status(event, store, "Rejected")


@handles("Bills:BillReceived")
def bill_received(event: Event, store: Store) -> None:
    a = event.args
    _package_status(event, store, "Received")["root_range_id"] = a["rangeId"]
    _new_range(
        store,
        a["rangeId"],
        a["packageId"],
        a["payee"],
        1,
        a["face"],
        status="Held",
        prev=0,
        depth=0,
        origin="received",
    )


@handles("Bills:BillEndorsed")
def bill_endorsed(event: Event, store: Store) -> None:
    a = event.args
    source = require(store, "bill_range", a["fromRangeId"])
    _carve(
        store,
        source,
        a["newRangeId"],
        a["start"],
        a["end"],
        a["remainderRangeId"],
        holder=a["to"],
        status="Held",
        prev=a["fromRangeId"],
        depth=source["depth"] + 1,
        origin="endorsed",
    )
    _bill_move(
        event,
        store,
        "endorsed",
        a["newRangeId"],
        from_range_id=a["fromRangeId"],
        from_address=a["from"],
        to_address=a["to"],
        start=a["start"],
        end=a["end"],
        amount=a["end"] - a["start"] + 1,
    )


@handles("Bills:BillQuoted")
def bill_quoted(event: Event, store: Store) -> None:
    a = event.args
    store.create(
        "bill_quote",
        {
            "quote_id": a["quoteId"],
            "range_id": a["rangeId"],
            "financier": a["financier"],
            "start": a["start"],
            "end": a["end"],
            "rate_bps": a["rateBps"],
            "expiry": a["expiry"],
            "status": "open",
        },
    )


@handles("Bills:BillQuoteCancelled")
def bill_quote_cancelled(event: Event, store: Store) -> None:
    require(store, "bill_quote", event.args["quoteId"])["status"] = "cancelled"


@handles("Bills:BillDiscounted")
def bill_discounted(event: Event, store: Store) -> None:
    a = event.args
    require(store, "bill_quote", a["quoteId"])["status"] = "accepted"
    source = require(store, "bill_range", a["fromRangeId"])
    _carve(
        store,
        source,
        a["newRangeId"],
        a["start"],
        a["end"],
        a["remainderRangeId"],
        holder=a["financier"],
        status="Held",
        prev=a["fromRangeId"],
        depth=source["depth"] + 1,
        origin="discounted",
    )
    _bill_move(
        event,
        store,
        "rediscounted" if a["rediscount"] else "discounted",
        a["newRangeId"],
        from_range_id=a["fromRangeId"],
        from_address=a["from"],
        to_address=a["financier"],
        start=a["start"],
        end=a["end"],
        amount=a["end"] - a["start"] + 1,
        price=a["price"],
        interest=a["interest"],
    )


@handles("Bills:BillPledged")
def bill_pledged(event: Event, store: Store) -> None:
    a = event.args
    source = require(store, "bill_range", a["fromRangeId"])
    if a["rangeId"] == a["fromRangeId"]:
        source.update(status="Pledged", pledgee=a["pledgee"])
    else:
        # Same holder, same chain: the pledged part copies its parent's prev link.
        _carve(
            store,
            source,
            a["rangeId"],
            a["start"],
            a["end"],
            a["remainderRangeId"],
            holder=a["holder"],
            status="Pledged",
            prev=source["prev"],
            depth=source["depth"],
            origin="pledged",
            pledgee=a["pledgee"],
        )
    _bill_move(
        event,
        store,
        "pledged",
        a["rangeId"],
        from_range_id=a["fromRangeId"],
        from_address=a["holder"],
        to_address=a["pledgee"],
        start=a["start"],
        end=a["end"],
        amount=a["end"] - a["start"] + 1,
    )


@handles("Bills:BillPledgeReleased")
def bill_pledge_released(event: Event, store: Store) -> None:
    a = event.args
    require(store, "bill_range", a["rangeId"]).update(status="Held", pledgee=None)
    _bill_move(
        event, store, "pledge_released", a["rangeId"], from_address=a["pledgee"], to_address=a["holder"]
    )


@handles("Bills:BillPresented")
def bill_presented(event: Event, store: Store) -> None:
    a = event.args
    require(store, "bill_range", a["rangeId"]).update(status="Presented", presented_at=event.block_time)
    _bill_move(event, store, "presented", a["rangeId"], from_address=a["holder"], amount=a["amount"])


@handles("Bills:BillPaid")
def bill_paid(event: Event, store: Store) -> None:
    a = event.args
    require(store, "bill_range", a["rangeId"]).update(
        status="Paid", recourse_obligor=None, recourse_ancestor=None
    )
    _bill_move(
        event,
        store,
        "paid",
        a["rangeId"],
        from_address=a["acceptor"],
        to_address=a["holder"],
        amount=a["amount"],
    )


@handles("Bills:BillDishonoured")
def bill_dishonoured(event: Event, store: Store) -> None:
    a = event.args
    require(store, "bill_range", a["rangeId"])["status"] = "Dishonoured"
    _bill_move(
        event,
        store,
        "dishonoured",
        a["rangeId"],
        from_address=a["by"],
        to_address=a["holder"],
        amount=a["amount"],
        reason=a["reason"],
    )


def _recourse_ancestor(store: Store, record: Row, obligor: str) -> int:
    """The obligor's earliest record in the chain of `record` (0 for the drawer): Bills._recourseAllowed."""
    package = store.peek("bill_package", record["package_id"])
    if package is not None and obligor == package["drawer"]:
        return 0
    ancestor, current = 0, record["prev"]
    while current:
        link = store.peek("bill_range", current)
        if link is None:
            raise MissingRowError(f"bill_range({current},) does not exist")
        if link["holder"] == record["holder"]:
            ancestor = 0
        elif link["holder"] == obligor:
            ancestor = current
        current = link["prev"]
    return ancestor


@handles("Bills:BillRecourseClaimed")
def bill_recourse_claimed(event: Event, store: Store) -> None:
    a = event.args
    record = require(store, "bill_range", a["rangeId"])
    record.update(
        recourse_obligor=a["obligor"], recourse_ancestor=_recourse_ancestor(store, record, a["obligor"])
    )
    _bill_move(
        event,
        store,
        "recourse_claimed",
        a["rangeId"],
        from_address=a["holder"],
        to_address=a["obligor"],
        amount=a["amount"],
    )


@handles("Bills:BillRecourseSettled")
def bill_recourse_settled(event: Event, store: Store) -> None:
    a = event.args
    source = require(store, "bill_range", a["fromRangeId"])
    ancestor = source["recourse_ancestor"] or 0
    # The payer steps into its own earliest place in the chain (the drawer gets a root-less record).
    earliest = None if ancestor == 0 else _require_peek(store, "bill_range", ancestor)
    prev = 0 if earliest is None else earliest["prev"]
    source.update(status="Closed", recourse_obligor=None, recourse_ancestor=None)
    _new_range(
        store,
        a["newRangeId"],
        source["package_id"],
        a["obligor"],
        source["start"],
        source["end"],
        status="Dishonoured",
        prev=prev,
        depth=0 if earliest is None else earliest["depth"],
        origin="recourse",
    )
    _bill_move(
        event,
        store,
        "recourse_settled",
        a["newRangeId"],
        from_range_id=a["fromRangeId"],
        from_address=a["obligor"],
        to_address=a["holder"],
        amount=a["amount"],
    )


def _require_peek(store: Store, table: str, *key: Any) -> Row:
    row = store.peek(table, *key)
    if row is None:
        raise MissingRowError(f"{table}{key} does not exist")
    return row
