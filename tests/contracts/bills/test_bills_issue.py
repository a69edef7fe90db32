"""Bills: issue (出票), cancel, accept (承兑), receive (收票) and reject, positive and negative."""

from __future__ import annotations

from billkit import DAY, YUAN, BillKit, RangeStatus
from eth_utils.crypto import keccak

from tierflow.chain.vocabulary import PackageStatus
from tierflow.testing.chain import Platform

ZERO = "0x0000000000000000000000000000000000000000"


def test_issue_records_package_and_proposes_invoices(tf: Platform, kit: BillKit) -> None:
    invoices = kit.invoices(2)
    maturity = tf.now() + 90 * DAY
    receipt = kit.tx(
        kit.bills.functions.issue(
            kit.addr("core1"), kit.addr("supplier1"), 5_000 * YUAN, maturity, True, False, invoices
        ),
        "core2",
    )
    event = kit.event(receipt, "BillIssued")
    package_id = event["packageId"]
    assert package_id == 1
    assert event["drawer"] == kit.addr("core2")
    assert event["acceptor"] == kit.addr("core1")
    assert event["payee"] == kit.addr("supplier1")
    assert event["face"] == 5_000 * YUAN
    assert event["maturity"] == maturity
    assert (event["splittable"], event["notTransferable"], event["bankAcceptance"]) == (True, False, False)
    assert list(event["invoiceHashes"]) == invoices
    package = kit.package(package_id)
    assert package["status"] == PackageStatus.ISSUED
    assert package["face"] == 5_000 * YUAN
    assert package["invoicesDigest"] == keccak(b"".join(invoices))[:12]
    for invoice in invoices:  # proposed, not bound: the payee has not consented yet
        assert list(kit.documents.functions.assetOf(invoice).call()) == [ZERO, 0]
    assert kit.bills.functions.nextPackageId().call() == 2


def test_issue_bank_acceptance_when_acceptor_is_financier(kit: BillKit) -> None:
    package_id = kit.issue(drawer="supplier2", acceptor="bank2", payee="supplier1")
    assert kit.package(package_id)["bankAcceptance"] is True


def test_issue_supplier_may_draw(kit: BillKit) -> None:
    package_id = kit.issue(drawer="supplier3", acceptor="core1", payee="supplier1")
    assert kit.package(package_id)["drawer"] == kit.addr("supplier3")


def test_issue_reverts_for_drawer_without_role(tf: Platform, kit: BillKit) -> None:
    for who, held in (("bank2", 4), ("auditor", 16)):
        with kit.reverts("RegistryMissingRole", kit.addr(who), 3, held):
            kit.issue(drawer=who)
    with kit.reverts("RegistryUnknownParticipant", kit.addr("outsider")):
        kit.issue(drawer="outsider")


def test_issue_reverts_for_acceptor_without_role(tf: Platform, kit: BillKit) -> None:
    with kit.reverts("RegistryMissingRole", kit.addr("supplier2"), 5, 2):
        kit.issue(acceptor="supplier2")
    with kit.reverts("RegistryMissingRole", kit.addr("auditor"), 5, 16):
        kit.issue(acceptor="auditor")


def test_issue_reverts_for_payee_without_role(tf: Platform, kit: BillKit) -> None:
    with kit.reverts("RegistryMissingRole", kit.addr("bank2"), 3, 4):
        kit.issue(payee="bank2")
    with kit.reverts("RegistryUnknownParticipant", kit.addr("outsider")):
        kit.issue(payee="outsider")


def test_issue_reverts_for_suspended_drawer(tf: Platform, kit: BillKit) -> None:
    kit.tx(kit.registry.functions.suspend(kit.addr("core2")), "operator")
    with kit.reverts("RegistryParticipantSuspended", kit.addr("core2")):
        kit.issue(drawer="core2")


def test_issue_reverts_for_invalid_face(tf: Platform, kit: BillKit) -> None:
    with kit.reverts("BillInvalidFace", 0, 1):
        kit.issue(face=0)
    with kit.reverts("BillInvalidFace", 2**64, 1):
        kit.issue(face=2**64)
    kit.tf.govern(kit.registry.functions.setParameters(180 * DAY, 7 * DAY, 100))
    with kit.reverts("BillInvalidFace", 150, 100):
        kit.issue(face=150)
    kit.issue(face=200)


def test_issue_reverts_for_maturity_outside_tenor(tf: Platform, kit: BillKit) -> None:
    now = tf.now()
    max_tenor = kit.registry.functions.maxTenor().call()
    too_late = now + max_tenor + 10 * DAY
    with kit.reverts("BillInvalidMaturity") as caught:
        kit.issue(maturity=too_late)
    assert caught.error is not None and caught.error.values[0] == too_late
    with kit.reverts("BillInvalidMaturity"):
        kit.issue(maturity=now - 1)
    kit.issue(maturity=tf.now() + max_tenor - 60)


def test_issue_reverts_without_invoices(tf: Platform, kit: BillKit) -> None:
    with kit.reverts("BillNoInvoices"):
        kit.issue(invoices=[])


