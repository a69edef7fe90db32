"""Handlers of the asset-level control events (issue 15) of Receivables, Bills, the registry and the token.

The moves a control makes are also reported by the contracts' ordinary events (CertificateTransferred or
CertificateSplit before CertificateForceTransferred; ParticipantRegistered and ParticipantSuspended with
ParticipantRecovered; Transfer with BalanceRecovered), whose handlers keep the certificates, participants
and balances; these handlers keep the holds and the history of controls, and replay the bill carves
(the bill events of a control are its only report). RecourseDebtsRecovered has no read model to
change (recourse owed is read from the chain) and stays a raw event.
"""

from __future__ import annotations

from typing import Any

from tierflow.chain.abi import Event
from tierflow.platform.indexer import tiers
from tierflow.platform.indexer.handlers.bills import _bill_move, _carve
from tierflow.platform.indexer.handlers.receivables import _transfer
from tierflow.platform.indexer.handlers.registry import handles, history, require
from tierflow.platform.indexer.store import Store


def _control(event: Event, store: Store, kind: str, asset: str, **values: Any) -> None:
    store.append("asset_control", history(event, kind=kind, asset=asset, **values))


def _hold(event: Event, store: Store, asset: str, asset_id: int, holder: str, value: int) -> None:
    store.create(
        "asset_hold",
        {
            "asset": asset,
            "asset_id": asset_id,
            "holder": holder,
            "value": value,
            "reason_hash": event.args["reasonHash"],
            "status": "frozen",
            "escrowed": 0,
            "released": 0,
            "release_hash": None,
            "frozen_block": event.block_number,
            "frozen_at": event.block_time,
            "released_block": None,
        },
    )


def _release(event: Event, store: Store, asset: str, asset_id: int, released: int) -> None:
    hold = require(store, "asset_hold", asset, asset_id)
    hold.update(
        status="released",
        released=released,
        release_hash=event.args["reasonHash"],
        released_block=event.block_number,
    )


# ---------------------------------------------------------------------------- Receivables


@handles("Receivables:CertificateFrozen")
def certificate_frozen(event: Event, store: Store) -> None:
    a = event.args
    # a token frozen, released and frozen again gets a fresh hold (the history keeps the first)
    old = store.get("asset_hold", "certificate", a["tokenId"])
    if old is not None:
        old.update(
            status="frozen",
            value=a["value"],
            reason_hash=a["reasonHash"],
            holder=a["holder"],
            escrowed=0,
            released=0,
            release_hash=None,
            frozen_block=event.block_number,
            frozen_at=event.block_time,
            released_block=None,
            updated_block=event.block_number,
        )
    else:
        _hold(event, store, "certificate", a["tokenId"], a["holder"], a["value"])
    _control(
        event,
        store,
        "frozen",
        "certificate",
        asset_id=a["tokenId"],
        from_address=a["holder"],
        value=a["value"],
        reason_hash=a["reasonHash"],
        actor=a["by"],
    )


@handles("Receivables:CertificateUnfrozen")
def certificate_unfrozen(event: Event, store: Store) -> None:
    a = event.args
    _release(event, store, "certificate", a["tokenId"], a["released"])
    _control(
        event,
        store,
        "unfrozen",
        "certificate",
        asset_id=a["tokenId"],
        to_address=a["holder"],
        value=a["released"],
        reason_hash=a["reasonHash"],
        actor=a["by"],
    )


@handles("Receivables:CertificateEscrowed")
def certificate_escrowed(event: Event, store: Store) -> None:
    """A payout settled a frozen token's due into its hold: the token and the payable as for a claim."""
    a = event.args
    token = require(store, "certificate", a["tokenId"])
    token["value"] -= a["amount"]
    if token["value"] == 0:
        token["status"] = "settled"
    require(store, "payable", a["slotId"])["paid_out"] += a["amount"]
    require(store, "asset_hold", "certificate", a["tokenId"])["escrowed"] += a["amount"]
    _control(
        event,
        store,
        "escrowed",
        "certificate",
        asset_id=a["tokenId"],
        from_address=a["holder"],
        value=a["amount"],
    )


@handles("Receivables:CertificateForceTransferred")
def certificate_force_transferred(event: Event, store: Store) -> None:
    a = event.args
    hold = store.get("asset_hold", "certificate", a["tokenId"])
    if hold is not None and hold["status"] == "frozen":  # a hold moves with its (whole) token
        hold.update(holder=a["to"], updated_block=event.block_number)
    _control(
        event,
        store,
        "forced",
        "certificate",
        asset_id=a["fromTokenId"],
        new_asset_id=a["tokenId"],
        from_address=a["from"],
        to_address=a["to"],
        value=a["value"],
        reason_hash=a["reasonHash"],
        actor=a["by"],
    )


