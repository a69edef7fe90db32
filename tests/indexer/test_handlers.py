"""Unit tests of every event handler: synthetic events in, read-model rows out (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from ixkit import ADDRESSES as A
from ixkit import ZERO, EventFactory, apply, h32, row, rows
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tierflow.chain.abi import Event
from tierflow.chain.compile import compile_all
from tierflow.platform.indexer.handlers import HANDLERS, MissingRowError
from tierflow.platform.models import (
    AssetControl,
    AssetHold,
    BillInvoice,
    BillMovement,
    BillPackage,
    BillQuote,
    BillRange,
    Certificate,
    CertificateTransfer,
    CreditLine,
    CreditLineMovement,
    Document,
    FinancingFunding,
    FinancingQuote,
    FinancingRequest,
    GovernanceProposal,
    GovernanceStep,
    Participant,
    Payable,
    PayableDefault,
    Payout,
    PlatformState,
    Position,
    RecourseDebt,
    RecourseExercise,
    Repayment,
    SettlementBalance,
    SettlementMovement,
    SystemContract,
)

BIG = 10**20 + 1  # beyond int64: exactness is part of every handler test


def test_every_handler_matches_an_abi_event() -> None:
    artifacts = compile_all()
    known = {
        f"{name}:{item['name']}"
        for name, artifact in artifacts.items()
        for item in artifact.abi
        if item.get("type") == "event"
    }
    assert set(HANDLERS) - known == set()


def test_every_handler_has_a_unit_test() -> None:
    source = Path(__file__).read_text()
    assert [key for key in HANDLERS if f'"{key}"' not in source] == []


# -- ParticipantRegistry ----------------------------------------------------------------------------


def test_participant_handlers_track_roles_and_status(engine: Engine) -> None:
    f = EventFactory()
    apply(
        engine,
        [
            f(
                "ParticipantRegistry:ParticipantRegistered",
                account=A["core1"],
                roles=1,
                entityHash=h32(7),
                operator=A["operator"],
            ),
            f(
                "ParticipantRegistry:ParticipantRegistered",
                account=A["bank1"],
                roles=12,
                entityHash=h32(8),
                operator=A["operator"],
            ),
        ],
    )
    f.next_block()
    apply(
        engine,
        [
            f(
                "ParticipantRegistry:ParticipantRolesChanged",
                account=A["core1"],
                roles=3,
                operator=A["operator"],
            ),
            f("ParticipantRegistry:ParticipantSuspended", account=A["bank1"], operator=A["operator"]),
        ],
    )
    core, bank = row(engine, Participant, A["core1"]), row(engine, Participant, A["bank1"])
    assert core is not None and bank is not None
    assert (core["roles"], core["status"], core["entity_hash"], core["block_number"]) == (
        3,
        "active",
        h32(7),
        1,
    )
    assert (bank["status"], bank["updated_block"]) == ("suspended", 2)
    f.next_block()
    apply(
        engine, [f("ParticipantRegistry:ParticipantReinstated", account=A["bank1"], operator=A["operator"])]
    )
    assert row(engine, Participant, A["bank1"])["status"] == "active"  # type: ignore[index]


def test_platform_handlers_track_parameters_pause_and_system_contracts(engine: Engine) -> None:
    f = EventFactory()
    apply(
        engine,
        [
            f(
                "ParticipantRegistry:ParametersChanged",
                maxTenor=180 * 86400,
                gracePeriod=7 * 86400,
                minUnit=BIG,
                operator=A["operator"],
            ),
            f("ParticipantRegistry:Paused", account=A["operator"]),
            f(
                "ParticipantRegistry:SystemContractSet",
                account=A["auditor"],
                enabled=True,
                operator=A["operator"],
            ),
        ],
    )
    state = row(engine, PlatformState, 1)
    assert state is not None and state["paused"] is True and state["min_unit"] == BIG
    f.next_block()
    apply(
        engine,
        [
            f("ParticipantRegistry:Unpaused", account=A["operator"]),
            f(
                "ParticipantRegistry:SystemContractSet",
                account=A["auditor"],
                enabled=False,
                operator=A["operator"],
            ),
        ],
    )
    assert row(engine, PlatformState, 1)["paused"] is False  # type: ignore[index]
    assert row(engine, SystemContract, A["auditor"])["enabled"] is False  # type: ignore[index]


# -- CreditLines ------------------------------------------------------------------------------------


def test_credit_line_handlers_keep_granted_used_available(engine: Engine) -> None:
    f = EventFactory()
    apply(
        engine,
        [
            f(
                "CreditLines:CreditLineGranted",
                lineId=1,
                financier=A["bank1"],
                obligor=A["core1"],
                limit=2 * BIG,
                expiry=2_000_000_000,
            ),
            f("CreditLines:CreditLineDrawn", lineId=1, amount=BIG, used=BIG),
        ],
    )
    f.next_block()
    apply(
        engine,
        [
            f("CreditLines:CreditLineRestored", lineId=1, amount=1, used=BIG - 1),
            f(
                "CreditLines:CreditLineAdjusted",
                lineId=1,
                limit=3 * BIG,
                expiry=2_100_000_000,
                financier=A["bank1"],
            ),
        ],
    )
    line = row(engine, CreditLine, 1)
    assert line is not None
    assert (line["limit"], line["used"], line["available"], line["expiry"]) == (
        3 * BIG,
        BIG - 1,
        2 * BIG + 1,
        2_100_000_000,
    )
    kinds = [(m["kind"], m["amount"], m["used"]) for m in rows(engine, CreditLineMovement)]
    assert kinds == [
        ("granted", 2 * BIG, 0),
        ("drawn", BIG, BIG),
        ("restored", 1, BIG - 1),
        ("adjusted", 3 * BIG, BIG - 1),
    ]


def test_credit_line_handler_refuses_an_unknown_line(engine: Engine) -> None:
    f = EventFactory()
    with pytest.raises(MissingRowError):
        apply(engine, [f("CreditLines:CreditLineDrawn", lineId=9, amount=1, used=1)])


# -- Receivables ------------------------------------------------------------------------------------


def _issue(f: EventFactory, slot: int = 1, token: int = 1, face: int = BIG) -> list:
    return [
        f(
            "Receivables:CertificateIssued",
            slotId=slot,
            tokenId=token,
            obligor=A["core1"],
            supplier=A["supplier1"],
            face=face,
            maturity=1_900_000_000,
            lineId=1,
            invoiceHashes=[h32(1)],
        )
    ]


def test_certificate_issued_creates_payable_and_root_token(engine: Engine) -> None:
    f = EventFactory()
    apply(engine, _issue(f))
    payable, token = row(engine, Payable, 1), row(engine, Certificate, 1)
    assert payable is not None and token is not None
    assert (payable["status"], payable["face"], payable["paid_in"], payable["root_token_id"]) == (
        "Issued",
        BIG,
        0,
        1,
    )
    assert payable["issued_at"] == 1_800_000_001
    assert payable["invoice_hashes"] == [h32(1)]  # proposed; bound by DocumentRegistered on acceptance
    lineage = (token["holder"], token["value"], token["parent_id"], token["root_id"], token["depth"])
    assert lineage == (A["supplier1"], BIG, None, 1, 0)
    (transfer,) = rows(engine, CertificateTransfer)
    assert (transfer["kind"], transfer["from_address"], transfer["to_address"], transfer["value"]) == (
        "issued",
        ZERO,
        A["supplier1"],
        BIG,
    )


def test_position_rows_of_a_block_read_in_one_statement(engine: Engine) -> None:
    """A block of issues (a batch upload on 1 s blocks) reads the positions it moves in one SELECT, not
    one per certificate (old code: 3 and 6 here); rows read together are the stored ones, moved once."""
    f = EventFactory()
    first = [event for slot in (1, 2, 3) for event in _issue(f, slot=slot, token=slot, face=10 * slot)]
    f.next_block()
    splits = [
        f("Receivables:CertificateSplit", fromTokenId=slot, newTokenId=10 + slot, to=A["supplier2"],
          **{"from": A["supplier1"]}, value=slot, rootTokenId=slot)
        for slot in (1, 2, 3)
    ]  # fmt: skip
    reads: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if sql.startswith("SELECT") and "FROM position" in sql:
            reads.append(sql)

    event.listen(engine, "before_cursor_execute", statement)
    try:
        apply(engine, first)
        issued = len(reads)
        apply(engine, splits)  # a new store: the three rows of the first block are read back together
    finally:
        event.remove(engine, "before_cursor_execute", statement)
    assert (issued, len(reads) - issued) == (1, 1), reads
    positions = {
        (p["holder"], p["slot_id"], p["depth"]): (p["tokens"], p["value"]) for p in rows(engine, Position)
    }
    assert positions == {
        **{(A["supplier1"], slot, 0): (1, 9 * slot) for slot in (1, 2, 3)},
        **{(A["supplier2"], slot, 1): (1, slot) for slot in (1, 2, 3)},
    }


@pytest.mark.parametrize(
    ("key", "status"),
    [("Receivables:CertificateRejected", "Rejected"), ("Receivables:CertificateCancelled", "Cancelled")],
)
def test_reject_or_cancel_burns_the_root_token(engine: Engine, key: str, status: str) -> None:
    f = EventFactory()
    apply(engine, _issue(f))
    f.next_block()
    apply(
        engine,
        [
            f(key, slotId=1, supplier=A["supplier1"])
            if "Rejected" in key
            else f(key, slotId=1, obligor=A["core1"])
        ],
    )
    token = row(engine, Certificate, 1)
    assert row(engine, Payable, 1)["status"] == status  # type: ignore[index]
    assert token is not None and (token["status"], token["value"], token["holder"]) == ("burned", 0, ZERO)
    assert [t["kind"] for t in rows(engine, CertificateTransfer)] == ["issued", "burned"]


def test_split_and_transfer_build_lineage(engine: Engine) -> None:
    f = EventFactory()
    events = [
        *_issue(f),
        f("Receivables:CertificateAccepted", slotId=1, supplier=A["supplier1"]),
        f(
            "Receivables:CertificateSplit",
            fromTokenId=1,
            newTokenId=2,
            to=A["supplier2"],
            **{"from": A["supplier1"]},
            value=BIG - 1,
            rootTokenId=1,
        ),
        f(
            "Receivables:CertificateSplit",
            fromTokenId=2,
            newTokenId=3,
            to=A["supplier3"],
            **{"from": A["supplier2"]},
            value=5,
            rootTokenId=1,
        ),
        f(
            "Receivables:CertificateTransferred",
            tokenId=3,
            to=A["bank1"],
            value=5,
            **{"from": A["supplier3"]},
        ),
    ]
    apply(engine, events)
    tokens = {t["token_id"]: t for t in rows(engine, Certificate)}
    assert row(engine, Payable, 1)["status"] == "Accepted"  # type: ignore[index]
    assert [(t["value"], t["parent_id"], t["root_id"], t["depth"], t["holder"]) for t in tokens.values()] == [
        (1, None, 1, 0, A["supplier1"]),
        (BIG - 6, 1, 1, 1, A["supplier2"]),
        (5, 2, 1, 2, A["bank1"]),
    ]
    assert sum(t["value"] for t in tokens.values()) == BIG
    assert [t["kind"] for t in rows(engine, CertificateTransfer)] == [
        "issued",
        "split",
        "split",
        "transferred",
    ]


def test_lock_unlock_and_whole_move_clears_the_lock(engine: Engine) -> None:
    f = EventFactory()
    apply(engine, [*_issue(f), f("Receivables:CertificateLocked", tokenId=1, ref=4)])
    token = row(engine, Certificate, 1)
    assert token is not None and (token["locked"], token["lock_ref"], token["status"]) == (True, 4, "locked")
    f.next_block()
    apply(engine, [f("Receivables:CertificateUnlocked", tokenId=1, ref=4)])
    assert row(engine, Certificate, 1)["locked"] is False  # type: ignore[index]
    f.next_block()
    apply(
        engine,
        [
            f("Receivables:CertificateLocked", tokenId=1, ref=5),
            f(
                "Receivables:CertificateTransferred",
                tokenId=1,
                to=A["bank1"],
                value=BIG,
                **{"from": A["supplier1"]},
            ),
        ],
    )
    token = row(engine, Certificate, 1)
    assert token is not None and (token["locked"], token["lock_ref"], token["holder"]) == (
        False,
        None,
        A["bank1"],
    )


def test_repay_claim_and_default_track_paid_amounts(engine: Engine) -> None:
    f = EventFactory()
    apply(
        engine,
        [*_issue(f, face=100), f("Receivables:CertificateAccepted", slotId=1, supplier=A["supplier1"])],
    )
    f.next_block()
    apply(
        engine,
        [
            f("Receivables:PayableDefaulted", slotId=1, unpaid=100, by=A["supplier1"]),
            f("Receivables:PayableRepaid", slotId=1, obligor=A["core1"], amount=40, paidIn=40),
        ],
    )
    payable = row(engine, Payable, 1)
    assert payable is not None and (payable["status"], payable["paid_in"], payable["unpaid_at_default"]) == (
        "Defaulted",
        40,
        100,
    )
    # the 40 % paid before default is claimed at once, pro rata: the token stays live for the rest
    f.next_block()
    apply(
        engine,
        [f("Receivables:CertificateClaimed", tokenId=1, slotId=1, holder=A["supplier1"], amount=40)],
    )
    token = row(engine, Certificate, 1)
    assert token is not None and token["value"] == 60 and token["status"] != "settled"
    f.next_block()
    apply(
        engine,
        [
            f("Receivables:PayableRepaid", slotId=1, obligor=A["core1"], amount=60, paidIn=100),
            f("Receivables:CertificateClaimed", tokenId=1, slotId=1, holder=A["supplier1"], amount=60),
        ],
    )
    payable, token = row(engine, Payable, 1), row(engine, Certificate, 1)
    assert payable is not None and (payable["status"], payable["paid_in"], payable["paid_out"]) == (
        "Repaid",
        100,
        100,
    )
    assert token is not None and (token["value"], token["status"]) == (0, "settled")
    assert [r["amount"] for r in rows(engine, Repayment)] == [40, 60]
    assert [(p["holder"], p["amount"]) for p in rows(engine, Payout)] == [
        (A["supplier1"], 40),
        (A["supplier1"], 60),
    ]
    assert [d["unpaid"] for d in rows(engine, PayableDefault)] == [100]


# -- Financing --------------------------------------------------------------------------------------


def _request(f: EventFactory, request: int = 1) -> list:
    return [
        f(
            "Financing:FinancingRequested",
            requestId=request,
            tokenId=1,
            seller=A["supplier1"],
            financier=A["bank1"],
            amount=BIG,
            withRecourse=True,
        ),
    ]


def test_financing_handlers_follow_the_request_to_funded_and_recourse(engine: Engine) -> None:
    f = EventFactory()
    apply(
        engine,
        [
            *_request(f),
            f(
                "Financing:FinancingQuoted",
                requestId=1,
                financier=A["bank1"],
                rateBps=500,
                expiry=1_850_000_000,
                discount=7,
                price=BIG - 7,
            ),
            f("Financing:FinancingQuoteAccepted", requestId=1, seller=A["supplier1"]),
            f(
                "Financing:FinancingFunded",
                requestId=1,
                tokenId=1,
                financier=A["bank1"],
                seller=A["supplier1"],
                price=BIG - 7,
                discount=7,
            ),
        ],
    )
    request = row(engine, FinancingRequest, 1)
    assert request is not None
    assert (request["status"], request["rate_bps"], request["price"], request["funded_block"]) == (
        "Funded",
        500,
        BIG - 7,
        1,
    )
    assert [q["price"] for q in rows(engine, FinancingQuote)] == [BIG - 7]
    assert [(x["price"], x["discount"]) for x in rows(engine, FinancingFunding)] == [(BIG - 7, 7)]
    f.next_block()
    apply(
        engine,
        [
            f(
                "Financing:RecourseExercised",
                requestId=1,
                tokenId=1,
                financier=A["bank1"],
                seller=A["supplier1"],
                amount=BIG,
            )
        ],
    )
    assert row(engine, FinancingRequest, 1)["status"] == "Recoursed"  # type: ignore[index]
    assert [r["amount"] for r in rows(engine, RecourseExercise)] == [BIG]
    debt = row(engine, RecourseDebt, 1)
    assert debt is not None and (debt["owed"], debt["collected"], debt["remaining"]) == (BIG, 0, BIG)
    f.next_block()
    apply(
        engine,
        [
            f(
                "Financing:RecourseCollected",
                requestId=1,
                seller=A["supplier1"],
                financier=A["bank1"],
                amount=BIG - 8,
                remaining=8,
            ),
            f(
                "Financing:RecourseCollected",
                requestId=1,
                seller=A["supplier1"],
                financier=A["bank1"],
                amount=8,
                remaining=0,
            ),
        ],
    )
    debt = row(engine, RecourseDebt, 1)
    assert debt is not None and (debt["owed"], debt["collected"], debt["remaining"]) == (BIG, BIG, 0)


def test_financing_handlers_cancel_and_decline(engine: Engine) -> None:
    f = EventFactory()
    apply(
        engine,
        [
            *_request(f, 1),
            *_request(f, 2),
            *_request(f, 3),
            f("Financing:FinancingCancelled", requestId=1, by=A["supplier1"]),
            f("Financing:FinancingDeclined", requestId=2, financier=A["bank1"]),
            f(
                "Financing:FinancingLapsed",
                requestId=3,
                seller=A["supplier1"],
                financier=A["bank1"],
                by=A["supplier2"],
            ),  # fmt: skip
        ],
    )
    assert [(r["status"], r["cancelled_by"]) for r in rows(engine, FinancingRequest)] == [
        ("Cancelled", A["supplier1"]),
        ("Declined", A["bank1"]),
        ("Lapsed", A["supplier2"]),
    ]


# -- DocumentRegistry and SettlementToken -----------------------------------------------------------


def test_document_handlers_bind(engine: Engine) -> None:
    f = EventFactory()
    apply(engine, [f("DocumentRegistry:DocumentRegistered", docHash=h32(5), asset=A["auditor"], assetId=9)])
    document = row(engine, Document, h32(5))
    assert document is not None and (document["status"], document["asset"], document["asset_id"]) == (
        "bound",
        A["auditor"],
        9,
    )


def test_settlement_transfer_keeps_balances_exact(engine: Engine) -> None:
    f = EventFactory()
    apply(
        engine,
        [
            f("SettlementToken:Transfer", **{"from": ZERO}, to=A["supplier1"], value=BIG),
            f("SettlementToken:Transfer", **{"from": A["supplier1"]}, to=A["supplier2"], value=BIG - 1),
            f("SettlementToken:Transfer", **{"from": A["supplier2"]}, to=ZERO, value=2),
        ],
    )
    balances = {b["address"]: b["balance"] for b in rows(engine, SettlementBalance)}
    assert balances == {A["supplier1"]: 1, A["supplier2"]: BIG - 3}
    assert len(rows(engine, SettlementMovement)) == 3


# -- Bills ------------------------------------------------------------------------------------------


def _bill(f: EventFactory, face: int = 100) -> list:
    return [
        f(
            "Bills:BillIssued",
            packageId=1,
            drawer=A["core1"],
            acceptor=A["core2"],
            payee=A["supplier1"],
            face=face,
            maturity=1_900_000_000,
            splittable=True,
            notTransferable=False,
            bankAcceptance=False,
            invoiceHashes=[h32(3)],
        ),
        f("Bills:BillAccepted", packageId=1, acceptor=A["core2"], payee=A["supplier1"]),
        f("Bills:BillReceived", packageId=1, rangeId=1, payee=A["supplier1"], face=face),
    ]


def _ranges(engine: Engine) -> list[tuple[int, str, int, int, str, int]]:
    return [
        (r["range_id"], r["holder"], r["start"], r["end"], r["status"], r["prev"])
        for r in rows(engine, BillRange)
    ]


def test_bill_lifecycle_cancel_and_reject(engine: Engine) -> None:
    f = EventFactory()
    issued = _bill(f)[0]
    apply(engine, [issued, f("Bills:BillCancelled", packageId=1, by=A["core1"])])
    assert row(engine, BillPackage, 1)["status"] == "Cancelled"  # type: ignore[index]
    f.next_block()
    accepted = f("Bills:BillAccepted", packageId=2, acceptor=A["core2"], payee=A["supplier1"])
    apply(engine, [_with(issued, packageId=2, block_number=f.block), accepted])
    f.next_block()
    apply(engine, [f("Bills:BillRejected", packageId=2, payee=A["supplier1"])])
    assert row(engine, BillPackage, 2)["status"] == "Rejected"  # type: ignore[index]


def test_bill_issued_records_each_proposed_invoice_once_by_hash(engine: Engine) -> None:
    """BillIssued makes its invoices readable by hash (bill_invoice), a hash repeated in the proposal
    once: the issue check reads them by key (services.documents)."""
    f = EventFactory()
    issued = _with(_bill(f)[0], f.block, invoiceHashes=[h32(3), h32(4), h32(3)])
    apply(engine, [issued])
    found = [(r["doc_hash"], r["package_id"], r["block_number"]) for r in rows(engine, BillInvoice)]
    assert found == [(h32(3), 1, f.block), (h32(4), 1, f.block)]


def _with(event: Event, block_number: int, **args: Any) -> Event:
    return replace(event, block_number=block_number, log_index=99, args={**event.args, **args})


def test_bill_endorse_carves_prefix_middle_and_whole(engine: Engine) -> None:
    f = EventFactory()
    apply(engine, _bill(f))
    assert row(engine, BillPackage, 1)["root_range_id"] == 1  # type: ignore[index]
    assert row(engine, BillPackage, 1)["invoice_hashes"] == [h32(3)]  # type: ignore[index]
    endorse = "Bills:BillEndorsed"
    apply(
        engine,
        [
            # prefix [1, 10] of [1, 100] → record 2; 1 keeps [11, 100]
            f(
                endorse,
                packageId=1,
                **{"from": A["supplier1"]},
                to=A["supplier2"],
                fromRangeId=1,
                newRangeId=2,
                start=1,
                end=10,
                remainderRangeId=0,
            ),
            # middle [41, 50] of [11, 100] → record 3; 1 keeps [11, 40]; remainder 4 gets [51, 100]
            f(
                endorse,
                packageId=1,
                **{"from": A["supplier1"]},
                to=A["supplier3"],
                fromRangeId=1,
                newRangeId=3,
                start=41,
                end=50,
                remainderRangeId=4,
            ),
            # whole [1, 10] of record 2 → record 5; 2 is Closed
            f(
                endorse,
                packageId=1,
                **{"from": A["supplier2"]},
                to=A["bank1"],
                fromRangeId=2,
                newRangeId=5,
                start=1,
                end=10,
                remainderRangeId=0,
            ),
        ],
    )
    assert _ranges(engine) == [
        (1, A["supplier1"], 11, 40, "Held", 0),
        (2, A["supplier2"], 1, 10, "Closed", 1),
        (3, A["supplier3"], 41, 50, "Held", 1),
        (4, A["supplier1"], 51, 100, "Held", 0),
        (5, A["bank1"], 1, 10, "Held", 2),
    ]
    assert [m["kind"] for m in rows(engine, BillMovement)] == ["endorsed"] * 3
    # the chain length Bills caps: a moved part one more than its source, a remainder the same
    assert {r["range_id"]: r["depth"] for r in rows(engine, BillRange)} == {1: 0, 2: 1, 3: 1, 4: 0, 5: 2}


def test_bill_quote_discount_and_cancel(engine: Engine) -> None:
    f = EventFactory()
    apply(
        engine,
        [
            *_bill(f),
            f(
                "Bills:BillQuoted",
                quoteId=1,
                rangeId=1,
                financier=A["bank1"],
                start=51,
                end=100,
                rateBps=300,
                expiry=1_850_000_000,
            ),
            f(
                "Bills:BillQuoted",
                quoteId=2,
                rangeId=1,
                financier=A["bank2"],
                start=1,
                end=100,
                rateBps=400,
                expiry=1_850_000_000,
            ),
            f("Bills:BillQuoteCancelled", quoteId=2, financier=A["bank2"]),
            f(
                "Bills:BillDiscounted",
                packageId=1,
                quoteId=1,
                financier=A["bank1"],
                **{"from": A["supplier1"]},
                fromRangeId=1,
                newRangeId=2,
                start=51,
                end=100,
                remainderRangeId=0,
                interest=1,
                price=49,
                rediscount=False,
            ),
        ],
    )
    assert [q["status"] for q in rows(engine, BillQuote)] == ["accepted", "cancelled"]
    assert _ranges(engine) == [(1, A["supplier1"], 1, 50, "Held", 0), (2, A["bank1"], 51, 100, "Held", 1)]
    (move,) = rows(engine, BillMovement)
    assert (move["kind"], move["price"], move["interest"], move["amount"]) == ("discounted", 49, 1, 50)


def test_bill_pledge_whole_and_partial_then_release(engine: Engine) -> None:
    f = EventFactory()
    pledged = "Bills:BillPledged"
    apply(
        engine,
        [
            *_bill(f),
            f(
                pledged,
                packageId=1,
                holder=A["supplier1"],
                pledgee=A["bank1"],
                fromRangeId=1,
                rangeId=2,
                start=21,
                end=30,
                remainderRangeId=3,
            ),
        ],
    )
    assert _ranges(engine) == [
        (1, A["supplier1"], 1, 20, "Held", 0),
        (2, A["supplier1"], 21, 30, "Pledged", 0),
        (3, A["supplier1"], 31, 100, "Held", 0),
    ]
    apply(
        engine,
        [
            f(
                pledged,
                packageId=1,
                holder=A["supplier1"],
                pledgee=A["bank2"],
                fromRangeId=3,
                rangeId=3,
                start=31,
                end=100,
                remainderRangeId=0,
            )
        ],
    )
    assert row(engine, BillRange, 3)["pledgee"] == A["bank2"]  # type: ignore[index]
    apply(
        engine,
        [f("Bills:BillPledgeReleased", packageId=1, rangeId=2, pledgee=A["bank1"], holder=A["supplier1"])],
    )
    released = row(engine, BillRange, 2)
    assert released is not None and (released["status"], released["pledgee"]) == ("Held", None)


def test_bill_present_pay_dishonour_and_recourse(engine: Engine) -> None:
    f = EventFactory()
    endorse = "Bills:BillEndorsed"
    apply(
        engine,
        [
            *_bill(f),
            f(
                endorse,
                packageId=1,
                **{"from": A["supplier1"]},
                to=A["supplier2"],
                fromRangeId=1,
                newRangeId=2,
                start=1,
                end=50,
                remainderRangeId=0,
            ),
            f(
                endorse,
                packageId=1,
                **{"from": A["supplier2"]},
                to=A["supplier3"],
                fromRangeId=2,
                newRangeId=3,
                start=1,
                end=50,
                remainderRangeId=0,
            ),
        ],
    )
    f.next_block()
    apply(
        engine,
        [
            f("Bills:BillPresented", packageId=1, rangeId=1, holder=A["supplier1"], amount=50),
            f(
                "Bills:BillPaid",
                packageId=1,
                rangeId=1,
                acceptor=A["core2"],
                holder=A["supplier1"],
                amount=50,
            ),
            f("Bills:BillPresented", packageId=1, rangeId=3, holder=A["supplier3"], amount=50),
            f(
                "Bills:BillDishonoured",
                packageId=1,
                rangeId=3,
                by=A["core2"],
                holder=A["supplier3"],
                amount=50,
                reason=2,
            ),
            # supplier3 claims against supplier2 (a prior endorser): supplier2's record is 2
            f(
                "Bills:BillRecourseClaimed",
                packageId=1,
                rangeId=3,
                obligor=A["supplier2"],
                holder=A["supplier3"],
                amount=50,
            ),
        ],
    )
    paid, claimed = row(engine, BillRange, 1), row(engine, BillRange, 3)
    assert paid is not None and paid["status"] == "Paid" and paid["presented_at"] == 1_800_000_002
    assert claimed is not None
    assert (claimed["status"], claimed["recourse_obligor"], claimed["recourse_ancestor"]) == (
        "Dishonoured",
        A["supplier2"],
        2,
    )
    f.next_block()
    apply(
        engine,
        [
            f(
                "Bills:BillRecourseSettled",
                packageId=1,
                obligor=A["supplier2"],
                holder=A["supplier3"],
                fromRangeId=3,
                newRangeId=4,
                amount=50,
            )
        ],
    )
    # supplier2 steps into its own place: the new record links to where supplier2's record came from (1)
    assert _ranges(engine)[2:] == [
        (3, A["supplier3"], 1, 50, "Closed", 2),
        (4, A["supplier2"], 1, 50, "Dishonoured", 1),
    ]
    assert row(engine, BillRange, 4)["depth"] == row(engine, BillRange, 2)["depth"] == 1  # type: ignore[index]
    kinds = [m["kind"] for m in rows(engine, BillMovement)]
    assert kinds[2:] == [
        "presented",
        "paid",
        "presented",
        "dishonoured",
        "recourse_claimed",
        "recourse_settled",
    ]


# -- GovernanceCouncil -------------------------------------------------------------------------------


def test_governance_handlers_track_a_proposal_to_its_execution(engine: Engine) -> None:
    f = EventFactory()
    apply(
        engine,
        [
            f(
                "GovernanceCouncil:ProposalCreated",
                proposalId=1,
                proposer=A["operator"],
                target=A["core1"],
                data="0x2f2ff15d",
                descriptionHash=h32(3),
                deadline=1_800_604_800,
            ),
            f("GovernanceCouncil:ProposalApproved", proposalId=1, governor=A["operator"], approvals=1),
        ],
    )
    f.next_block()
    apply(
        engine,
        [
            f("GovernanceCouncil:ProposalApproved", proposalId=1, governor=A["bank1"], approvals=2),
            f("GovernanceCouncil:ProposalScheduled", proposalId=1, eta=1_800_000_060),
        ],
    )
    proposal = row(engine, GovernanceProposal, 1)
    assert proposal is not None
    assert (proposal["state"], proposal["approvals"], proposal["eta"], proposal["data"]) == (
        "Scheduled",
        2,
        1_800_000_060,
        "0x2f2ff15d",
    )
    f.next_block()
    apply(engine, [f("GovernanceCouncil:ProposalExecuted", proposalId=1, governor=A["bank1"])])
    proposal = row(engine, GovernanceProposal, 1)
    assert proposal is not None
    assert (proposal["state"], proposal["executed_by"], proposal["updated_block"]) == (
        "Executed",
        A["bank1"],
        3,
    )
    steps = [(s["kind"], s["actor"], s["approvals"]) for s in rows(engine, GovernanceStep)]
    assert steps == [
        ("proposed", A["operator"], 0),
        ("approved", A["operator"], 1),
        ("approved", A["bank1"], 2),
        ("scheduled", None, 2),
        ("executed", A["bank1"], 2),
    ]


def test_governance_handlers_record_cancel_votes_and_the_cancel(engine: Engine) -> None:
    f = EventFactory()
    created = {"proposer": A["bank1"], "target": A["core1"], "data": "0x8456cb59", "descriptionHash": h32(4)}
    apply(
        engine,
        [
            f("GovernanceCouncil:ProposalCreated", proposalId=2, deadline=1_800_604_800, **created),
            f("GovernanceCouncil:ProposalApproved", proposalId=2, governor=A["bank1"], approvals=1),
            f("GovernanceCouncil:ProposalCancelVoted", proposalId=2, governor=A["operator"], cancels=1),
        ],
    )
    proposal = row(engine, GovernanceProposal, 2)
    assert proposal is not None
    assert (proposal["state"], proposal["cancels"], proposal["deadline"]) == ("Pending", 1, 1_800_604_800)
    f.next_block()
    apply(engine, [f("GovernanceCouncil:ProposalCancelled", proposalId=2, governor=A["bank2"])])
    proposal = row(engine, GovernanceProposal, 2)
    assert proposal is not None
    assert (proposal["state"], proposal["cancelled_by"]) == ("Cancelled", A["bank2"])
    steps = [(s["kind"], s["actor"]) for s in rows(engine, GovernanceStep) if s["proposal_id"] == 2]
    assert steps[-2:] == [("cancel_voted", A["operator"]), ("cancelled", A["bank2"])]


def test_governance_handlers_record_a_batch_proposals_calls_in_order(engine: Engine) -> None:
    f = EventFactory()
    apply(
        engine,
        [
            f(
                "GovernanceCouncil:BatchProposalCreated",
                proposalId=3,
                proposer=A["operator"],
                targets=[A["core1"], A["bank1"]],
                datas=["0x2f2ff15d", "0x8456cb59"],
                descriptionHash=h32(5),
                deadline=1_800_604_800,
            ),
            f("GovernanceCouncil:ProposalApproved", proposalId=3, governor=A["operator"], approvals=1),
        ],
    )
    proposal = row(engine, GovernanceProposal, 3)
    assert proposal is not None
    assert (proposal["state"], proposal["target"], proposal["data"]) == ("Pending", "0x" + "0" * 40, "0x")
    assert json.loads(proposal["calls"]) == [[A["core1"], "0x2f2ff15d"], [A["bank1"], "0x8456cb59"]]
    steps = [(s["kind"], s["actor"]) for s in rows(engine, GovernanceStep) if s["proposal_id"] == 3]
    assert steps == [("proposed", A["operator"]), ("approved", A["operator"])]


# -- asset-level controls (issue 15) ----------------------------------------------------------------


def _hold(engine: Engine, asset: str, asset_id: int) -> dict[str, Any]:
    found = row(engine, AssetHold, asset, asset_id)
    assert found is not None
    return found


def test_certificate_hold_escrow_release_and_forced_transfer(engine: Engine) -> None:
    f = EventFactory()
    order, lift = h32(0xC0), h32(0xD0)
    apply(
        engine,
        [
            *_issue(f, face=BIG),
            f("Receivables:CertificateAccepted", slotId=1, supplier=A["supplier1"]),
            # a part frozen: the contract splits it off to a token of the same holder first
            f(
                "Receivables:CertificateSplit",
                fromTokenId=1,
                newTokenId=2,
                to=A["supplier1"],
                **{"from": A["supplier1"]},
                value=BIG - 1,
                rootTokenId=1,
            ),
            f(
                "Receivables:CertificateFrozen",
                tokenId=2,
                holder=A["supplier1"],
                value=BIG - 1,
                reasonHash=order,
                by=A["operator"],
            ),
        ],
    )
    hold = _hold(engine, "certificate", 2)
    assert (hold["holder"], hold["value"], hold["status"], hold["reason_hash"]) == (
        A["supplier1"],
        BIG - 1,
        "frozen",
        order,
    )
    f.next_block()
    apply(
        engine,
        [
            f(
                "Receivables:CertificateTransferred",
                tokenId=2,
                **{"from": A["supplier1"]},
                to=A["supplier2"],
                value=BIG - 1,
            ),
            f(
                "Receivables:CertificateForceTransferred",
                fromTokenId=2,
                tokenId=2,
                to=A["supplier2"],
                **{"from": A["supplier1"]},
                value=BIG - 1,
                reasonHash=order,
                by=A["operator"],
            ),
            f("Receivables:PayableRepaid", slotId=1, obligor=A["core1"], amount=BIG, paidIn=BIG),
            f("Receivables:CertificateEscrowed", tokenId=2, slotId=1, holder=A["supplier2"], amount=BIG - 1),
            f(
                "Receivables:CertificateUnfrozen",
                tokenId=2,
                holder=A["supplier2"],
                released=BIG - 1,
                reasonHash=lift,
                by=A["operator"],
            ),
        ],
    )
    hold = _hold(engine, "certificate", 2)
    assert (hold["holder"], hold["escrowed"], hold["released"], hold["status"], hold["release_hash"]) == (
        A["supplier2"],
        BIG - 1,
        BIG - 1,
        "released",
        lift,
    )
    token, payable = row(engine, Certificate, 2), row(engine, Payable, 1)
    assert token is not None and payable is not None
    assert (token["holder"], token["value"], token["status"], payable["paid_out"]) == (
        A["supplier2"],
        0,
        "settled",
        BIG - 1,
    )
    kinds = [(c["kind"], c["asset"], c["value"]) for c in rows(engine, AssetControl)]
    assert kinds == [
        ("frozen", "certificate", BIG - 1),
        ("forced", "certificate", BIG - 1),
        ("escrowed", "certificate", BIG - 1),
        ("unfrozen", "certificate", BIG - 1),
    ]


def test_bill_range_hold_forced_transfer_and_party_recovery(engine: Engine) -> None:
    f = EventFactory()
    order = h32(0xC0)
    heir = "0x" + "ee" * 20
    apply(
        engine,
        [
            *_bill(f, face=100),
            f(
                "Bills:BillRangeFrozen",
                packageId=1,
                rangeId=2,
                holder=A["supplier1"],
                fromRangeId=1,
                start=91,
                end=100,
                remainderRangeId=0,
                reasonHash=order,
            ),
            f(
                "Bills:BillRangeForceTransferred",
                packageId=1,
                **{"from": A["supplier1"]},
                to=A["supplier2"],
                fromRangeId=2,
                newRangeId=3,
                start=91,
                end=100,
                remainderRangeId=0,
                reasonHash=order,
            ),
            f("Bills:BillRangeUnfrozen", packageId=1, rangeId=3, holder=A["supplier2"], reasonHash=order),
            f(
                "Bills:BillPartyRecovered",
                packageId=1,
                rangeId=0,
                **{"from": A["supplier1"]},
                to=heir,
                reasonHash=order,
            ),
            f(
                "Bills:BillPartyRecovered",
                packageId=0,
                rangeId=1,
                **{"from": A["supplier1"]},
                to=heir,
                reasonHash=order,
            ),
        ],
    )
    assert _ranges(engine) == [
        (1, heir, 1, 90, "Held", 0),
        (2, A["supplier1"], 91, 100, "Closed", 0),
        (3, A["supplier2"], 91, 100, "Held", 0),
    ]
    assert row(engine, BillPackage, 1)["payee"] == heir  # type: ignore[index]
    assert (_hold(engine, "bill_range", 2)["status"], _hold(engine, "bill_range", 3)["status"]) == (
        "released",
        "released",
    )
    assert _hold(engine, "bill_range", 3)["holder"] == A["supplier2"]
    assert [m["kind"] for m in rows(engine, BillMovement)][-3:] == ["frozen", "forced", "unfrozen"]


def test_participant_and_balance_recovery_are_recorded(engine: Engine) -> None:
    f = EventFactory()
    heir = "0x" + "ee" * 20
    apply(
        engine,
        [
            f(
                "ParticipantRegistry:ParticipantRecovered",
                account=A["supplier1"],
                newAccount=heir,
                roles=2,
                reasonHash=h32(0xE0),
                by=A["operator"],
            ),
            f(
                "SettlementToken:BalanceRecovered",
                account=A["supplier1"],
                newAccount=heir,
                amount=BIG,
                by=A["operator"],
            ),
        ],
    )
    assert [
        (c["kind"], c["asset"], c["from_address"], c["to_address"], c["value"])
        for c in rows(engine, AssetControl)
    ] == [
        ("recovered", "participant", A["supplier1"], heir, None),
        ("recovered", "balance", A["supplier1"], heir, BIG),
    ]


def test_key_recovery_moves_a_locked_certificate_and_its_request(engine: Engine) -> None:
    f = EventFactory()
    heir = "0x" + "ee" * 20
    apply(
        engine,
        [
            *_issue(f, face=BIG),
            f("Receivables:CertificateAccepted", slotId=1, supplier=A["supplier1"]),
            *_request(f),
            f("Receivables:CertificateLocked", tokenId=1, ref=1),
            f(
                "Receivables:CertificateRecovered",
                tokenId=1,
                **{"from": A["supplier1"]},
                to=heir,
                value=BIG,
                reasonHash=h32(0xE0),
                by=A["operator"],
            ),
            f(
                "Financing:FinancingPartyRecovered",
                requestId=1,
                **{"from": A["supplier1"]},
                to=heir,
                reasonHash=h32(0xE0),
            ),
        ],
    )
    token, request = row(engine, Certificate, 1), row(engine, FinancingRequest, 1)
    assert token is not None and request is not None
    # the lock stays (unlike a CertificateTransferred): the request goes on with the new key as seller
    assert (token["holder"], token["locked"], token["lock_ref"], token["status"]) == (heir, True, 1, "locked")
    assert (request["seller"], request["financier"]) == (heir, A["bank1"])
    assert [t["kind"] for t in rows(engine, CertificateTransfer)][-1] == "recovered"


def test_key_recovery_moves_payables_credit_lines_packages_and_quotes(engine: Engine) -> None:
    """A payable's obligor, a line's borrower and bank, a package's parties and a bank's quote."""
    f = EventFactory()
    heir, bank_heir = "0x" + "ee" * 20, "0x" + "dd" * 20
    why = h32(0xE1)
    grant = {"limit": 2 * BIG, "expiry": 2_000_000_000}
    apply(
        engine,
        [
            f("CreditLines:CreditLineGranted", lineId=1, financier=A["bank1"], obligor=A["core1"], **grant),
            *_issue(f, face=BIG),
            *_bill(f, face=100),
            f(
                "Bills:BillQuoted",
                quoteId=1,
                rangeId=1,
                financier=A["bank1"],
                start=51,
                end=100,
                rateBps=300,
                expiry=1_850_000_000,
            ),
            f(
                "Receivables:PayableObligorRecovered",
                slotId=1,
                **{"from": A["core1"]},
                to=heir,
                reasonHash=why,
            ),
            f("CreditLines:CreditLineRecovered", lineId=1, **{"from": A["core1"]}, to=heir, reasonHash=why),
            f(
                "CreditLines:CreditLineRecovered",
                lineId=1,
                **{"from": A["bank1"]},
                to=bank_heir,
                reasonHash=why,
            ),
            f(
                "Bills:BillPartyRecovered",
                packageId=1,
                rangeId=0,
                **{"from": A["core1"]},
                to=heir,
                reasonHash=why,
            ),
            f("Bills:BillQuoteRecovered", quoteId=1, **{"from": A["bank1"]}, to=bank_heir, reasonHash=why),
        ],
    )
    payable, line = row(engine, Payable, 1), row(engine, CreditLine, 1)
    package, quote = row(engine, BillPackage, 1), row(engine, BillQuote, 1)
    assert payable is not None and line is not None and package is not None and quote is not None
    assert (payable["obligor"], line["obligor"], line["financier"]) == (heir, heir, bank_heir)
    assert (package["drawer"], package["acceptor"], quote["financier"]) == (heir, A["core2"], bank_heir)
    assert [
        (c["asset"], c["asset_id"], c["to_address"], c["reason_hash"]) for c in rows(engine, AssetControl)
    ] == [
        ("payable", 1, heir, why),
        ("credit_line", 1, heir, why),
        ("credit_line", 1, bank_heir, why),
        ("bill_package", 1, heir, why),
        ("bill_quote", 1, bank_heir, why),
    ]


def test_bill_escrow_of_a_frozen_range_moves_with_it_and_pays_the_holder_at_release(engine: Engine) -> None:
    f = EventFactory()
    order = h32(0xC1)
    frozen = {
        "packageId": 1,
        "rangeId": 2,
        "holder": A["supplier1"],
        "fromRangeId": 1,
        "start": 1,
        "end": 100,
    }
    apply(
        engine,
        [
            *_bill(f, face=100),
            f("Bills:BillRangeFrozen", **frozen, remainderRangeId=0, reasonHash=order),
            f("Bills:BillEscrowed", packageId=1, rangeId=2, acceptor=A["core2"], amount=100),
            f(
                "Bills:BillRangeForceTransferred",
                packageId=1,
                **{"from": A["supplier1"]},
                to=A["supplier2"],
                fromRangeId=2,
                newRangeId=3,
                start=1,
                end=100,
                remainderRangeId=0,
                reasonHash=order,
            ),
            f("Bills:BillRangeUnfrozen", packageId=1, rangeId=3, holder=A["supplier2"], reasonHash=order),
            f("Bills:BillEscrowReleased", packageId=1, rangeId=3, holder=A["supplier2"], amount=100),
        ],
    )
    assert _ranges(engine)[-1] == (3, A["supplier2"], 1, 100, "Paid", 0)
    hold = _hold(engine, "bill_range", 3)
    assert (hold["escrowed"], hold["released"], hold["status"]) == (100, 100, "released")
    assert [(m["kind"], m["range_id"], m["amount"]) for m in rows(engine, BillMovement)][-4:] == [
        ("escrowed", 2, 100),
        ("forced", 3, 100),
        ("unfrozen", 3, None),
        ("paid", 3, 100),
    ]
