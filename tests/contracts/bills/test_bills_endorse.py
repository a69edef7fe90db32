"""Bills: endorsement (背书转让) of whole ranges and sub-ranges, the carving rule, the endorsement chain."""

from __future__ import annotations

from billkit import DAY, BillKit, RangeStatus

from tierflow.testing.chain import Platform

FACE = 1_000


def test_endorse_whole_range_creates_linked_record_and_closes_old(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    event = kit.endorse(root, 1, FACE, "supplier2", "supplier1")
    assert event == {
        "packageId": package_id,
        "from": kit.addr("supplier1"),
        "to": kit.addr("supplier2"),
        "fromRangeId": root,
        "newRangeId": root + 1,
        "start": 1,
        "end": FACE,
        "remainderRangeId": 0,
    }
    old, new = kit.range(root), kit.range(root + 1)
    assert old.status == RangeStatus.CLOSED and old.holder == kit.addr("supplier1")
    assert (new.holder, new.start, new.end, new.prev, new.status) == (
        kit.addr("supplier2"),
        1,
        FACE,
        root,
        RangeStatus.HELD,
    )
    assert kit.endorsers(root + 1) == [kit.addr("supplier1")]
    kit.assert_covers(package_id)


def test_endorse_prefix_keeps_right_part_in_old_record(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    event = kit.endorse(root, 1, 300, "supplier2", "supplier1")
    new = kit.range(event["newRangeId"])
    assert (new.start, new.end, new.holder) == (1, 300, kit.addr("supplier2"))
    old = kit.range(root)
    assert (old.start, old.end, old.status) == (301, FACE, RangeStatus.HELD)
    assert event["remainderRangeId"] == 0
    kit.assert_covers(package_id)


def test_endorse_suffix_keeps_left_part_in_old_record(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    event = kit.endorse(root, 701, FACE, "supplier2", "supplier1")
    assert (kit.range(root).start, kit.range(root).end) == (1, 700)
    assert event["remainderRangeId"] == 0
    kit.assert_covers(package_id)


def test_endorse_middle_cut_creates_remainder_with_parent_chain(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    second = kit.endorse_all(root, "supplier2", "supplier1")
    event = kit.endorse(second, 401, 600, "supplier3", "supplier2")
    moved, remainder = kit.range(event["newRangeId"]), kit.range(event["remainderRangeId"])
    assert (moved.start, moved.end, moved.holder, moved.prev) == (401, 600, kit.addr("supplier3"), second)
    assert (remainder.start, remainder.end, remainder.holder) == (601, FACE, kit.addr("supplier2"))
    # the remainder inherits the parent's chain without copying it
    assert remainder.prev == kit.range(second).prev == root
    assert (kit.range(second).start, kit.range(second).end) == (1, 400)
    assert kit.endorsers(remainder.id) == [kit.addr("supplier1")]
    assert kit.endorsers(moved.id) == [kit.addr("supplier2"), kit.addr("supplier1")]
    ranges = kit.assert_covers(package_id)
    assert [(r.start, r.end) for r in ranges] == [(1, 400), (401, 600), (601, FACE)]


def test_endorse_chain_of_every_range_kept_across_many_hops(kit: BillKit) -> None:
    package_id, current = kit.live(face=FACE)
    path = ["supplier1", "supplier2", "supplier3", "core2", "supplier4", "bank2"]
    for frm, to in zip(path, path[1:], strict=False):
        r = kit.range(current)
        current = int(kit.endorse(current, r.start + 10, r.end, to, frm)["newRangeId"])
    assert kit.endorsers(current) == [kit.addr(p) for p in reversed(path[:-1])]
    ranges = kit.assert_covers(package_id)
    assert len(ranges) == len(path)


def test_endorse_split_range_may_be_endorsed_onward(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    part = int(kit.endorse(root, 1, 500, "supplier2", "supplier1")["newRangeId"])
    onward = int(kit.endorse(part, 100, 199, "supplier3", "supplier2")["newRangeId"])
    assert kit.endorsers(onward) == [kit.addr("supplier2"), kit.addr("supplier1")]
    back = int(kit.endorse(onward, 100, 199, "supplier1", "supplier3")["newRangeId"])
    assert kit.range(back).holder == kit.addr("supplier1")
    kit.assert_covers(package_id)


def test_endorse_reverts_for_non_holder(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    with kit.reverts("BillNotHolder", root, kit.addr("supplier2"), kit.addr("supplier1")):
        kit.endorse(root, 1, 10, "supplier3", "supplier2")


def test_endorse_reverts_on_closed_range(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    kit.endorse_all(root, "supplier2", "supplier1")
    with kit.reverts("BillWrongRangeStatus", root, RangeStatus.CLOSED):
        kit.endorse(root, 1, 10, "supplier3", "supplier1")


def test_endorse_reverts_for_unknown_range(kit: BillKit) -> None:
    with kit.reverts("BillUnknownRange", 42):
        kit.endorse(42, 1, 10, "supplier3", "supplier1")


def test_endorse_reverts_for_sub_range_outside_range(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    kit.endorse(root, 1, 100, "supplier2", "supplier1")  # root is now [101, FACE]
    for start, end in ((50, 150), (900, FACE + 1), (200, 199), (0, 5)):
        with kit.reverts("BillInvalidSubRange", root, start, end):
            kit.endorse(root, start, end, "supplier3", "supplier1")


def test_endorse_not_splittable_moves_whole_only(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE, splittable=False)
    with kit.reverts("BillNotSplittable", package_id):
        kit.endorse(root, 1, 10, "supplier2", "supplier1")
    new = kit.endorse_all(root, "supplier2", "supplier1")
    assert kit.range(new).holder == kit.addr("supplier2")


def test_endorse_reverts_when_not_transferable(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE, not_transferable=True)
    with kit.reverts("BillNotTransferable", package_id):
        kit.endorse(root, 1, FACE, "supplier2", "supplier1")


def test_endorse_reverts_at_maturity(tf: Platform, kit: BillKit) -> None:
    maturity = tf.now() + 30 * DAY
    package_id, root = kit.live(face=FACE, maturity=maturity)
    kit.mature(package_id)
    with kit.reverts("BillMatured", package_id, maturity):
        kit.endorse(root, 1, 10, "supplier2", "supplier1")


def test_endorse_reverts_to_self(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    with kit.reverts("BillSelfTransfer", kit.addr("supplier1")):
        kit.endorse(root, 1, 10, "supplier1", "supplier1")


def test_endorse_reverts_for_endorsee_not_allowed(tf: Platform, kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    with kit.reverts("RegistryUnknownParticipant", kit.addr("outsider")):
        kit.endorse(root, 1, 10, "outsider", "supplier1")
    with kit.reverts("RegistryMissingRole", kit.addr("auditor"), 7, 16):
        kit.endorse(root, 1, 10, "auditor", "supplier1")
    kit.tx(kit.registry.functions.suspend(kit.addr("supplier2")), "operator")
    with kit.reverts("RegistryParticipantSuspended", kit.addr("supplier2")):
        kit.endorse(root, 1, 10, "supplier2", "supplier1")


def test_endorse_reverts_for_suspended_holder(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    kit.tx(kit.registry.functions.suspend(kit.addr("supplier1")), "operator")
    with kit.reverts("RegistryParticipantSuspended", kit.addr("supplier1")):
        kit.endorse(root, 1, 10, "supplier2", "supplier1")


def test_endorse_part_reverts_when_not_multiple_of_min_unit(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    kit.tf.govern(kit.registry.functions.setParameters(180 * DAY, 7 * DAY, 100))
    with kit.reverts("BillInvalidAmount", 150, 100):
        kit.endorse(root, 1, 150, "supplier2", "supplier1")
    kit.endorse(root, 1, 200, "supplier2", "supplier1")


def test_endorse_whole_range_moves_whatever_min_unit_became(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    kit.endorse(root, 1, 7, "supplier2", "supplier1")  # root is now 993 sub-tickets
    kit.tf.govern(kit.registry.functions.setParameters(180 * DAY, 7 * DAY, 100))
    kit.endorse(root, 8, FACE, "supplier3", "supplier1")


def test_endorse_reverts_when_paused(kit: BillKit, paused: None) -> None:
    with kit.reverts("RegistryPlatformPaused"):
        kit.endorse(1, 1, 10, "supplier2", "supplier1")


def test_endorse_one_sub_ticket(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    event = kit.endorse(root, 500, 500, "supplier2", "supplier1")
    assert kit.range(event["newRangeId"]).amount == 1
    assert len(kit.assert_covers(package_id)) == 3