@handles("Receivables:CertificateRecovered")
def certificate_recovered(event: Event, store: Store) -> None:
    """A key recovery: the holder changes and nothing else (a lock, a hold and its escrow stay)."""
    a = event.args
    token = require(store, "certificate", a["tokenId"])
    _transfer(event, store, "recovered", token, a["to"], a["value"], from_address=a["from"])
    before = dict(token)
    token["holder"] = a["to"]
    tiers.keep(store, token, before, (event.block_number, event.log_index), moved=False)
    hold = store.get("asset_hold", "certificate", a["tokenId"])
    if hold is not None and hold["status"] == "frozen":
        hold.update(holder=a["to"], updated_block=event.block_number)
    _control(
        event,
        store,
        "recovered",
        "certificate",
        asset_id=a["tokenId"],
        from_address=a["from"],
        to_address=a["to"],
        value=a["value"],
        reason_hash=a["reasonHash"],
        actor=a["by"],
    )


# ---------------------------------------------------------------------------- Bills


@handles("Bills:BillRangeFrozen")
def bill_range_frozen(event: Event, store: Store) -> None:
    a = event.args
    source = require(store, "bill_range", a["fromRangeId"])
    _carve(
        store,
        source,
        a["rangeId"],
        a["start"],
        a["end"],
        a["remainderRangeId"],
        holder=a["holder"],
        status="Frozen",
        prev=source["prev"],
        depth=source["depth"],
        origin="frozen",
    )
    amount = a["end"] - a["start"] + 1
    _hold(event, store, "bill_range", a["rangeId"], a["holder"], amount)
    _bill_move(
        event,
        store,
        "frozen",
        a["rangeId"],
        from_range_id=a["fromRangeId"],
        from_address=a["holder"],
        start=a["start"],
        end=a["end"],
        amount=amount,
    )
    _control(
        event,
        store,
        "frozen",
        "bill_range",
        asset_id=a["rangeId"],
        from_address=a["holder"],
        value=amount,
        reason_hash=a["reasonHash"],
    )


@handles("Bills:BillRangeUnfrozen")
def bill_range_unfrozen(event: Event, store: Store) -> None:
    a = event.args
    require(store, "bill_range", a["rangeId"])["status"] = "Held"
    _release(event, store, "bill_range", a["rangeId"], 0)
    _bill_move(event, store, "unfrozen", a["rangeId"], to_address=a["holder"])
    _control(
        event,
        store,
        "unfrozen",
        "bill_range",
        asset_id=a["rangeId"],
        to_address=a["holder"],
        reason_hash=a["reasonHash"],
    )


@handles("Bills:BillRangeForceTransferred")
def bill_range_force_transferred(event: Event, store: Store) -> None:
    a = event.args
    source = require(store, "bill_range", a["fromRangeId"])
    status = source["status"]  # the new record takes the status (Held or Frozen) before the carve
    _carve(
        store,
        source,
        a["newRangeId"],
        a["start"],
        a["end"],
        a["remainderRangeId"],
        holder=a["to"],
        status=status,
        prev=source["prev"],
        depth=source["depth"],
        origin="forced",
    )
    amount = a["end"] - a["start"] + 1
    if status == "Frozen":  # the hold moves whole to the new record
        old = require(store, "asset_hold", "bill_range", a["fromRangeId"])
        _hold(event, store, "bill_range", a["newRangeId"], a["to"], amount)
        moved = require(store, "asset_hold", "bill_range", a["newRangeId"])
        moved.update(reason_hash=old["reason_hash"], escrowed=old["escrowed"])  # the escrow moves too
        old.update(status="released", released_block=event.block_number, release_hash=a["reasonHash"])
    _bill_move(
        event,
        store,
        "forced",
        a["newRangeId"],
        from_range_id=a["fromRangeId"],
        from_address=a["from"],
        to_address=a["to"],
        start=a["start"],
        end=a["end"],
        amount=amount,
    )
    _control(
        event,
        store,
        "forced",
        "bill_range",
        asset_id=a["fromRangeId"],
        new_asset_id=a["newRangeId"],
        from_address=a["from"],
        to_address=a["to"],
        value=amount,
        reason_hash=a["reasonHash"],
    )


