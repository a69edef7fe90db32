"""Receivables: issue, accept/reject/cancel, transfer/split with lineage, repay, claim, payout, default."""

from __future__ import annotations

import pytest
from certkit import (
    ACCEPTED,
    CANCELLED,
    DAY,
    DEFAULTED,
    FACE,
    ISSUED,
    REJECTED,
    REPAID,
    Kit,
    invoice,
)

from tierflow.testing.chain import Platform

ZERO = "0x" + "00" * 20


# --------------------------------------------------------------------------- issue


def test_issue_creates_slot_and_root_token(tf: Platform, kit: Kit) -> None:
    line = kit.line_of("core1")
    inv = [invoice(), invoice()]
    maturity = tf.now() + 90 * DAY
    receipt = tf.transact(
        tf.c.receivables.functions.issue(kit.a("supplier1"), FACE, maturity, line, inv), "core1"
    )
    (event,) = tf.events(receipt, tf.c.receivables, "CertificateIssued")
    assert event["obligor"] == kit.a("core1") and event["supplier"] == kit.a("supplier1")
    assert event["face"] == FACE and event["maturity"] == maturity and event["lineId"] == line
    assert list(event["invoiceHashes"]) == inv
    slot = kit.slot(event["slotId"])
    assert slot[0] == kit.a("core1") and slot[2] == FACE and slot[3] == maturity and slot[5] == ISSUED
    assert slot[8] == event["tokenId"] and slot[9] == 2
    token = kit.token(event["tokenId"])
    assert token[0] == kit.a("supplier1") and token[2] == FACE
    assert token[3] == 0 and token[4] == event["tokenId"]  # root: parent 0, root == itself
    assert kit.line(line)[3] == FACE
    assert list(tf.c.receivables.functions.invoicesOf(event["slotId"]).call()) == inv
    for h in inv:  # proposed only: they bind when the supplier accepts
        assert tuple(tf.c.documents.functions.assetOf(h).call()) == (ZERO, 0)
    tf.transact(tf.c.receivables.functions.accept(event["slotId"]), "supplier1")
    for h in inv:
        assert tuple(tf.c.documents.functions.assetOf(h).call()) == (
            tf.c.receivables.address,
            event["slotId"],
        )


def test_issue_reverts_when_invoice_already_used(tf: Platform, kit: Kit) -> None:
    h = invoice()
    slot_id, _ = kit.accepted(invoices=[h])
    with tf.reverts("DocumentAlreadyUsed", h, tf.c.receivables.address, slot_id):
        kit.issue(obligor="core1", supplier="supplier2", invoices=[h])


def test_accept_reverts_when_invoice_repeated_in_one_call(tf: Platform, kit: Kit) -> None:
    h = invoice()
    slot_id, _ = kit.issue(invoices=[h, h])
    with tf.reverts("DocumentAlreadyUsed", h, tf.c.receivables.address, slot_id):
        tf.transact(tf.c.receivables.functions.accept(slot_id), "supplier1")


def test_issue_reverts_when_invoice_used_by_another_obligor(tf: Platform, kit: Kit) -> None:
    h = invoice()
    kit.accepted(obligor="core1", invoices=[h])
    with tf.reverts("DocumentAlreadyUsed"):
        kit.issue(obligor="core2", invoices=[h])


def test_issue_second_proposal_allowed_only_one_accepted(tf: Platform, kit: Kit) -> None:
    h = invoice()
    first, _ = kit.issue(obligor="core1", invoices=[h])
    second, _ = kit.issue(obligor="core2", invoices=[h])
    tf.transact(tf.c.receivables.functions.accept(second), "supplier1")
    with tf.reverts("DocumentAlreadyUsed", h, tf.c.receivables.address, second):
        tf.transact(tf.c.receivables.functions.accept(first), "supplier1")
    tf.transact(tf.c.receivables.functions.reject(first), "supplier1")  # the loser is rejected


def test_invoice_squatting_unanswered_certificate_no_longer_blocks_seller(tf: Platform, kit: Kit) -> None:
    """The attack of issue 12 on certificates: a core enterprise proposes the seller's invoice and
    leaves the certificate unanswered; the genuine certificate on the same invoice still goes live."""
    h = invoice()
    kit.issue(obligor="core2", supplier="supplier1", invoices=[h])
    tf.increase_time(60 * DAY)
    slot_id, _ = kit.accepted(obligor="core1", supplier="supplier1", invoices=[h])
    assert tuple(tf.c.documents.functions.assetOf(h).call()) == (tf.c.receivables.address, slot_id)


