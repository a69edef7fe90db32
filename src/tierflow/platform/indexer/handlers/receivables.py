"""Handlers of Receivables events: payables, certificates, transfers, splits, repayments and claims."""

from __future__ import annotations

from typing import Any

from tierflow.chain.abi import Event
from tierflow.platform.indexer import tiers
from tierflow.platform.indexer.handlers.registry import handles, history, require
from tierflow.platform.indexer.store import Row, Store
from tierflow.platform.models import ZERO_ADDRESS


def _transfer(event: Event, store: Store, kind: str, token: Row, to: str, value: int, **extra: Any) -> None:
    store.append(
        "certificate_transfer",
        history(
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
            "invoice_hashes": list(a["invoiceHashes"]),
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
    tiers.keep(store, token, None, (event.block_number, event.log_index))


@handles("Receivables:CertificateAccepted")
def certificate_accepted(event: Event, store: Store) -> None:
    require(store, "payable", event.args["slotId"])["status"] = "Accepted"


def _payable_voided(event: Event, store: Store, status: str) -> None:
    # Rejecting or cancelling burns the root token; the line is restored by its own event
    # (CreditLineRestored); the invoices were only proposed, never bound.
    payable = require(store, "payable", event.args["slotId"])
    payable["status"] = status
    token = require(store, "certificate", payable["root_token_id"])
    _transfer(event, store, "burned", token, ZERO_ADDRESS, token["value"])
    before = dict(token)
    token["value"] = 0
    token["status"] = "burned"
    token["holder"] = ZERO_ADDRESS
    tiers.keep(store, token, before, (event.block_number, event.log_index), moved=False)


@handles("Receivables:CertificateRejected")
def certificate_rejected(event: Event, store: Store) -> None:
    _payable_voided(event, store, "Rejected")


@handles("Receivables:CertificateCancelled")
def certificate_cancelled(event: Event, store: Store) -> None:
    _payable_voided(event, store, "Cancelled")


@handles("Receivables:CertificateTransferred")
def certificate_transferred(event: Event, store: Store) -> None:
    a = event.args
    token = require(store, "certificate", a["tokenId"])
    _transfer(event, store, "transferred", token, a["to"], a["value"], from_address=a["from"])
    before = dict(token)
    token["holder"] = a["to"]
    tiers.keep(store, token, before, (event.block_number, event.log_index))
    # A whole move clears any lock without a CertificateUnlocked (financing settlement, recourse).
    token.update(locked=False, lock_ref=None, status="active")


@handles("Receivables:CertificateSplit")
def certificate_split(event: Event, store: Store) -> None:
    a = event.args
    parent = require(store, "certificate", a["fromTokenId"])
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
    tiers.keep(store, child, parent, (event.block_number, event.log_index))


@handles("Receivables:CertificateLocked")
def certificate_locked(event: Event, store: Store) -> None:
    token = require(store, "certificate", event.args["tokenId"])
    token["locked"] = True
    token["lock_ref"] = event.args["ref"]
    token["status"] = "locked"


@handles("Receivables:CertificateUnlocked")
def certificate_unlocked(event: Event, store: Store) -> None:
    token = require(store, "certificate", event.args["tokenId"])
    token["locked"] = False
    token["lock_ref"] = None
    token["status"] = "active"


@handles("Receivables:PayableRepaid")
def payable_repaid(event: Event, store: Store) -> None:
    a = event.args
    payable = require(store, "payable", a["slotId"])
    payable["paid_in"] = a["paidIn"]
    if a["paidIn"] == payable["face"]:
        payable["status"] = "Repaid"
    store.append(
        "repayment",
        history(event, slot_id=a["slotId"], obligor=a["obligor"], amount=a["amount"], paid_in=a["paidIn"]),
    )


@handles("Receivables:CertificateClaimed")
def certificate_claimed(event: Event, store: Store) -> None:
    a = event.args
    token = require(store, "certificate", a["tokenId"])
    _transfer(event, store, "claimed", token, ZERO_ADDRESS, a["amount"], from_address=a["holder"])
    token["value"] -= a["amount"]
    # claims are pro rata: a part paid leaves the token live for the next payment
    if token["value"] == 0:
        token["status"] = "settled"
    payable = require(store, "payable", a["slotId"])
    payable["paid_out"] += a["amount"]
    store.append(
        "payout",
        history(event, token_id=a["tokenId"], slot_id=a["slotId"], holder=a["holder"], amount=a["amount"]),
    )


@handles("Receivables:PayableDefaulted")
def payable_defaulted(event: Event, store: Store) -> None:
    a = event.args
    payable = require(store, "payable", a["slotId"])
    payable["status"] = "Defaulted"
    payable["unpaid_at_default"] = a["unpaid"]
    store.append(
        "payable_default", history(event, slot_id=a["slotId"], unpaid=a["unpaid"], marked_by=a["by"])
    )