@handles("Bills:BillEscrowed")
def bill_escrowed(event: Event, store: Store) -> None:
    """The acceptor paid a Frozen record at maturity into the hold's escrow: the record stays Frozen."""
    a = event.args
    require(store, "asset_hold", "bill_range", a["rangeId"])["escrowed"] += a["amount"]
    _bill_move(event, store, "escrowed", a["rangeId"], from_address=a["acceptor"], amount=a["amount"])
    _control(event, store, "escrowed", "bill_range", asset_id=a["rangeId"], value=a["amount"])


@handles("Bills:BillEscrowReleased")
def bill_escrow_released(event: Event, store: Store) -> None:
    """After BillRangeUnfrozen: the escrow went to the holder and the record is Paid."""
    a = event.args
    require(store, "bill_range", a["rangeId"]).update(
        status="Paid", recourse_obligor=None, recourse_ancestor=None
    )
    require(store, "asset_hold", "bill_range", a["rangeId"])["released"] = a["amount"]
    _bill_move(event, store, "paid", a["rangeId"], to_address=a["holder"], amount=a["amount"])


@handles("Bills:BillPartyRecovered")
def bill_party_recovered(event: Event, store: Store) -> None:
    a = event.args
    old, new = a["from"], a["to"]
    if a["packageId"]:
        _succeed(require(store, "bill_package", a["packageId"]), ("drawer", "acceptor", "payee"), old, new)
        _recovered(event, store, "bill_package", a["packageId"])
        return
    _succeed(require(store, "bill_range", a["rangeId"]), ("holder", "pledgee", "recourse_obligor"), old, new)
    hold = store.get("asset_hold", "bill_range", a["rangeId"])
    if hold is not None and hold["holder"] == old:
        hold.update(holder=new, updated_block=event.block_number)
    _recovered(event, store, "bill_range", a["rangeId"])


@handles("Bills:BillQuoteRecovered")
def bill_quote_recovered(event: Event, store: Store) -> None:
    """A key recovery: the bank's quote is the new key's (the holder accepting it is paid by that key)."""
    a = event.args
    require(store, "bill_quote", a["quoteId"])["financier"] = a["to"]
    _recovered(event, store, "bill_quote", a["quoteId"])


# ---------------------------------------------------------------------------- payables and credit lines


@handles("Receivables:PayableObligorRecovered")
def payable_obligor_recovered(event: Event, store: Store) -> None:
    """A key recovery: the core enterprise's payable is owed (and repaid) by its new key."""
    a = event.args
    require(store, "payable", a["slotId"])["obligor"] = a["to"]
    _recovered(event, store, "payable", a["slotId"])


@handles("CreditLines:CreditLineRecovered")
def credit_line_recovered(event: Event, store: Store) -> None:
    """A key recovery: the new key is the line's borrower and/or its bank (whichever the old one was)."""
    a = event.args
    _succeed(require(store, "credit_line", a["lineId"]), ("obligor", "financier"), a["from"], a["to"])
    _recovered(event, store, "credit_line", a["lineId"])


def _succeed(row: dict[str, Any], roles: tuple[str, ...], old: str, new: str) -> None:
    """A key recovery: the new key takes each of `roles` in `row` that the old key had."""
    for role in roles:
        if row[role] == old:
            row[role] = new


def _recovered(event: Event, store: Store, asset: str, asset_id: int) -> None:
    a = event.args
    _control(
        event,
        store,
        "recovered",
        asset,
        asset_id=asset_id,
        from_address=a["from"],
        to_address=a["to"],
        reason_hash=a["reasonHash"],
    )


# ---------------------------------------------------------------------------- registry and token


@handles("ParticipantRegistry:ParticipantRecovered")
def participant_recovered(event: Event, store: Store) -> None:
    a = event.args
    _control(
        event,
        store,
        "recovered",
        "participant",
        from_address=a["account"],
        to_address=a["newAccount"],
        reason_hash=a["reasonHash"],
        actor=a["by"],
    )


@handles("SettlementToken:BalanceRecovered")
def balance_recovered(event: Event, store: Store) -> None:
    a = event.args
    _control(
        event,
        store,
        "recovered",
        "balance",
        from_address=a["account"],
        to_address=a["newAccount"],
        value=a["amount"],
        actor=a["by"],
    )


@handles("Financing:FinancingPartyRecovered")
def financing_party_recovered(event: Event, store: Store) -> None:
    a = event.args
    _succeed(require(store, "financing_request", a["requestId"]), ("seller", "financier"), a["from"], a["to"])
    _recovered(event, store, "financing", a["requestId"])