def test_issue_reverts_without_invoices(tf: Platform, kit: Kit) -> None:
    line = kit.line_of("core1")
    fn = tf.c.receivables.functions.issue(kit.a("supplier1"), FACE, tf.now() + DAY, line, [])
    with tf.reverts("CertificateNoInvoices"):
        tf.transact(fn, "core1")


def test_issue_reverts_with_too_many_invoices(tf: Platform, kit: Kit) -> None:
    with tf.reverts("CertificateTooManyInvoices", 33, 32):
        kit.issue(invoices=[invoice() for _ in range(33)])


def test_issue_reverts_with_zero_hash(tf: Platform, kit: Kit) -> None:
    with tf.reverts("DocumentZeroHash"):
        kit.issue(invoices=[b"\0" * 32])


def test_issue_reverts_when_face_zero(tf: Platform, kit: Kit) -> None:
    with tf.reverts("CertificateInvalidAmount", 0, 1):
        kit.issue(face=0)


def test_issue_reverts_when_face_not_multiple_of_min_unit(tf: Platform, kit: Kit) -> None:
    tf.govern(tf.c.registry.functions.setParameters(180 * DAY, 7 * DAY, 100))
    with tf.reverts("CertificateInvalidAmount", 150, 100):
        kit.issue(face=150)
    kit.issue(face=200)


def test_issue_reverts_when_maturity_beyond_max_tenor(tf: Platform, kit: Kit) -> None:
    line = kit.line_of("core1")
    maturity = tf.now() + 200 * DAY
    fn = tf.c.receivables.functions.issue(kit.a("supplier1"), FACE, maturity, line, [invoice()])
    with tf.reverts("CertificateInvalidMaturity") as caught:
        tf.transact(fn, "core1")
    assert caught.error is not None and caught.error.values[0] == maturity
    assert 0 < maturity - caught.error.values[1] <= 20 * DAY + 5  # latest = now + 180 days


