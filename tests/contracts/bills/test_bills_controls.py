"""Asset-level controls on bills (issue 15): a judicial hold on a range, forced transfer, key recovery."""

from __future__ import annotations

import pytest
from billkit import YUAN, BillKit, RangeStatus

from tierflow.testing.chain import Platform

ORDER = b"\x0c" * 32  # hash of a court order
RELEASE = b"\x0d" * 32
REVERIFIED = b"\x0e" * 32
FACE = 10_000 * YUAN


def _freeze(kit: BillKit, range_id: int, start: int, end: int) -> dict[str, object]:
    receipt = kit.tx(kit.bills.functions.freezeRange(range_id, start, end, ORDER), "operator")
    return kit.event(receipt, "BillRangeFrozen")


def test_freeze_range_part_blocks_every_move_of_the_frozen_part(tf: Platform, kit: BillKit) -> None:
    package_id, root = kit.live()
    event = _freeze(kit, root, 2_001, 5_000)  # a middle cut: the holder keeps both sides
    frozen = int(event["rangeId"])
    assert kit.range(frozen).status == RangeStatus.FROZEN
    assert kit.range(frozen).holder == kit.addr("supplier1")
    assert event["reasonHash"] == ORDER  # the order is in the event (and the indexer), not in storage
    assert event["remainderRangeId"] != 0 and kit.range(root).end == 2_000
    b = kit.bills.functions
    for fn in (
        b.endorse(frozen, 2_001, 5_000, kit.addr("supplier2")),
        b.endorse(frozen, 2_001, 3_000, kit.addr("supplier2")),
        b.pledge(frozen, 2_001, 5_000, kit.addr("bank1")),
    ):
        with kit.reverts("BillWrongRangeStatus", frozen, RangeStatus.FROZEN):
            kit.tx(fn, "supplier1")
    with kit.reverts("BillWrongRangeStatus", frozen, RangeStatus.FROZEN):
        kit.quote(frozen, 2_001, 5_000)
    kit.endorse(root, 1, 2_000, "supplier2", "supplier1")  # the free part moves
    kit.assert_covers(package_id)
    kit.mature(package_id)
    with kit.reverts("BillWrongRangeStatus", frozen, RangeStatus.FROZEN):
        kit.present(frozen, "supplier1")
    kit.fund("core1", 3_000)  # the acceptor's payment goes into escrow: the frozen part does not move
    kit.tx(kit.bills.functions.pay(frozen), "core1")
    assert kit.range(frozen).status == RangeStatus.FROZEN and kit.balance("supplier1") == 0
    with kit.reverts("BillWrongRangeStatus", frozen, RangeStatus.FROZEN):  # and only once
        kit.tx(kit.bills.functions.pay(frozen), "core1")


def test_frozen_range_is_paid_only_after_release(tf: Platform, kit: BillKit) -> None:
    package_id, root = kit.live()
    frozen = int(_freeze(kit, root, 1, FACE)["rangeId"])
    assert kit.range(root).status == RangeStatus.CLOSED  # a control always carves a new record
    kit.mature(package_id)
    with kit.reverts("BillWrongRangeStatus", frozen, RangeStatus.FROZEN):
        kit.present(frozen, "supplier1")
    receipt = kit.tx(kit.bills.functions.unfreezeRange(frozen, RELEASE), "operator")
    assert kit.event(receipt, "BillRangeUnfrozen")["reasonHash"] == RELEASE
    kit.present(frozen, "supplier1")
    kit.pay(frozen)
    assert kit.balance("supplier1") == FACE
    with kit.reverts("BillWrongRangeStatus", frozen, RangeStatus.PAID):
        kit.tx(kit.bills.functions.unfreezeRange(frozen, RELEASE), "operator")
    with kit.reverts("BillNoReason"):
        kit.tx(kit.bills.functions.freezeRange(frozen, 1, FACE, b"\0" * 32), "operator")


