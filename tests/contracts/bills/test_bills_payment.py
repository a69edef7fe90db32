"""Bills: presentment (提示付款), payment by the acceptor, dishonour (拒付) and late payment."""

from __future__ import annotations

from billkit import DAY, BillKit, RangeStatus

from tierflow.testing.chain import Platform

FACE = 1_000


def test_present_at_maturity_by_holder(tf: Platform, kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.mature(package_id)
    receipt = kit.tx(kit.bills.functions.present(root), "supplier1")
    assert kit.event(receipt, "BillPresented") == {
        "packageId": package_id,
        "rangeId": root,
        "holder": kit.addr("supplier1"),
        "amount": FACE,
    }
    r = kit.range(root)
    assert r.status == RangeStatus.PRESENTED
    assert r.presented_at == tf.w3.eth.get_block(receipt["blockNumber"])["timestamp"]


def test_present_reverts_before_maturity(tf: Platform, kit: BillKit) -> None:
    maturity = tf.now() + 20 * DAY
    package_id, root = kit.live(face=FACE, maturity=maturity)
    with kit.reverts("BillNotMatured", package_id, maturity):
        kit.present(root, "supplier1")


def test_present_reverts_for_non_holder_or_twice(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.mature(package_id)
    with kit.reverts("BillNotHolder", root, kit.addr("core1"), kit.addr("supplier1")):
        kit.present(root, "core1")
    kit.present(root, "supplier1")
    with kit.reverts("BillWrongRangeStatus", root, RangeStatus.PRESENTED):
        kit.present(root, "supplier1")


def test_pay_pays_every_holder_exactly_its_range(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    a = int(kit.endorse(root, 1, 250, "supplier2", "supplier1")["newRangeId"])
    b = int(kit.discount(root, 251, 600, "supplier1", "bank1")["newRangeId"])
    kit.mature(package_id)
    paid: dict[str, int] = {}
    for range_id, holder in ((a, "supplier2"), (b, "bank1"), (root, "supplier1")):
        kit.present(range_id, holder)
        before = kit.balance(holder)
        event = kit.pay(range_id)
        paid[holder] = kit.balance(holder) - before
        assert event == {
            "packageId": package_id,
            "rangeId": range_id,
            "acceptor": kit.addr("core1"),
            "holder": kit.addr(holder),
            "amount": kit.range(range_id).amount,
        }
        assert kit.range(range_id).status == RangeStatus.PAID
    assert paid == {"supplier2": 250, "bank1": 350, "supplier1": 400}
    assert sum(r.amount for r in kit.assert_covers(package_id) if r.status == RangeStatus.PAID) == FACE


def test_pay_reverts_twice(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.mature(package_id)
    kit.present(root, "supplier1")
    kit.pay(root)
    with kit.reverts("BillWrongRangeStatus", root, RangeStatus.PAID):
        kit.pay(root)


def test_pay_reverts_before_presentment(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.mature(package_id)
    with kit.reverts("BillWrongRangeStatus", root, RangeStatus.HELD):
        kit.pay(root)


def test_pay_reverts_for_non_acceptor(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE, drawer="core2", acceptor="core1")
    kit.mature(package_id)
    kit.present(root, "supplier1")
    for who in ("core2", "supplier1", "bank1", "auditor"):
        with kit.reverts("BillNotAcceptor", package_id, kit.addr(who)):
            kit.tx(kit.bills.functions.pay(root), who)


def test_pay_reverts_without_acceptor_funds(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.mature(package_id)
    kit.present(root, "supplier1")
    with kit.reverts("ERC20InsufficientAllowance"):
        kit.tx(kit.bills.functions.pay(root), "core1")
    assert kit.range(root).status == RangeStatus.PRESENTED


def test_pay_bank_acceptance_by_bank(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE, drawer="supplier2", acceptor="bank2", payee="supplier1")
    kit.mature(package_id)
    kit.present(root, "supplier1")
    before = kit.balance("supplier1")
    kit.pay(root, "bank2")
    assert kit.balance("supplier1") - before == FACE


def test_dishonour_by_acceptor_with_reason(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.mature(package_id)
    kit.present(root, "supplier1")
    receipt = kit.tx(kit.bills.functions.dishonour(root, 3), "core1")
    assert kit.event(receipt, "BillDishonoured") == {
        "packageId": package_id,
        "rangeId": root,
        "by": kit.addr("core1"),
        "holder": kit.addr("supplier1"),
        "amount": FACE,
        "reason": 3,
    }
    assert kit.range(root).status == RangeStatus.DISHONOURED


def test_dishonour_reverts_for_reason_zero_or_wrong_party(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.mature(package_id)
    kit.present(root, "supplier1")
    with kit.reverts("BillInvalidReason", 0):
        kit.tx(kit.bills.functions.dishonour(root, 0), "core1")
    with kit.reverts("BillNotAcceptor", package_id, kit.addr("supplier1")):
        kit.tx(kit.bills.functions.dishonour(root, 1), "supplier1")


def test_dishonour_reverts_unless_presented(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.mature(package_id)
    with kit.reverts("BillWrongRangeStatus", root, RangeStatus.HELD):
        kit.dishonour(root)


def test_dishonour_unanswered_after_grace_period_by_holder(tf: Platform, kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.mature(package_id)
    kit.present(root, "supplier1")
    grace = kit.registry.functions.gracePeriod().call()
    dishonourable_at = kit.range(root).presented_at + grace
    with kit.reverts("BillResponsePending", root, dishonourable_at):
        kit.tx(kit.bills.functions.dishonourUnanswered(root), "supplier1")
    tf.increase_time(grace)
    receipt = kit.tx(kit.bills.functions.dishonourUnanswered(root), "supplier1")
    assert kit.event(receipt, "BillDishonoured")["reason"] == 0
    assert kit.event(receipt, "BillDishonoured")["by"] == kit.addr("supplier1")


def test_dishonour_unanswered_reverts_for_others_or_unpresented(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.mature(package_id)
    with kit.reverts("BillWrongRangeStatus", root, RangeStatus.HELD):
        kit.tx(kit.bills.functions.dishonourUnanswered(root), "supplier1")
    with kit.reverts("BillNotHolder", root, kit.addr("supplier2"), kit.addr("supplier1")):
        kit.tx(kit.bills.functions.dishonourUnanswered(root), "supplier2")


def test_pay_late_after_dishonour_clears_claim(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    second = kit.endorse_all(root, "supplier2", "supplier1")
    kit.mature(package_id)
    kit.present(second, "supplier2")
    kit.dishonour(second)
    kit.claim(second, "supplier1", "supplier2")
    before = kit.balance("supplier2")
    kit.pay(second)
    assert kit.balance("supplier2") - before == FACE
    assert list(kit.bills.functions.recourseClaim(second).call()) == ["0x" + "00" * 20, 0]
    with kit.reverts("BillWrongRangeStatus", second, RangeStatus.PAID):
        kit.settle(second, "supplier1")


def test_present_reverts_when_paused(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.mature(package_id)
    kit.tx(kit.registry.functions.pause(), "operator")
    with kit.reverts("RegistryPlatformPaused"):
        kit.present(root, "supplier1")
