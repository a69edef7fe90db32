"""Bills: recourse (追索) after dishonour along the endorsement chain, settled DvP, joint liability."""

from __future__ import annotations

from typing import Any

from billkit import BillKit, RangeStatus

FACE = 1_000


def dishonoured_chain(kit: BillKit, path: list[str], **issue: Any) -> tuple[int, int]:
    """Issue to path[0], endorse the whole range along `path`, mature, present and dishonour."""
    package_id, current = kit.live(face=FACE, payee=path[0], **issue)
    for frm, to in zip(path, path[1:], strict=False):
        current = kit.endorse_all(current, to, frm)
    kit.mature(package_id)
    kit.present(current, path[-1])
    kit.dishonour(current)
    return package_id, current


def test_claim_recourse_against_prior_endorser(kit: BillKit) -> None:
    package_id, held = dishonoured_chain(kit, ["supplier1", "supplier2", "supplier3"])
    receipt = kit.tx(kit.bills.functions.claimRecourse(held, kit.addr("supplier1")), "supplier3")
    assert kit.event(receipt, "BillRecourseClaimed") == {
        "packageId": package_id,
        "rangeId": held,
        "obligor": kit.addr("supplier1"),
        "holder": kit.addr("supplier3"),
        "amount": FACE,
    }
    obligor, ancestor = kit.bills.functions.recourseClaim(held).call()
    assert obligor == kit.addr("supplier1") and kit.range(ancestor).holder == kit.addr("supplier1")


def test_settle_recourse_pays_holder_and_hands_range_to_obligor(kit: BillKit) -> None:
    package_id, held = dishonoured_chain(kit, ["supplier1", "supplier2", "supplier3"])
    kit.claim(held, "supplier2", "supplier3")
    kit.fund("supplier2", FACE)
    holder_before, obligor_before = kit.balance("supplier3"), kit.balance("supplier2")
    receipt = kit.tx(kit.bills.functions.settleRecourse(held), "supplier2")
    event = kit.event(receipt, "BillRecourseSettled")
    assert event == {
        "packageId": package_id,
        "obligor": kit.addr("supplier2"),
        "holder": kit.addr("supplier3"),
        "fromRangeId": held,
        "newRangeId": held + 1,
        "amount": FACE,
    }
    assert kit.balance("supplier3") - holder_before == FACE
    assert obligor_before - kit.balance("supplier2") == FACE
    taken = kit.range(held + 1)
    assert (taken.holder, taken.status, taken.start, taken.end) == (
        kit.addr("supplier2"),
        RangeStatus.DISHONOURED,
        1,
        FACE,
    )
    assert kit.range(held).status == RangeStatus.CLOSED
    # the payer stands in its own place in the chain: only supplier1 (and the drawer) before it
    assert kit.endorsers(taken.id) == [kit.addr("supplier1")]
    kit.assert_covers(package_id)


def test_recourse_walks_back_to_the_drawer_and_acceptor_may_still_pay(kit: BillKit) -> None:
    package_id, held = dishonoured_chain(kit, ["supplier1", "supplier2", "supplier3"], drawer="core2")
    kit.claim(held, "supplier2", "supplier3")
    second = kit.settle(held, "supplier2")
    kit.claim(second, "supplier1", "supplier2")
    first = kit.settle(second, "supplier1")
    assert kit.endorsers(first) == []
    kit.claim(first, "core2", "supplier1")
    drawers = kit.settle(first, "core2")
    assert kit.range(drawers).holder == kit.addr("core2")
    # the drawer holding its own bill has no recourse against anyone
    with kit.reverts("BillRecourseNotAllowed", drawers, kit.addr("core2"), kit.addr("supplier1")):
        kit.claim(drawers, "supplier1", "core2")
    # but the acceptor remains liable and may pay late
    before = kit.balance("core2")
    kit.pay(drawers, "core1")
    assert kit.balance("core2") - before == FACE
    kit.assert_covers(package_id)


def test_claim_recourse_joint_liability_skips_intermediate_endorsers(kit: BillKit) -> None:
    _, held = dishonoured_chain(kit, ["supplier1", "supplier2", "supplier3", "supplier4"], drawer="core2")
    # supplier4 may go straight to the drawer or to any prior endorser
    for obligor in ("core2", "supplier1", "supplier2", "supplier3"):
        allowed, _ = kit.bills.functions.recourseAllowed(held, kit.addr(obligor)).call()
        assert allowed, obligor
    kit.claim(held, "supplier1", "supplier4")
    first = kit.settle(held, "supplier1")
    # supplier1 paid; it may claim only against the drawer now
    with kit.reverts("BillRecourseNotAllowed", first, kit.addr("supplier1"), kit.addr("supplier3")):
        kit.claim(first, "supplier3", "supplier1")
    kit.claim(first, "core2", "supplier1")


def test_claim_recourse_later_claim_replaces_earlier(kit: BillKit) -> None:
    _, held = dishonoured_chain(kit, ["supplier1", "supplier2", "supplier3"])
    kit.claim(held, "supplier1", "supplier3")
    kit.claim(held, "supplier2", "supplier3")
    kit.fund("supplier1", FACE)
    with kit.reverts("BillNotRecourseObligor", held, kit.addr("supplier1"), kit.addr("supplier2")):
        kit.tx(kit.bills.functions.settleRecourse(held), "supplier1")
    kit.settle(held, "supplier2")