def test_issue_accepts_maturity_at_max_tenor(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.issue(days=179)
    assert kit.slot(slot_id)[5] == ISSUED


def test_issue_reverts_when_maturity_in_past(tf: Platform, kit: Kit) -> None:
    line = kit.line_of("core1")
    maturity = tf.now() - 1
    fn = tf.c.receivables.functions.issue(kit.a("supplier1"), FACE, maturity, line, [invoice()])
    with tf.reverts("CertificateInvalidMaturity") as caught:
        tf.transact(fn, "core1")
    assert caught.error is not None and caught.error.values[0] == maturity


def test_issue_reverts_when_line_exceeded(tf: Platform, kit: Kit) -> None:
    line = kit.grant("core1", limit=FACE + 50)
    kit.issue(line_id=line, face=FACE)
    with tf.reverts("CreditLineExceeded", line, 50, FACE):
        kit.issue(line_id=line, face=FACE)


def test_issue_reverts_when_line_of_another_obligor(tf: Platform, kit: Kit) -> None:
    line = kit.grant("core2")
    with tf.reverts("CreditLineWrongObligor", line, kit.a("core1")):
        kit.issue(obligor="core1", line_id=line)


def test_issue_reverts_when_line_expired(tf: Platform, kit: Kit) -> None:
    line = kit.grant("core1", days=1)
    expiry = kit.line(line)[4]
    tf.increase_time(2 * DAY)
    with tf.reverts("CreditLineExpired", line, expiry):
        kit.issue(line_id=line, days=30)


def test_issue_reverts_when_line_unknown(tf: Platform, kit: Kit) -> None:
    with tf.reverts("CreditLineUnknown", 99):
        kit.issue(line_id=99)


def test_issue_reverts_when_line_financier_suspended(tf: Platform, kit: Kit) -> None:
    line = kit.line_of("core1")
    tf.transact(tf.c.registry.functions.suspend(kit.a("bank1")), "operator")
    with tf.reverts("RegistryParticipantSuspended", kit.a("bank1")):
        kit.issue(line_id=line)


def test_issue_reverts_when_supplier_not_supplier(tf: Platform, kit: Kit) -> None:
    with tf.reverts("RegistryMissingRole", kit.a("bank2"), 2, 4):
        kit.issue(supplier="bank2")


def test_issue_reverts_when_supplier_suspended(tf: Platform, kit: Kit) -> None:
    tf.transact(tf.c.registry.functions.suspend(kit.a("supplier1")), "operator")
    with tf.reverts("RegistryParticipantSuspended", kit.a("supplier1")):
        kit.issue(supplier="supplier1")


def test_issue_reverts_when_supplier_unknown(tf: Platform, kit: Kit) -> None:
    with tf.reverts("RegistryUnknownParticipant", kit.a("outsider")):
        kit.issue(supplier="outsider")


def test_issue_reverts_when_issuing_to_self(tf: Platform, kit: Kit) -> None:
    tf.transact(tf.c.registry.functions.setRoles(kit.a("core1"), 3), "operator")
    with tf.reverts("CertificateSelfIssue", kit.a("core1")):
        kit.issue(obligor="core1", supplier="core1")


def test_issue_reverts_when_paused(tf: Platform, kit: Kit) -> None:
    kit.line_of("core1")
    tf.transact(tf.c.registry.functions.pause(), "operator")
    with tf.reverts("RegistryPlatformPaused"):
        kit.issue()


# --------------------------------------------------------------------------- accept / reject / cancel


def test_accept_by_named_supplier(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.issue()
    receipt = tf.transact(tf.c.receivables.functions.accept(slot_id), "supplier1")
    assert tf.events(receipt, tf.c.receivables, "CertificateAccepted") == [
        {"slotId": slot_id, "supplier": kit.a("supplier1")}
    ]
    assert kit.slot(slot_id)[5] == ACCEPTED


def test_accept_reverts_when_not_named_supplier(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.issue()
    with tf.reverts("CertificateNotSupplier", slot_id, kit.a("supplier2")):
        tf.transact(tf.c.receivables.functions.accept(slot_id), "supplier2")


def test_accept_reverts_when_already_accepted(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.accepted()
    with tf.reverts("CertificateWrongStatus", slot_id, ACCEPTED):
        tf.transact(tf.c.receivables.functions.accept(slot_id), "supplier1")


def test_accept_reverts_when_unknown_slot(tf: Platform, kit: Kit) -> None:
    with tf.reverts("CertificateUnknownSlot", 42):
        tf.transact(tf.c.receivables.functions.accept(42), "supplier1")


def test_accept_reverts_after_maturity(tf: Platform, kit: Kit) -> None:
    slot_id, token_id = kit.issue(days=1)
    maturity = kit.slot(slot_id)[3]
    kit.to_maturity(slot_id)
    with tf.reverts("CertificateMatured", token_id, maturity):
        tf.transact(tf.c.receivables.functions.accept(slot_id), "supplier1")


def test_reject_releases_credit_invoices_and_burns_root(tf: Platform, kit: Kit) -> None:
    h = invoice()
    slot_id, token_id = kit.issue(invoices=[h])
    line = kit.line_of("core1")
    receipt = tf.transact(tf.c.receivables.functions.reject(slot_id), "supplier1")
    assert tf.events(receipt, tf.c.receivables, "CertificateRejected") == [
        {"slotId": slot_id, "supplier": kit.a("supplier1")}
    ]
    assert tf.events(receipt, tf.c.documents, "DocumentRegistered") == []  # nothing was ever bound
    assert kit.slot(slot_id)[5] == REJECTED
    assert kit.line(line)[3] == 0
    assert kit.token(token_id)[0] == ZERO
    assert tuple(tf.c.documents.functions.assetOf(h).call()) == (ZERO, 0)
    kit.issue(invoices=[h])  # the invoice may back another certificate now


def test_reject_reverts_when_not_named_supplier(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.issue()
    with tf.reverts("CertificateNotSupplier", slot_id, kit.a("supplier2")):
        tf.transact(tf.c.receivables.functions.reject(slot_id), "supplier2")


def test_reject_reverts_when_accepted(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.accepted()
    with tf.reverts("CertificateWrongStatus", slot_id, ACCEPTED):
        tf.transact(tf.c.receivables.functions.reject(slot_id), "supplier1")


def test_cancel_by_issuer_releases_credit(tf: Platform, kit: Kit) -> None:
    h = invoice()
    slot_id, token_id = kit.issue(invoices=[h])
    receipt = tf.transact(tf.c.receivables.functions.cancel(slot_id), "core1")
    assert tf.events(receipt, tf.c.receivables, "CertificateCancelled") == [
        {"slotId": slot_id, "obligor": kit.a("core1")}
    ]
    assert kit.slot(slot_id)[5] == CANCELLED and kit.line(kit.line_of("core1"))[3] == 0
    assert kit.token(token_id)[0] == ZERO
    assert tuple(tf.c.documents.functions.assetOf(h).call()) == (ZERO, 0)


def test_cancel_reverts_when_not_issuer(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.issue()
    with tf.reverts("CertificateNotObligor", slot_id, kit.a("core2")):
        tf.transact(tf.c.receivables.functions.cancel(slot_id), "core2")


def test_cancel_reverts_after_acceptance(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.accepted()
    with tf.reverts("CertificateWrongStatus", slot_id, ACCEPTED):
        tf.transact(tf.c.receivables.functions.cancel(slot_id), "core1")


def test_cancel_reverts_when_rejected(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.issue()
    tf.transact(tf.c.receivables.functions.reject(slot_id), "supplier1")
    with tf.reverts("CertificateWrongStatus", slot_id, REJECTED):
        tf.transact(tf.c.receivables.functions.cancel(slot_id), "core1")


# --------------------------------------------------------------------------- transfer / split


def test_transfer_moves_whole_token(tf: Platform, kit: Kit) -> None:
    _, token_id = kit.accepted()
    receipt = tf.transact(tf.c.receivables.functions.transfer(token_id, kit.a("supplier2")), "supplier1")
    assert tf.events(receipt, tf.c.receivables, "CertificateTransferred") == [
        {"tokenId": token_id, "from": kit.a("supplier1"), "to": kit.a("supplier2"), "value": FACE}
    ]
    assert tf.c.receivables.functions.ownerOf(token_id).call() == kit.a("supplier2")


def test_transfer_reverts_before_acceptance(tf: Platform, kit: Kit) -> None:
    slot_id, token_id = kit.issue()
    with tf.reverts("CertificateWrongStatus", slot_id, ISSUED):
        tf.transact(tf.c.receivables.functions.transfer(token_id, kit.a("supplier2")), "supplier1")


def test_transfer_reverts_when_not_holder(tf: Platform, kit: Kit) -> None:
    _, token_id = kit.accepted()
    with tf.reverts("CertificateNotHolder", token_id, kit.a("supplier2"), kit.a("supplier1")):
        tf.transact(tf.c.receivables.functions.transfer(token_id, kit.a("supplier3")), "supplier2")


def test_transfer_reverts_at_maturity(tf: Platform, kit: Kit) -> None:
    slot_id, token_id = kit.accepted(days=10)
    maturity = kit.slot(slot_id)[3]
    kit.to_maturity(slot_id)
    with tf.reverts("CertificateMatured", token_id, maturity):
        tf.transact(tf.c.receivables.functions.transfer(token_id, kit.a("supplier2")), "supplier1")


def test_transfer_reverts_to_unregistered(tf: Platform, kit: Kit) -> None:
    _, token_id = kit.accepted()
    with tf.reverts("RegistryUnknownParticipant", kit.a("outsider")):
        tf.transact(tf.c.receivables.functions.transfer(token_id, kit.a("outsider")), "supplier1")


def test_transfer_reverts_to_suspended(tf: Platform, kit: Kit) -> None:
    _, token_id = kit.accepted()
    tf.transact(tf.c.registry.functions.suspend(kit.a("supplier2")), "operator")
    with tf.reverts("RegistryParticipantSuspended", kit.a("supplier2")):
        tf.transact(tf.c.receivables.functions.transfer(token_id, kit.a("supplier2")), "supplier1")


def test_transfer_reverts_from_suspended_holder(tf: Platform, kit: Kit) -> None:
    _, token_id = kit.accepted()
    tf.transact(tf.c.registry.functions.suspend(kit.a("supplier1")), "operator")
    with tf.reverts("RegistryParticipantSuspended", kit.a("supplier1")):
        tf.transact(tf.c.receivables.functions.transfer(token_id, kit.a("supplier2")), "supplier1")


def test_transfer_reverts_to_core_enterprise_or_auditor(tf: Platform, kit: Kit) -> None:
    _, token_id = kit.accepted()
    with tf.reverts("RegistryMissingRole", kit.a("core2"), 6, 1):
        tf.transact(tf.c.receivables.functions.transfer(token_id, kit.a("core2")), "supplier1")
    with tf.reverts("RegistryMissingRole", kit.a("auditor"), 6, 16):
        tf.transact(tf.c.receivables.functions.transfer(token_id, kit.a("auditor")), "supplier1")


def test_transfer_to_financier_allowed(tf: Platform, kit: Kit) -> None:
    _, token_id = kit.accepted()
    tf.transact(tf.c.receivables.functions.transfer(token_id, kit.a("bank2")), "supplier1")
    assert kit.token(token_id)[0] == kit.a("bank2")


def test_transfer_reverts_when_paused(tf: Platform, kit: Kit) -> None:
    _, token_id = kit.accepted()
    tf.transact(tf.c.registry.functions.pause(), "operator")
    with tf.reverts("RegistryPlatformPaused"):
        tf.transact(tf.c.receivables.functions.transfer(token_id, kit.a("supplier2")), "supplier1")
    tf.govern(tf.c.registry.functions.unpause())
    tf.transact(tf.c.receivables.functions.transfer(token_id, kit.a("supplier2")), "supplier1")


def test_transfer_reverts_when_unknown_token(tf: Platform, kit: Kit) -> None:
    with tf.reverts("CertificateUnknownToken", 77):
        tf.transact(tf.c.receivables.functions.transfer(77, kit.a("supplier2")), "supplier1")


def test_transfer_value_partial_creates_child_with_lineage(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    receipt = tf.transact(
        tf.c.receivables.functions.transferValue(root, kit.a("supplier2"), 30_000_000), "supplier1"
    )
    (event,) = tf.events(receipt, tf.c.receivables, "CertificateSplit")
    child = event["newTokenId"]
    assert event == {
        "fromTokenId": root, "newTokenId": child, "to": kit.a("supplier2"),
        "from": kit.a("supplier1"), "value": 30_000_000, "rootTokenId": root,
    }  # fmt: skip
    assert kit.token(root)[2] == FACE - 30_000_000
    assert tuple(kit.token(child)[:5]) == (kit.a("supplier2"), slot_id, 30_000_000, root, root)
    # tier 3: the child's child keeps the same root and names the child as parent
    grandchild = kit.transfer_value(child, "supplier2", "supplier3", 10_000_000)
    assert tuple(kit.token(grandchild)[:5]) == (kit.a("supplier3"), slot_id, 10_000_000, child, root)
    great = kit.transfer_value(grandchild, "supplier3", "supplier4", 1)
    assert tuple(kit.token(great)[:5]) == (kit.a("supplier4"), slot_id, 1, grandchild, root)


def test_transfer_value_whole_value_moves_same_token(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    last = tf.c.receivables.functions.lastTokenId().call()
    assert kit.transfer_value(root, "supplier1", "supplier2", FACE) == root
    assert kit.token(root)[0] == kit.a("supplier2")
    assert tf.c.receivables.functions.lastTokenId().call() == last


def test_transfer_value_reverts_when_zero(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    with tf.reverts("CertificateInvalidAmount", 0, 1):
        kit.transfer_value(root, "supplier1", "supplier2", 0)


def test_transfer_value_reverts_when_over_balance(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    with tf.reverts("CertificateInsufficientValue", root, FACE, FACE + 1):
        kit.transfer_value(root, "supplier1", "supplier2", FACE + 1)


def test_transfer_value_reverts_below_min_unit(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    tf.govern(tf.c.registry.functions.setParameters(180 * DAY, 7 * DAY, 100))
    with tf.reverts("CertificateInvalidAmount", 50, 100):
        kit.transfer_value(root, "supplier1", "supplier2", 50)
    with tf.reverts("CertificateInvalidAmount", 150, 100):
        kit.transfer_value(root, "supplier1", "supplier2", 150)
    kit.transfer_value(root, "supplier1", "supplier2", 100)


def test_transfer_value_reverts_when_locked(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, locked = kit.request_financing(root, amount=FACE)
    assert locked == root
    with tf.reverts("CertificateIsLocked", root, request_id):
        kit.transfer_value(root, "supplier1", "supplier2", 1)
    with tf.reverts("CertificateIsLocked", root, request_id):
        tf.transact(tf.c.receivables.functions.transfer(root, kit.a("supplier2")), "supplier1")


def test_split_to_self(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    receipt = tf.transact(tf.c.receivables.functions.split(root, 25_000_000), "supplier1")
    (event,) = tf.events(receipt, tf.c.receivables, "CertificateSplit")
    assert event["to"] == event["from"] == kit.a("supplier1")
    assert kit.token(event["newTokenId"])[2] == 25_000_000 and kit.token(root)[2] == FACE - 25_000_000


def test_split_reverts_when_over_balance(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    with tf.reverts("CertificateInsufficientValue", root, FACE, FACE * 2):
        tf.transact(tf.c.receivables.functions.split(root, FACE * 2), "supplier1")


def test_transfer_allowed_after_early_repayment_until_maturity(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    kit.repay(slot_id, FACE)
    assert kit.slot(slot_id)[5] == REPAID
    kit.transfer_value(root, "supplier1", "supplier2", 1_000)


# --------------------------------------------------------------------------- repay / claim / payout


def test_repay_full_restores_line_and_marks_repaid(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.accepted()
    line = kit.line_of("core1")
    kit.give("core1", FACE)
    kit.approve("core1", "receivables")
    receipt = tf.transact(tf.c.receivables.functions.repay(slot_id, FACE), "core1")
    assert tf.events(receipt, tf.c.receivables, "PayableRepaid") == [
        {"slotId": slot_id, "obligor": kit.a("core1"), "amount": FACE, "paidIn": FACE}
    ]
    slot = kit.slot(slot_id)
    assert slot[5] == REPAID and slot[6] == FACE
    assert kit.line(line)[3] == 0
    assert tf.c.token.functions.balanceOf(tf.c.receivables.address).call() == FACE


def test_repay_partial_in_steps(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.accepted()
    line = kit.line_of("core1")
    kit.repay(slot_id, 40_000_000)
    assert kit.slot(slot_id)[5] == ACCEPTED and kit.slot(slot_id)[6] == 40_000_000
    assert kit.line(line)[3] == FACE - 40_000_000
    kit.repay(slot_id, FACE - 40_000_000)
    assert kit.slot(slot_id)[5] == REPAID and kit.line(line)[3] == 0


def test_repay_reverts_when_overpaid(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.accepted()
    kit.repay(slot_id, FACE - 10)
    kit.give("core1", 20)
    with tf.reverts("CertificateOverpaid", slot_id, 10, 20):
        tf.transact(tf.c.receivables.functions.repay(slot_id, 20), "core1")


def test_repay_reverts_when_not_obligor(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.accepted()
    with tf.reverts("CertificateNotObligor", slot_id, kit.a("core2")):
        tf.transact(tf.c.receivables.functions.repay(slot_id, 1), "core2")


def test_repay_reverts_before_acceptance(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.issue()
    with tf.reverts("CertificateWrongStatus", slot_id, ISSUED):
        tf.transact(tf.c.receivables.functions.repay(slot_id, 1), "core1")


def test_repay_reverts_without_allowance(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.accepted()
    kit.give("core1", FACE)
    with tf.reverts("ERC20InsufficientAllowance", tf.c.receivables.address, 0, FACE):
        tf.transact(tf.c.receivables.functions.repay(slot_id, FACE), "core1")


def test_repay_reverts_when_zero(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.accepted()
    with tf.reverts("CertificateInvalidAmount", 0, 1):
        tf.transact(tf.c.receivables.functions.repay(slot_id, 0), "core1")


def test_claim_pays_each_holder_its_value_at_maturity(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    child = kit.transfer_value(root, "supplier1", "supplier2", 30_000_000)
    grand = kit.transfer_value(child, "supplier2", "supplier3", 5_000_000)
    kit.repay(slot_id, FACE)
    kit.to_maturity(slot_id)
    paid = {}
    for token_id, holder in ((root, "supplier1"), (child, "supplier2"), (grand, "supplier3")):
        before = kit.cash(holder)
        receipt = tf.transact(tf.c.receivables.functions.claim(token_id), holder)
        (event,) = tf.events(receipt, tf.c.receivables, "CertificateClaimed")
        assert event["holder"] == kit.a(holder) and event["slotId"] == slot_id
        paid[holder] = kit.cash(holder) - before
        assert kit.token(token_id)[2] == 0
    assert paid == {"supplier1": FACE - 30_000_000, "supplier2": 25_000_000, "supplier3": 5_000_000}
    assert kit.slot(slot_id)[7] == FACE
    assert tf.c.token.functions.balanceOf(tf.c.receivables.address).call() == 0


def test_claim_reverts_before_maturity(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    kit.repay(slot_id, FACE)
    with tf.reverts("CertificateNotMatured", slot_id, kit.slot(slot_id)[3]):
        tf.transact(tf.c.receivables.functions.claim(root), "supplier1")


def test_claim_reverts_when_nothing_paid_in(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    kit.to_maturity(slot_id)
    with tf.reverts("CertificateNothingToClaim", root, 0, 0):
        tf.transact(tf.c.receivables.functions.claim(root), "supplier1")
    # a part paid is claimable at once (pro rata; the sole holder takes it all), then nothing again
    kit.repay(slot_id, 100)
    tf.transact(tf.c.receivables.functions.claim(root), "supplier1")
    assert kit.cash("supplier1") == 100 and kit.token(root)[2] == FACE - 100
    with tf.reverts("CertificateNothingToClaim", root, 100, 100):
        tf.transact(tf.c.receivables.functions.claim(root), "supplier1")


def test_claim_reverts_when_claimed_twice(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    kit.repay(slot_id, FACE)
    kit.to_maturity(slot_id)
    tf.transact(tf.c.receivables.functions.claim(root), "supplier1")
    with tf.reverts("CertificateAlreadySettled", root):
        tf.transact(tf.c.receivables.functions.claim(root), "supplier1")


def test_claim_reverts_when_not_holder(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    kit.repay(slot_id, FACE)
    kit.to_maturity(slot_id)
    with tf.reverts("CertificateNotHolder", root, kit.a("supplier2"), kit.a("supplier1")):
        tf.transact(tf.c.receivables.functions.claim(root), "supplier2")


def test_claim_reverts_when_locked(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    kit.repay(slot_id, FACE)
    kit.to_maturity(slot_id)
    with tf.reverts("CertificateIsLocked", root, request_id):
        tf.transact(tf.c.receivables.functions.claim(root), "supplier1")
    tf.transact(tf.c.financing.functions.cancel(request_id), "supplier1")
    tf.transact(tf.c.receivables.functions.claim(root), "supplier1")


def test_claim_reverts_when_holder_suspended(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    kit.repay(slot_id, FACE)
    kit.to_maturity(slot_id)
    tf.transact(tf.c.registry.functions.suspend(kit.a("supplier1")), "operator")
    with tf.reverts("RegistryParticipantSuspended", kit.a("supplier1")):
        tf.transact(tf.c.receivables.functions.claim(root), "supplier1")


def test_payout_pays_batch_and_skips_settled_locked_and_suspended(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    a = kit.transfer_value(root, "supplier1", "supplier2", 10_000_000)
    b = kit.transfer_value(root, "supplier1", "supplier3", 20_000_000)
    c = kit.transfer_value(root, "supplier1", "supplier4", 30_000_000)
    request_id, locked = kit.request_financing(root, amount=5_000_000)
    kit.repay(slot_id, FACE)
    kit.to_maturity(slot_id)
    tf.transact(tf.c.receivables.functions.claim(a), "supplier2")
    tf.transact(tf.c.registry.functions.suspend(kit.a("supplier4")), "operator")
    receipt = tf.transact(tf.c.receivables.functions.payout([root, a, b, c, locked]), "operator")
    claimed = tf.events(receipt, tf.c.receivables, "CertificateClaimed")
    assert [(e["tokenId"], e["amount"]) for e in claimed] == [(root, FACE - 65_000_000), (b, 20_000_000)]
    assert kit.token(c)[2] == 30_000_000 and kit.token(locked)[2] == 5_000_000
    assert kit.token(locked)[6] == request_id


def test_payout_reverts_when_batch_too_large(tf: Platform, kit: Kit) -> None:
    with tf.reverts("CertificateBatchTooLarge", 101, 100):
        tf.transact(tf.c.receivables.functions.payout(list(range(1, 102))), "operator")


def test_payout_reverts_when_not_operator(tf: Platform, kit: Kit) -> None:
    with tf.reverts("CertificateNotOperator", kit.a("supplier1")):
        tf.transact(tf.c.receivables.functions.payout([1]), "supplier1")


def test_payout_reverts_when_nothing_to_pay(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    kit.to_maturity(slot_id)
    with tf.reverts("CertificateNothingToPay"):
        tf.transact(tf.c.receivables.functions.payout([root]), "operator")


# --------------------------------------------------------------------------- default


def test_mark_defaulted_after_grace_period(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted(days=10)
    kit.repay(slot_id, 1_000)
    kit.to_maturity(slot_id, extra=7 * DAY)
    receipt = tf.transact(tf.c.receivables.functions.markDefaulted(slot_id, root), "supplier1")
    assert tf.events(receipt, tf.c.receivables, "PayableDefaulted") == [
        {"slotId": slot_id, "unpaid": FACE - 1_000, "by": kit.a("supplier1")}
    ]
    assert kit.slot(slot_id)[5] == DEFAULTED


def test_mark_defaulted_reverts_during_grace_period(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.accepted(days=10)
    kit.to_maturity(slot_id, extra=DAY)
    with tf.reverts("CertificateGracePeriodRunning", slot_id, kit.slot(slot_id)[3] + 7 * DAY):
        tf.transact(tf.c.receivables.functions.markDefaulted(slot_id, 0), "operator")


def test_mark_defaulted_reverts_when_repaid(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.accepted(days=10)
    kit.repay(slot_id, FACE)
    kit.to_maturity(slot_id, extra=8 * DAY)
    with tf.reverts("CertificateWrongStatus", slot_id, REPAID):
        tf.transact(tf.c.receivables.functions.markDefaulted(slot_id, 0), "operator")


def test_mark_defaulted_reverts_for_core_auditor_outsider(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted(days=10)
    kit.to_maturity(slot_id, extra=8 * DAY)
    for who in ("core2", "auditor", "outsider"):
        with tf.reverts("CertificateNotAllowed", kit.a(who)):
            tf.transact(tf.c.receivables.functions.markDefaulted(slot_id, root), who)


def test_repay_after_default_reopens_claims(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted(days=10)
    kit.to_maturity(slot_id, extra=8 * DAY)
    tf.transact(tf.c.receivables.functions.markDefaulted(slot_id, 0), "operator")
    kit.repay(slot_id, FACE - 1)
    assert kit.slot(slot_id)[5] == DEFAULTED
    kit.repay(slot_id, 1)
    assert kit.slot(slot_id)[5] == REPAID
    tf.transact(tf.c.receivables.functions.claim(root), "supplier1")
    assert kit.cash("supplier1") == FACE


def test_views_owner_of_balance_of_slot_of(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    r = tf.c.receivables.functions
    assert r.ownerOf(root).call() == kit.a("supplier1")
    assert r.balanceOf(root).call() == FACE
    assert r.slotOf(root).call() == slot_id
    assert r.valueDecimals().call() == 2
    with tf.reverts("CertificateUnknownToken", 999):
        try:
            r.ownerOf(999).call()
        except Exception as error:  # a call raises web3's ContractCustomError: decode it the same way
            raise tf.decoder.from_exception(error) from None  # type: ignore[arg-type]


@pytest.mark.parametrize("tier_count", [5])
def test_transfer_value_many_tiers_keep_root(tf: Platform, kit: Kit, tier_count: int) -> None:
    _, root = kit.accepted(supplier="supplier1")
    holders = ["supplier1", "supplier2", "supplier3", "supplier4", "supplier1", "supplier2"]
    token_id, value = root, FACE
    for tier in range(tier_count):
        value //= 2
        token_id = kit.transfer_value(token_id, holders[tier], holders[tier + 1], value)
        assert kit.token(token_id)[4] == root
