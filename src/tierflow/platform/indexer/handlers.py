"""Event handlers: one function per "Contract:Event", each turning one decoded event into read-model rows.

Handlers are deterministic functions of (event, rows so far): replaying the raw events in
(block, log index) order rebuilds the read models exactly. Events without a handler (ERC-20
Approval, AccessControl role changes, wiring such as ConsumerSet) are kept as raw events only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tierflow.chain.abi import Event
from tierflow.platform.indexer.store import Row, Store
from tierflow.platform.models import ZERO_ADDRESS

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


def _require(store: Store, table: str, *key: Any) -> Row:
    row = store.get(table, *key)
    if row is None:
        raise MissingRowError(f"{table}{key} does not exist")
    row["updated_block"] = store.block_number
    return row


def _history(event: Event, **values: Any) -> Row:
    return {
        "block_number": event.block_number,
        "log_index": event.log_index,
        "tx_hash": event.tx_hash,
        **values,
    }


# -- ParticipantRegistry --------------------------------------------------------------------------


@handles("ParticipantRegistry:ParticipantRegistered")
def participant_registered(event: Event, store: Store) -> None:
    a = event.args
    store.create(
        "participant",
        {
            "address": a["account"],
            "roles": a["roles"],
            "status": "active",
            "entity_hash": a["entityHash"],
            "registered_by": a["operator"],
        },
    )


@handles("ParticipantRegistry:ParticipantRolesChanged")
def participant_roles_changed(event: Event, store: Store) -> None:
    _require(store, "participant", event.args["account"])["roles"] = event.args["roles"]


@handles("ParticipantRegistry:ParticipantSuspended")
def participant_suspended(event: Event, store: Store) -> None:
    _require(store, "participant", event.args["account"])["status"] = "suspended"


@handles("ParticipantRegistry:ParticipantReinstated")
def participant_reinstated(event: Event, store: Store) -> None:
    _require(store, "participant", event.args["account"])["status"] = "active"


def _platform_state(store: Store) -> Row:
    row = store.get("platform_state", 1)
    if row is None:
        row = store.create("platform_state", {"id": 1, "paused": False})
    row["updated_block"] = store.block_number
    return row


@handles("ParticipantRegistry:ParametersChanged")
def parameters_changed(event: Event, store: Store) -> None:
    row = _platform_state(store)
    row["max_tenor"] = event.args["maxTenor"]
    row["grace_period"] = event.args["gracePeriod"]
    row["min_unit"] = event.args["minUnit"]


@handles("ParticipantRegistry:Paused")
def paused(event: Event, store: Store) -> None:
    _platform_state(store)["paused"] = True


@handles("ParticipantRegistry:Unpaused")
def unpaused(event: Event, store: Store) -> None:
    _platform_state(store)["paused"] = False


@handles("ParticipantRegistry:SystemContractSet")
def system_contract_set(event: Event, store: Store) -> None:
    account, enabled = event.args["account"], event.args["enabled"]
    row = store.get("system_contract", account)
    if row is None:
        store.create("system_contract", {"address": account, "enabled": enabled})
    else:
        row["enabled"] = enabled
        row["updated_block"] = store.block_number


# -- CreditLines ----------------------------------------------------------------------------------


def _line_movement(event: Event, store: Store, line: Row, kind: str, amount: int) -> None:
    store.append(
        "credit_line_movement",
        _history(
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
    line = _require(store, "credit_line", a["lineId"])
    line["limit"] = a["limit"]
    line["expiry"] = a["expiry"]
    line["available"] = a["limit"] - line["used"]
    _line_movement(event, store, line, "adjusted", a["limit"])


def _line_used(event: Event, store: Store, kind: str) -> None:
    a = event.args
    line = _require(store, "credit_line", a["lineId"])
    line["used"] = a["used"]
    line["available"] = line["limit"] - a["used"]
    _line_movement(event, store, line, kind, a["amount"])


@handles("CreditLines:CreditLineDrawn")
def credit_line_drawn(event: Event, store: Store) -> None:
    _line_used(event, store, "drawn")


@handles("CreditLines:CreditLineRestored")
def credit_line_restored(event: Event, store: Store) -> None:
    _line_used(event, store, "restored")


# -- Receivables ----------------------------------------------------------------------------------


def _transfer(event: Event, store: Store, kind: str, token: Row, to: str, value: int, **extra: Any) -> None:
    store.append(
        "certificate_transfer",
        _history(
            event,
            kind=kind,
            slot_id=token["slot_id"],
            token_id=token["token_id"],
            from_address=extra.pop("from_address", token["holder"]),
            to_address=to,
            value=value,
            **extra,
        ),
    )


@handles("Receivables:CertificateIssued")
def certificate_issued(event: Event, store: Store) -> None:
    a = event.args
    store.create(
        "payable",
        {
            "slot_id": a["slotId"],
            "obligor": a["obligor"],
            "supplier": a["supplier"],
            "line_id": a["lineId"],
            "face": a["face"],
            "maturity": a["maturity"],
            "issued_at": event.block_time,
            "status": "Issued",
            "paid_in": 0,
            "paid_out": 0,
            "root_token_id": a["tokenId"],
        },
    )
    token = store.create(
        "certificate",
        {
            "token_id": a["tokenId"],
            "slot_id": a["slotId"],
            "holder": a["supplier"],
            "value": a["face"],
            "initial_value": a["face"],
            "status": "active",
            "locked": False,
            "parent_id": None,
            "root_id": a["tokenId"],
            "depth": 0,
        },
    )
    _transfer(event, store, "issued", token, a["supplier"], a["face"], from_address=ZERO_ADDRESS)


@handles("Receivables:CertificateAccepted")
def certificate_accepted(event: Event, store: Store) -> None:
    _require(store, "payable", event.args["slotId"])["status"] = "Accepted"


def _payable_voided(event: Event, store: Store, status: str) -> None:
    # Rejecting or cancelling burns the root token; the line and the documents are restored by
    # their own events (CreditLineRestored, DocumentReleased).
    payable = _require(store, "payable", event.args["slotId"])
    payable["status"] = status
    token = _require(store, "certificate", payable["root_token_id"])
    _transfer(event, store, "burned", token, ZERO_ADDRESS, token["value"])
    token["value"] = 0
    token["status"] = "burned"
    token["holder"] = ZERO_ADDRESS


@handles("Receivables:CertificateRejected")
def certificate_rejected(event: Event, store: Store) -> None:
    _payable_voided(event, store, "Rejected")


@handles("Receivables:CertificateCancelled")
def certificate_cancelled(event: Event, store: Store) -> None:
    _payable_voided(event, store, "Cancelled")


@handles("Receivables:CertificateTransferred")
def certificate_transferred(event: Event, store: Store) -> None:
    a = event.args
    token = _require(store, "certificate", a["tokenId"])
    _transfer(event, store, "transferred", token, a["to"], a["value"], from_address=a["from"])
    token["holder"] = a["to"]
    # A whole move clears any lock without a CertificateUnlocked (financing settlement, recourse).
    token.update(locked=False, lock_ref=None, status="active")


@handles("Receivables:CertificateSplit")
def certificate_split(event: Event, store: Store) -> None:
    a = event.args
    parent = _require(store, "certificate", a["fromTokenId"])
    parent["value"] -= a["value"]
    child = store.create(
        "certificate",
        {
            "token_id": a["newTokenId"],
            "slot_id": parent["slot_id"],
            "holder": a["to"],
            "value": a["value"],
            "initial_value": a["value"],
            "status": "active",
            "locked": False,
            "parent_id": parent["token_id"],
            "root_id": a["rootTokenId"],
            "depth": parent["depth"] + 1,
        },
    )
    _transfer(
        event,
        store,
        "split",
        parent,
        a["to"],
        a["value"],
        from_address=a["from"],
        new_token_id=child["token_id"],
    )


@handles("Receivables:CertificateLocked")
def certificate_locked(event: Event, store: Store) -> None:
    token = _require(store, "certificate", event.args["tokenId"])
    token["locked"] = True
    token["lock_ref"] = event.args["ref"]
    token["status"] = "locked"


@handles("Receivables:CertificateUnlocked")
def certificate_unlocked(event: Event, store: Store) -> None:
    token = _require(store, "certificate", event.args["tokenId"])
    token["locked"] = False
    token["lock_ref"] = None
    token["status"] = "active"


@handles("Receivables:PayableRepaid")
def payable_repaid(event: Event, store: Store) -> None:
    a = event.args
    payable = _require(store, "payable", a["slotId"])
    payable["paid_in"] = a["paidIn"]
    if a["paidIn"] == payable["face"]:
        payable["status"] = "Repaid"
    store.append(
        "repayment",
        _history(event, slot_id=a["slotId"], obligor=a["obligor"], amount=a["amount"], paid_in=a["paidIn"]),
    )


@handles("Receivables:CertificateClaimed")
def certificate_claimed(event: Event, store: Store) -> None:
    a = event.args
    token = _require(store, "certificate", a["tokenId"])
    _transfer(event, store, "claimed", token, ZERO_ADDRESS, a["amount"], from_address=a["holder"])
    token["value"] -= a["amount"]
    # claims are pro rata: a part paid leaves the token live for the next payment
    if token["value"] == 0:
        token["status"] = "settled"
    payable = _require(store, "payable", a["slotId"])
    payable["paid_out"] += a["amount"]
    store.append(
        "payout",
        _history(event, token_id=a["tokenId"], slot_id=a["slotId"], holder=a["holder"], amount=a["amount"]),
    )


@handles("Receivables:PayableDefaulted")
def payable_defaulted(event: Event, store: Store) -> None:
    a = event.args
    payable = _require(store, "payable", a["slotId"])
    payable["status"] = "Defaulted"
    payable["unpaid_at_default"] = a["unpaid"]
    store.append(
        "payable_default", _history(event, slot_id=a["slotId"], unpaid=a["unpaid"], marked_by=a["by"])
    )


# -- Financing ------------------------------------------------------------------------------------


@handles("Financing:FinancingRequested")
def financing_requested(event: Event, store: Store) -> None:
    a = event.args
    store.create(
        "financing_request",
        {
            "request_id": a["requestId"],
            "token_id": a["tokenId"],
            "seller": a["seller"],
            "financier": a["financier"],
            "amount": a["amount"],
            "with_recourse": a["withRecourse"],
            "status": "Requested",
        },
    )


@handles("Financing:FinancingQuoted")
def financing_quoted(event: Event, store: Store) -> None:
    a = event.args
    request = _require(store, "financing_request", a["requestId"])
    request.update(
        status="Quoted",
        rate_bps=a["rateBps"],
        quote_expiry=a["expiry"],
        discount=a["discount"],
        price=a["price"],
    )
    store.append(
        "financing_quote",
        _history(
            event,
            request_id=a["requestId"],
            financier=a["financier"],
            rate_bps=a["rateBps"],
            expiry=a["expiry"],
            discount=a["discount"],
            price=a["price"],
        ),
    )


@handles("Financing:FinancingQuoteAccepted")
def financing_quote_accepted(event: Event, store: Store) -> None:
    _require(store, "financing_request", event.args["requestId"])["status"] = "Accepted"


@handles("Financing:FinancingFunded")
def financing_funded(event: Event, store: Store) -> None:
    a = event.args
    request = _require(store, "financing_request", a["requestId"])
    request.update(status="Funded", funded_block=event.block_number, price=a["price"], discount=a["discount"])
    store.append(
        "financing_funding",
        _history(
            event,
            request_id=a["requestId"],
            token_id=a["tokenId"],
            financier=a["financier"],
            seller=a["seller"],
            price=a["price"],
            discount=a["discount"],
        ),
    )


@handles("Financing:FinancingCancelled")
def financing_cancelled(event: Event, store: Store) -> None:
    request = _require(store, "financing_request", event.args["requestId"])
    request.update(status="Cancelled", cancelled_by=event.args["by"])


@handles("Financing:FinancingDeclined")
def financing_declined(event: Event, store: Store) -> None:
    request = _require(store, "financing_request", event.args["requestId"])
    request.update(status="Declined", cancelled_by=event.args["financier"])


@handles("Financing:FinancingLapsed")
def financing_lapsed(event: Event, store: Store) -> None:
    request = _require(store, "financing_request", event.args["requestId"])
    request.update(status="Lapsed", cancelled_by=event.args["by"])


@handles("Financing:RecourseExercised")
def recourse_exercised(event: Event, store: Store) -> None:
    a = event.args
    _require(store, "financing_request", a["requestId"])["status"] = "Recoursed"
    store.append(
        "recourse_exercise",
        _history(
            event,
            request_id=a["requestId"],
            token_id=a["tokenId"],
            financier=a["financier"],
            seller=a["seller"],
            amount=a["amount"],
        ),
    )


# -- DocumentRegistry -----------------------------------------------------------------------------


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
    _require(store, "document", event.args["docHash"])["status"] = "released"


# -- SettlementToken ------------------------------------------------------------------------------


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
        _require(store, "settlement_balance", a["from"])["balance"] -= a["value"]
    if a["to"] != ZERO_ADDRESS:
        _credit(store, a["to"], a["value"])
    store.append(
        "settlement_movement", _history(event, from_address=a["from"], to_address=a["to"], amount=a["value"])
    )


# -- Bills ----------------------------------------------------------------------------------------


def _bill_move(event: Event, store: Store, kind: str, range_id: int, **values: Any) -> None:
    store.append(
        "bill_movement",
        _history(event, package_id=event.args["packageId"], kind=kind, range_id=range_id, **values),
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
                origin="remainder",
            )


def _package_status(event: Event, store: Store, status: str) -> Row:
    package = _require(store, "bill_package", event.args["packageId"])
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
        },
    )


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
        origin="received",
    )


@handles("Bills:BillEndorsed")
def bill_endorsed(event: Event, store: Store) -> None:
    a = event.args
    source = _require(store, "bill_range", a["fromRangeId"])
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
    _require(store, "bill_quote", event.args["quoteId"])["status"] = "cancelled"


@handles("Bills:BillDiscounted")
def bill_discounted(event: Event, store: Store) -> None:
    a = event.args
    _require(store, "bill_quote", a["quoteId"])["status"] = "accepted"
    source = _require(store, "bill_range", a["fromRangeId"])
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
    source = _require(store, "bill_range", a["fromRangeId"])
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
    _require(store, "bill_range", a["rangeId"]).update(status="Held", pledgee=None)
    _bill_move(
        event, store, "pledge_released", a["rangeId"], from_address=a["pledgee"], to_address=a["holder"]
    )


@handles("Bills:BillPresented")
def bill_presented(event: Event, store: Store) -> None:
    a = event.args
    _require(store, "bill_range", a["rangeId"]).update(status="Presented", presented_at=event.block_time)
    _bill_move(event, store, "presented", a["rangeId"], from_address=a["holder"], amount=a["amount"])


@handles("Bills:BillPaid")
def bill_paid(event: Event, store: Store) -> None:
    a = event.args
    _require(store, "bill_range", a["rangeId"]).update(
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
    _require(store, "bill_range", a["rangeId"])["status"] = "Dishonoured"
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
    record = _require(store, "bill_range", a["rangeId"])
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
    source = _require(store, "bill_range", a["fromRangeId"])
    ancestor = source["recourse_ancestor"] or 0
    # The payer steps into its own earliest place in the chain (the drawer gets a root-less record).
    prev = 0 if ancestor == 0 else _require_peek(store, "bill_range", ancestor)["prev"]
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