def test_force_transfer_range_carries_the_hold_to_the_new_holder(tf: Platform, kit: BillKit) -> None:
    package_id, root = kit.live(not_transferable=True)  # a court order overrides 不得转让
    frozen = int(_freeze(kit, root, 1, FACE)["rangeId"])
    b = kit.bills.functions
    with kit.reverts("BillWrongRangeStatus", frozen, RangeStatus.FROZEN):  # a hold moves whole
        kit.tf.govern(b.forceTransferRange(frozen, 1, 100, kit.addr("supplier2"), ORDER))
    receipt = kit.tf.govern(b.forceTransferRange(frozen, 1, FACE, kit.addr("supplier2"), ORDER))
    moved = int(kit.event(receipt, "BillRangeForceTransferred")["newRangeId"])
    r = kit.range(moved)
    assert r.holder == kit.addr("supplier2") and r.status == RangeStatus.FROZEN
    assert r.prev == kit.range(root).prev  # steps into the holder's place: no endorsement
    assert kit.event(receipt, "BillRangeForceTransferred")["reasonHash"] == ORDER
    kit.mature(package_id)
    kit.tx(b.unfreezeRange(moved, RELEASE), "operator")
    kit.present(moved, "supplier2")
    kit.pay(moved)
    assert kit.balance("supplier2") == FACE and kit.balance("supplier1") == 0


def test_force_transfer_range_part_without_the_holder(tf: Platform, kit: BillKit) -> None:
    package_id, root = kit.live()
    kit.tx(kit.registry.functions.suspend(kit.addr("supplier1")), "operator")
    receipt = kit.tf.govern(kit.bills.functions.forceTransferRange(root, 1, 1_000, kit.addr("bank2"), ORDER))
    moved = int(kit.event(receipt, "BillRangeForceTransferred")["newRangeId"])
    assert kit.range(moved).holder == kit.addr("bank2") and kit.range(moved).status == RangeStatus.HELD
    with kit.reverts("BillSelfTransfer"):
        kit.tf.govern(kit.bills.functions.forceTransferRange(moved, 1, 1_000, kit.addr("bank2"), ORDER))
    kit.assert_covers(package_id)


@pytest.mark.parametrize("caller", ["supplier1", "core1", "bank1", "auditor", "outsider"])
def test_bill_controls_revert_for_anyone_but_governance(tf: Platform, kit: BillKit, caller: str) -> None:
    package_id, root = kit.live()
    frozen = int(_freeze(kit, root, 1, 1_000)["rangeId"])
    b = kit.bills.functions
    address = kit.addr(caller)
    for fn in (
        b.freezeRange(root, 1_001, FACE, ORDER),
        b.unfreezeRange(frozen, RELEASE),
        b.forceTransferRange(root, 1_001, FACE, kit.addr("supplier2"), ORDER),
        b.recoverParties(kit.addr("supplier1"), address, [root], REVERIFIED),
    ):
        with kit.reverts("BillNotGovernance", address):
            kit.tx(fn, caller)
    assert kit.range(frozen).status == RangeStatus.FROZEN


def test_recover_parties_moves_records_and_bars_the_old_key(tf: Platform, kit: BillKit) -> None:
    package_id, root = kit.live()
    endorsed = kit.endorse(root, 1, 4_000, "supplier2", "supplier1")
    new = tf.extra_account(2).address
    b = kit.bills.functions
    old = kit.addr("supplier1")
    with kit.reverts("BillNotRecovered", old, new, 1):  # the registry decides first
        kit.tf.govern(b.recoverParties(old, new, [root], REVERIFIED))
    kit.tf.govern(kit.registry.functions.recover(old, new, REVERIFIED))
    with kit.reverts("BillNotParty", int(endorsed["newRangeId"]), old):  # supplier2's record
        kit.tf.govern(b.recoverParties(old, new, [root, int(endorsed["newRangeId"])], REVERIFIED))
    with kit.reverts("BillNotRecovered", old, new, 0):
        kit.tf.govern(b.recoverParties(old, new, [], REVERIFIED))
    kit.tf.govern(b.recoverParties(old, new, [root], REVERIFIED))
    assert kit.range(root).holder == new
    assert kit.package(package_id)["payee"] == old  # package parties stay (Bills is at its code-size limit)
    # supplier2's chain now names the new key, so recourse follows the entity
    assert list(b.endorsers(int(endorsed["newRangeId"])).call()) == [new]
    with kit.reverts("RegistryParticipantSuspended", old):  # the old key is barred
        kit.endorse(root, 4_001, 5_000, "supplier3", "supplier1")
    with kit.reverts("RegistryAccountRecovered", old, new):
        kit.tx(kit.registry.functions.reinstate(old), "operator")