def test_issue_reverts_when_invoice_already_backs_an_asset(tf: Platform, kit: BillKit) -> None:
    invoices = kit.invoices()
    first, _ = kit.live(invoices=invoices)
    with kit.reverts("DocumentAlreadyUsed", invoices[0], kit.bills.address, first):
        kit.issue(invoices=invoices)


def test_issue_second_proposal_allowed_only_one_received(tf: Platform, kit: BillKit) -> None:
    invoices = kit.invoices()
    first = kit.issue(invoices=invoices)
    second = kit.issue(drawer="core2", invoices=invoices)
    kit.accept(first)
    kit.accept(second)
    kit.receive(second)
    assert list(kit.documents.functions.assetOf(invoices[0]).call()) == [kit.bills.address, second]
    with kit.reverts("DocumentAlreadyUsed", invoices[0], kit.bills.address, second):
        kit.receive(first)


def test_invoice_squatting_self_accepted_bill_no_longer_blocks_seller(tf: Platform, kit: BillKit) -> None:
    """The attack of issue 12: a drawer that is its own acceptor proposes a 1-fen bill on the seller's
    invoice and never lets it go; the genuine seller's bill on the same invoice still goes live."""
    kit.tf.govern(kit.registry.functions.setParameters(180 * DAY, 7 * DAY, 1))
    invoices = kit.invoices()
    squat = kit.issue(
        drawer="core2", acceptor="core2", payee="supplier1", face=1, maturity=tf.now() + 170 * DAY,
        invoices=invoices,
    )  # fmt: skip
    kit.accept(squat, "core2")  # accepted by the attacker itself; the payee never received it
    tf.increase_time(120 * DAY)
    assert list(kit.documents.functions.assetOf(invoices[0]).call()) == [ZERO, 0]
    genuine, _ = kit.live(drawer="core1", acceptor="core1", payee="supplier1", invoices=invoices)
    assert list(kit.documents.functions.assetOf(invoices[0]).call()) == [kit.bills.address, genuine]
    # and the squatting bill can no longer bind the invoice
    with kit.reverts("DocumentAlreadyUsed", invoices[0], kit.bills.address, genuine):
        kit.receive(squat)


def test_issue_reverts_when_paused(tf: Platform, kit: BillKit, paused: None) -> None:
    with kit.reverts("RegistryPlatformPaused"):
        kit.issue()


def test_cancel_by_drawer_leaves_invoices_free(tf: Platform, kit: BillKit) -> None:
    invoices = kit.invoices(2)
    package_id = kit.issue(drawer="core2", acceptor="core1", invoices=invoices)
    receipt = kit.tx(kit.bills.functions.cancel(package_id), "core2")
    assert kit.event(receipt, "BillCancelled") == {"packageId": package_id, "by": kit.addr("core2")}
    assert kit.package(package_id)["status"] == PackageStatus.CANCELLED
    assert kit.documents.functions.assetOf(invoices[0]).call()[1] == 0
    kit.issue(invoices=invoices)  # the invoices may back another asset now


def test_cancel_by_acceptor_refusing_acceptance(kit: BillKit) -> None:
    invoices = kit.invoices()
    package_id = kit.issue(drawer="core2", acceptor="core1", invoices=invoices)
    kit.tx(kit.bills.functions.cancel(package_id), "core1")
    assert kit.package(package_id)["status"] == PackageStatus.CANCELLED


def test_cancel_reverts_for_others(tf: Platform, kit: BillKit) -> None:
    invoices = kit.invoices()
    package_id = kit.issue(invoices=invoices)
    for who in ("supplier1", "auditor", "outsider"):
        with kit.reverts("BillNotDrawerOrAcceptor", package_id, kit.addr(who)):
            kit.tx(kit.bills.functions.cancel(package_id), who)


def test_receive_reverts_for_wrong_invoices(tf: Platform, kit: BillKit) -> None:
    invoices = kit.invoices(2)
    package_id = kit.issue(invoices=invoices)
    kit.accept(package_id)
    for wrong in (invoices[:1], kit.invoices(2), invoices[::-1]):
        with kit.reverts("BillInvoicesMismatch", package_id):
            kit.tx(kit.bills.functions.receiveBill(package_id, wrong), "supplier1")


def test_cancel_reverts_after_acceptance(tf: Platform, kit: BillKit) -> None:
    invoices = kit.invoices()
    package_id = kit.issue(invoices=invoices)
    kit.accept(package_id)
    with kit.reverts("BillWrongPackageStatus", package_id, PackageStatus.ACCEPTED):
        kit.tx(kit.bills.functions.cancel(package_id), "core1")


def test_cancel_reverts_for_unknown_package(tf: Platform, kit: BillKit) -> None:
    with kit.reverts("BillUnknownPackage", 99):
        kit.tx(kit.bills.functions.cancel(99), "core1")


def test_accept_delivers_to_payee(kit: BillKit) -> None:
    package_id = kit.issue(drawer="supplier2", acceptor="bank1", payee="supplier1")
    receipt = kit.tx(kit.bills.functions.accept(package_id), "bank1")
    assert kit.event(receipt, "BillAccepted") == {
        "packageId": package_id,
        "acceptor": kit.addr("bank1"),
        "payee": kit.addr("supplier1"),
    }
    assert kit.package(package_id)["status"] == PackageStatus.ACCEPTED


