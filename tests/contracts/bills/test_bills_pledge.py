"""Bills: pledge (质押) of a range to a financier and its release; a pledged range cannot move."""

from __future__ import annotations

from billkit import BillKit, RangeStatus

FACE = 1_000


def test_pledge_whole_range_in_place(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    event = kit.pledge(root, 1, FACE, "supplier1", "bank2")
    assert event == {
        "packageId": package_id,
        "holder": kit.addr("supplier1"),
        "pledgee": kit.addr("bank2"),
        "fromRangeId": root,
        "rangeId": root,
        "start": 1,
        "end": FACE,
        "remainderRangeId": 0,
    }
    assert kit.range(root).status == RangeStatus.PLEDGED
    assert kit.bills.functions.pledgeeOf(root).call() == kit.addr("bank2")
    kit.assert_covers(package_id)


def test_pledge_part_carves_same_holder_same_chain(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    second = kit.endorse_all(root, "supplier2", "supplier1")
    event = kit.pledge(second, 201, 300, "supplier2", "bank1")
    pledged = kit.range(event["rangeId"])
    assert (pledged.holder, pledged.status, pledged.prev) == (
        kit.addr("supplier2"),
        RangeStatus.PLEDGED,
        root,
    )
    assert event["remainderRangeId"] != 0
    assert kit.range(second).status == RangeStatus.HELD
    kit.assert_covers(package_id)


def test_pledge_range_cannot_move_or_be_presented(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.pledge(root, 1, FACE, "supplier1")
    with kit.reverts("BillWrongRangeStatus", root, RangeStatus.PLEDGED):
        kit.endorse(root, 1, 10, "supplier2", "supplier1")
    with kit.reverts("BillWrongRangeStatus", root, RangeStatus.PLEDGED):
        kit.quote(root, 1, 10, "bank2")
    with kit.reverts("BillWrongRangeStatus", root, RangeStatus.PLEDGED):
        kit.pledge(root, 1, FACE, "supplier1", "bank2")
    kit.mature(package_id)
    with kit.reverts("BillWrongRangeStatus", root, RangeStatus.PLEDGED):
        kit.present(root, "supplier1")


def test_release_pledge_by_pledgee_makes_range_movable(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.pledge(root, 1, FACE, "supplier1", "bank1")
    receipt = kit.tx(kit.bills.functions.releasePledge(root), "bank1")
    assert kit.event(receipt, "BillPledgeReleased") == {
        "packageId": package_id,
        "rangeId": root,
        "pledgee": kit.addr("bank1"),
        "holder": kit.addr("supplier1"),
    }
    assert kit.range(root).status == RangeStatus.HELD
    assert kit.bills.functions.pledgeeOf(root).call() == "0x" + "00" * 20
    kit.endorse(root, 1, 10, "supplier2", "supplier1")


def test_release_pledge_after_maturity_lets_holder_present(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.pledge(root, 1, FACE, "supplier1", "bank1")
    kit.mature(package_id)
    kit.tx(kit.bills.functions.releasePledge(root), "bank1")
    kit.present(root, "supplier1")
    assert kit.range(root).status == RangeStatus.PRESENTED


def test_release_pledge_reverts_for_others(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    kit.pledge(root, 1, FACE, "supplier1", "bank1")
    for who in ("supplier1", "bank2", "auditor"):
        with kit.reverts("BillNotPledgee", root, kit.addr(who)):
            kit.tx(kit.bills.functions.releasePledge(root), who)


def test_release_pledge_reverts_when_not_pledged(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    with kit.reverts("BillWrongRangeStatus", root, RangeStatus.HELD):
        kit.tx(kit.bills.functions.releasePledge(root), "bank1")


def test_pledge_reverts_for_pledgee_without_financier_role(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    with kit.reverts("RegistryMissingRole", kit.addr("supplier2"), 4, 2):
        kit.pledge(root, 1, FACE, "supplier1", "supplier2")
    with kit.reverts("RegistryUnknownParticipant", kit.addr("outsider")):
        kit.pledge(root, 1, FACE, "supplier1", "outsider")


def test_pledge_reverts_for_non_holder_and_rules(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE, splittable=False)
    with kit.reverts("BillNotHolder", root, kit.addr("supplier2"), kit.addr("supplier1")):
        kit.pledge(root, 1, FACE, "supplier2", "bank1")
    with kit.reverts("BillNotSplittable", package_id):
        kit.pledge(root, 1, 10, "supplier1", "bank1")
    locked_pkg, locked = kit.live(face=FACE, not_transferable=True)
    with kit.reverts("BillNotTransferable", locked_pkg):
        kit.pledge(locked, 1, FACE, "supplier1", "bank1")


def test_pledge_financier_holder_cannot_pledge_to_itself(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    bank_range = kit.discount(root, 1, FACE, "supplier1", "bank1")["newRangeId"]
    with kit.reverts("BillSelfTransfer", kit.addr("bank1")):
        kit.pledge(bank_range, 1, FACE, "bank1", "bank1")
    kit.pledge(bank_range, 1, FACE, "bank1", "bank2")  # rediscount-style pledge to another bank
