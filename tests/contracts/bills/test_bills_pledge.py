"""Bills: pledge (质押) of a range to a financier and its release; a pledged range cannot move."""

from __future__ import annotations

from billkit import BillKit, RangeStatus

FACE = 1_000


def test_pledge_wholeRangeInPlace(kit: BillKit) -> None:
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


def test_pledge_partCarvesSameHolderSameChain(kit: BillKit) -> None:
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


def test_pledge_rangeCannotMoveOrBePresented(kit: BillKit) -> None:
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


def test_releasePledge_byPledgeeMakesRangeMovable(kit: BillKit) -> None:
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


def test_releasePledge_afterMaturityLetsHolderPresent(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.pledge(root, 1, FACE, "supplier1", "bank1")
    kit.mature(package_id)
    kit.tx(kit.bills.functions.releasePledge(root), "bank1")
    kit.present(root, "supplier1")
    assert kit.range(root).status == RangeStatus.PRESENTED


def test_releasePledge_revertsForOthers(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    kit.pledge(root, 1, FACE, "supplier1", "bank1")
    for who in ("supplier1", "bank2", "auditor"):
        with kit.reverts("BillNotPledgee", root, kit.addr(who)):
            kit.tx(kit.bills.functions.releasePledge(root), who)


def test_releasePledge_revertsWhenNotPledged(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    with kit.reverts("BillWrongRangeStatus", root, RangeStatus.HELD):
        kit.tx(kit.bills.functions.releasePledge(root), "bank1")


def test_pledge_revertsForPledgeeWithoutFinancierRole(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    with kit.reverts("RegistryMissingRole", kit.addr("supplier2"), 4, 2):
        kit.pledge(root, 1, FACE, "supplier1", "supplier2")
    with kit.reverts("RegistryUnknownParticipant", kit.addr("outsider")):
        kit.pledge(root, 1, FACE, "supplier1", "outsider")


def test_pledge_revertsForNonHolderAndRules(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE, splittable=False)
    with kit.reverts("BillNotHolder", root, kit.addr("supplier2"), kit.addr("supplier1")):
        kit.pledge(root, 1, FACE, "supplier2", "bank1")
    with kit.reverts("BillNotSplittable", package_id):
        kit.pledge(root, 1, 10, "supplier1", "bank1")
    locked_pkg, locked = kit.live(face=FACE, not_transferable=True)
    with kit.reverts("BillNotTransferable", locked_pkg):
        kit.pledge(locked, 1, FACE, "supplier1", "bank1")


def test_pledge_financierHolderCannotPledgeToItself(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    bank_range = kit.discount(root, 1, FACE, "supplier1", "bank1")["newRangeId"]
    with kit.reverts("BillSelfTransfer", kit.addr("bank1")):
        kit.pledge(bank_range, 1, FACE, "bank1", "bank1")
    kit.pledge(bank_range, 1, FACE, "bank1", "bank2")  # rediscount-style pledge to another bank
