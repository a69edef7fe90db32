"""Event handlers: one function per "Contract:Event", each turning one decoded event into read-model rows.

Handlers are deterministic functions of (event, rows so far): replaying the raw events in
(block, log index) order rebuilds the read models exactly. Events without a handler (ERC-20
Approval, AccessControl role changes, wiring such as ConsumerSet) are kept as raw events only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tierflow.platform.indexer.events import Event
from tierflow.platform.indexer.store import Row, Store
from tierflow.platform.models import ZERO_ADDRESS

Handler = Callable[[Event, Store], None]

HANDLERS: dict[str, Handler] = {}


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