def test_accept_reverts_for_non_acceptor(tf: Platform, kit: BillKit) -> None:
    package_id = kit.issue(drawer="core2", acceptor="core1")
    for who in ("core2", "supplier1", "auditor"):
        with kit.reverts("BillNotAcceptor", package_id, kit.addr(who)):
            kit.accept(package_id, who)


def test_accept_reverts_twice(tf: Platform, kit: BillKit) -> None:
    package_id = kit.issue()
    kit.accept(package_id)
    with kit.reverts("BillWrongPackageStatus", package_id, PackageStatus.ACCEPTED):
        kit.accept(package_id)


def test_accept_reverts_at_maturity(tf: Platform, kit: BillKit) -> None:
    maturity = tf.now() + 10 * DAY
    package_id = kit.issue(maturity=maturity)
    tf.increase_time(10 * DAY)
    with kit.reverts("BillMatured", package_id, maturity):
        kit.accept(package_id)


def test_accept_reverts_for_suspended_acceptor_or_payee(tf: Platform, kit: BillKit) -> None:
    package_id = kit.issue()
    kit.tx(kit.registry.functions.suspend(kit.addr("supplier1")), "operator")
    with kit.reverts("RegistryParticipantSuspended", kit.addr("supplier1")):
        kit.accept(package_id)
    kit.tx(kit.registry.functions.reinstate(kit.addr("supplier1")), "operator")
    kit.tx(kit.registry.functions.suspend(kit.addr("core1")), "operator")
    with kit.reverts("RegistryParticipantSuspended", kit.addr("core1")):
        kit.accept(package_id)


def test_receive_creates_root_range_covering_face(kit: BillKit) -> None:
    face = 1_234 * YUAN
    package_id = kit.issue(face=face)
    kit.accept(package_id)
    invoices = kit.issued_invoices(package_id)
    receipt = kit.tx(kit.bills.functions.receiveBill(package_id, invoices), "supplier1")
    event = kit.event(receipt, "BillReceived")
    assert event == {"packageId": package_id, "rangeId": 1, "payee": kit.addr("supplier1"), "face": face}
    root = kit.range(1)
    assert (root.holder, root.package_id, root.status) == (
        kit.addr("supplier1"),
        package_id,
        RangeStatus.HELD,
    )
    assert (root.start, root.end, root.prev) == (1, face, 0)
    assert kit.package(package_id)["status"] == PackageStatus.RECEIVED
    kit.assert_covers(package_id)


def test_receive_reverts_before_acceptance(tf: Platform, kit: BillKit) -> None:
    package_id = kit.issue()
    with kit.reverts("BillWrongPackageStatus", package_id, PackageStatus.ISSUED):
        kit.receive(package_id)


def test_receive_reverts_for_non_payee(tf: Platform, kit: BillKit) -> None:
    package_id = kit.issue()
    kit.accept(package_id)
    with kit.reverts("BillNotPayee", package_id, kit.addr("supplier2")):
        kit.receive(package_id, "supplier2")


def test_receive_reverts_at_maturity(tf: Platform, kit: BillKit) -> None:
    maturity = tf.now() + 5 * DAY
    package_id = kit.issue(maturity=maturity)
    kit.accept(package_id)
    tf.increase_time(5 * DAY)
    with kit.reverts("BillMatured", package_id, maturity):
        kit.receive(package_id)


def test_reject_leaves_invoices_free(tf: Platform, kit: BillKit) -> None:
    invoices = kit.invoices()
    package_id = kit.issue(invoices=invoices)
    kit.accept(package_id)
    receipt = kit.tx(kit.bills.functions.reject(package_id), "supplier1")
    assert kit.event(receipt, "BillRejected") == {"packageId": package_id, "payee": kit.addr("supplier1")}
    assert kit.package(package_id)["status"] == PackageStatus.REJECTED
    assert kit.documents.functions.assetOf(invoices[0]).call()[1] == 0
    with kit.reverts("BillWrongPackageStatus", package_id, PackageStatus.REJECTED):
        kit.receive(package_id)
    kit.live(invoices=invoices)  # the invoice may back another bill


def test_reject_reverts_for_non_payee_or_wrong_status(tf: Platform, kit: BillKit) -> None:
    invoices = kit.invoices()
    package_id = kit.issue(invoices=invoices)
    with kit.reverts("BillWrongPackageStatus", package_id, PackageStatus.ISSUED):
        kit.tx(kit.bills.functions.reject(package_id), "supplier1")
    kit.accept(package_id)
    with kit.reverts("BillNotPayee", package_id, kit.addr("core1")):
        kit.tx(kit.bills.functions.reject(package_id), "core1")
    kit.receive(package_id)
    with kit.reverts("BillWrongPackageStatus", package_id, PackageStatus.RECEIVED):
        kit.tx(kit.bills.functions.reject(package_id), "supplier1")