def test_claim_recourse_reverts_against_later_or_unrelated_parties(kit: BillKit) -> None:
    _, held = dishonoured_chain(kit, ["supplier1", "supplier2", "supplier3"])
    for obligor in ("supplier4", "bank1", "supplier3"):
        with kit.reverts("BillRecourseNotAllowed", held, kit.addr("supplier3"), kit.addr(obligor)):
            kit.claim(held, obligor, "supplier3")
    with kit.reverts("RegistryUnknownParticipant", kit.addr("outsider")):
        kit.claim(held, "outsider", "supplier3")


def test_claim_recourse_holder_who_was_earlier_endorser_cannot_claim_against_those_after_it(
    kit: BillKit,
) -> None:
    # supplier1 → supplier2 → supplier3 → supplier1 (back to an earlier endorser)
    _, held = dishonoured_chain(kit, ["supplier1", "supplier2", "supplier3", "supplier1"], drawer="core2")
    for obligor in ("supplier2", "supplier3"):
        with kit.reverts("BillRecourseNotAllowed", held, kit.addr("supplier1"), kit.addr(obligor)):
            kit.claim(held, obligor, "supplier1")
    kit.claim(held, "core2", "supplier1")


def test_settle_recourse_obligor_appearing_twice_takes_its_earliest_place(kit: BillKit) -> None:
    # supplier1 → supplier2 → supplier3 → supplier2 → supplier4: supplier2 appears twice
    path = ["supplier1", "supplier2", "supplier3", "supplier2", "supplier4"]
    _, held = dishonoured_chain(kit, path, drawer="core2")
    kit.claim(held, "supplier2", "supplier4")
    taken = kit.settle(held, "supplier2")
    assert kit.endorsers(taken) == [kit.addr("supplier1")]
    with kit.reverts("BillRecourseNotAllowed", taken, kit.addr("supplier2"), kit.addr("supplier3")):
        kit.claim(taken, "supplier3", "supplier2")


def test_claim_recourse_on_part_of_the_bill(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    part = int(kit.endorse(root, 301, 700, "supplier2", "supplier1")["newRangeId"])
    kit.mature(package_id)
    kit.present(part, "supplier2")
    kit.dishonour(part)
    kit.claim(part, "supplier1", "supplier2")
    taken = kit.settle(part, "supplier1")
    assert (kit.range(taken).start, kit.range(taken).end) == (301, 700)
    ranges = kit.assert_covers(package_id)
    assert [(r.holder, r.start) for r in ranges] == [
        (kit.addr("supplier1"), 1),
        (kit.addr("supplier1"), 301),
        (kit.addr("supplier1"), 701),
    ]


def test_claim_recourse_reverts_unless_dishonoured(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE, drawer="core2")
    second = kit.endorse_all(root, "supplier2", "supplier1")
    with kit.reverts("BillWrongRangeStatus", second, RangeStatus.HELD):
        kit.claim(second, "supplier1", "supplier2")
    kit.mature(package_id)
    kit.present(second, "supplier2")
    with kit.reverts("BillWrongRangeStatus", second, RangeStatus.PRESENTED):
        kit.claim(second, "supplier1", "supplier2")


def test_claim_recourse_reverts_for_non_holder(kit: BillKit) -> None:
    _, held = dishonoured_chain(kit, ["supplier1", "supplier2"])
    with kit.reverts("BillNotHolder", held, kit.addr("supplier1"), kit.addr("supplier2")):
        kit.claim(held, "core1", "supplier1")


def test_settle_recourse_reverts_without_claim_or_for_others(kit: BillKit) -> None:
    _, held = dishonoured_chain(kit, ["supplier1", "supplier2"], drawer="core2")
    with kit.reverts("BillNotRecourseObligor", held, kit.addr("supplier1"), "0x" + "00" * 20):
        kit.tx(kit.bills.functions.settleRecourse(held), "supplier1")
    kit.claim(held, "core2", "supplier2")
    with kit.reverts("BillNotRecourseObligor", held, kit.addr("supplier1"), kit.addr("core2")):
        kit.tx(kit.bills.functions.settleRecourse(held), "supplier1")


def test_settle_recourse_reverts_without_obligor_funds(kit: BillKit) -> None:
    _, held = dishonoured_chain(kit, ["supplier1", "supplier2"])
    kit.claim(held, "supplier1", "supplier2")
    with kit.reverts("ERC20InsufficientAllowance"):
        kit.tx(kit.bills.functions.settleRecourse(held), "supplier1")
    assert kit.range(held).status == RangeStatus.DISHONOURED


def test_recourse_after_discount_reaches_the_seller(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    bank_range = int(kit.discount(root, 1, FACE, "supplier1", "bank1")["newRangeId"])
    kit.mature(package_id)
    kit.present(bank_range, "bank1")
    kit.dishonour(bank_range)
    kit.claim(bank_range, "supplier1", "bank1")
    before = kit.balance("bank1")
    kit.settle(bank_range, "supplier1")
    assert kit.balance("bank1") - before == FACE


def test_claim_recourse_reverts_for_acceptor_holding_its_own_bill(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE, drawer="core2", acceptor="core1")
    back = kit.endorse_all(root, "core1", "supplier1")  # endorsed back to the acceptor (回头背书)
    kit.mature(package_id)
    kit.present(back, "core1")
    kit.dishonour(back, "core1")
    for obligor in ("supplier1", "core2"):
        with kit.reverts("BillRecourseNotAllowed", back, kit.addr("core1"), kit.addr(obligor)):
            kit.claim(back, obligor, "core1")
