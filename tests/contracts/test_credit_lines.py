"""CreditLines: grant, adjust, draw on issue, restore on repay/reject/cancel; invariant 5 in the small."""

from __future__ import annotations

import pytest
from certkit import DAY, FACE, Kit

from tierflow.testing.chain import Platform


def test_grant_creates_line_from_one(tf: Platform, kit: Kit) -> None:
    expiry = tf.now() + 100 * DAY
    receipt = tf.transact(tf.c.credit_lines.functions.grant(kit.a("core1"), 5 * FACE, expiry), "bank1")
    assert tf.events(receipt, tf.c.credit_lines, "CreditLineGranted") == [
        {
            "lineId": 1,
            "financier": kit.a("bank1"),
            "obligor": kit.a("core1"),
            "limit": 5 * FACE,
            "expiry": expiry,
        }
    ]
    assert tuple(kit.line(1)) == (kit.a("bank1"), kit.a("core1"), 5 * FACE, 0, expiry)
    assert tf.c.credit_lines.functions.available(1).call() == 5 * FACE


def test_grant_reverts_when_obligor_not_core(tf: Platform, kit: Kit) -> None:
    with tf.reverts("RegistryMissingRole", kit.a("supplier1"), 1, 2):
        tf.transact(tf.c.credit_lines.functions.grant(kit.a("supplier1"), FACE, tf.now() + DAY), "bank1")


def test_grant_reverts_when_obligor_suspended(tf: Platform, kit: Kit) -> None:
    tf.transact(tf.c.registry.functions.suspend(kit.a("core1")), "operator")
    with tf.reverts("RegistryParticipantSuspended", kit.a("core1")):
        tf.transact(tf.c.credit_lines.functions.grant(kit.a("core1"), FACE, tf.now() + DAY), "bank1")


@pytest.mark.parametrize(
    ("who", "error", "args"),
    [
        ("core1", "RegistryMissingRole", (4, 1)),
        ("supplier1", "RegistryMissingRole", (4, 2)),
        ("auditor", "RegistryMissingRole", (4, 16)),
        ("outsider", "RegistryUnknownParticipant", ()),
        ("operator", "RegistryUnknownParticipant", ()),
    ],
)
def test_grant_reverts_when_not_financier(tf: Platform, kit: Kit, who: str, error: str, args: tuple) -> None:
    with tf.reverts(error, kit.a(who), *args):
        tf.transact(tf.c.credit_lines.functions.grant(kit.a("core1"), FACE, tf.now() + DAY), who)


def test_grant_reverts_with_zero_limit(tf: Platform, kit: Kit) -> None:
    with tf.reverts("CreditLineZeroLimit"):
        tf.transact(tf.c.credit_lines.functions.grant(kit.a("core1"), 0, tf.now() + DAY), "bank1")


def test_grant_reverts_with_past_expiry(tf: Platform, kit: Kit) -> None:
    now = tf.now()
    with tf.reverts("CreditLineInvalidExpiry", now):
        tf.transact(tf.c.credit_lines.functions.grant(kit.a("core1"), FACE, now), "bank1")


def test_adjust_changes_limit_and_expiry(tf: Platform, kit: Kit) -> None:
    line = kit.grant("core1", limit=2 * FACE)
    kit.issue(line_id=line)
    expiry = tf.now() + 50 * DAY
    receipt = tf.transact(tf.c.credit_lines.functions.adjust(line, FACE, expiry), "bank1")
    assert tf.events(receipt, tf.c.credit_lines, "CreditLineAdjusted") == [
        {"lineId": line, "limit": FACE, "expiry": expiry, "financier": kit.a("bank1")}
    ]
    assert kit.line(line)[2] == FACE and tf.c.credit_lines.functions.available(line).call() == 0
    with tf.reverts("CreditLineExceeded", line, 0, 1):
        kit.issue(line_id=line, face=1)


def test_adjust_reverts_below_used(tf: Platform, kit: Kit) -> None:
    line = kit.grant("core1", limit=2 * FACE)
    kit.issue(line_id=line)
    with tf.reverts("CreditLineBelowUsed", line, FACE, FACE - 1):
        tf.transact(tf.c.credit_lines.functions.adjust(line, FACE - 1, tf.now() + DAY), "bank1")


def test_adjust_reverts_when_not_the_lines_financier(tf: Platform, kit: Kit) -> None:
    line = kit.grant("core1")
    with tf.reverts("CreditLineNotFinancier", line, kit.a("bank2")):
        tf.transact(tf.c.credit_lines.functions.adjust(line, FACE, tf.now() + DAY), "bank2")


def test_adjust_reverts_when_unknown(tf: Platform, kit: Kit) -> None:
    with tf.reverts("CreditLineUnknown", 5):
        tf.transact(tf.c.credit_lines.functions.adjust(5, FACE, tf.now() + DAY), "bank1")


def test_adjust_reverts_with_past_expiry(tf: Platform, kit: Kit) -> None:
    line = kit.grant("core1")
    now = tf.now()
    with tf.reverts("CreditLineInvalidExpiry", now):
        tf.transact(tf.c.credit_lines.functions.adjust(line, FACE, now), "bank1")


def test_draw_outstanding_face_fits_in_lines(tf: Platform, kit: Kit) -> None:
    small = kit.grant("core1", limit=FACE)
    other = kit.grant("core1", financier="bank2", limit=FACE // 2)
    kit.issue(line_id=small, face=FACE)
    kit.issue(line_id=other, face=FACE // 2)
    with tf.reverts("CreditLineExceeded", small, 0, 1):
        kit.issue(line_id=small, face=1)
    with tf.reverts("CreditLineExceeded", other, 0, 1):
        kit.issue(line_id=other, face=1)


def test_draw_reverts_when_called_directly(tf: Platform, kit: Kit) -> None:
    line = kit.grant("core1")
    with tf.reverts("CreditLineUnauthorizedConsumer", kit.a("core1")):
        tf.transact(tf.c.credit_lines.functions.draw(line, kit.a("core1"), 1), "core1")
    with tf.reverts("CreditLineUnauthorizedConsumer", kit.a("bank1")):
        tf.transact(tf.c.credit_lines.functions.restore(line, 0), "bank1")


def test_restore_on_repay_reject_cancel(tf: Platform, kit: Kit) -> None:
    line = kit.grant("core1", limit=3 * FACE)
    a, _ = kit.issue(line_id=line)
    b, _ = kit.issue(line_id=line)
    c, _ = kit.accepted(line_id=line)
    assert kit.line(line)[3] == 3 * FACE
    tf.transact(tf.c.receivables.functions.reject(a), "supplier1")
    tf.transact(tf.c.receivables.functions.cancel(b), "core1")
    assert kit.line(line)[3] == FACE
    kit.repay(c, FACE // 4)
    assert kit.line(line)[3] == FACE - FACE // 4
    kit.repay(c, FACE - FACE // 4)
    assert kit.line(line)[3] == 0


def test_restore_after_line_expiry(tf: Platform, kit: Kit) -> None:
    line = kit.grant("core1", days=30)
    slot_id, _ = kit.accepted(line_id=line, days=60)
    tf.increase_time(31 * DAY)
    kit.repay(slot_id, FACE)
    assert kit.line(line)[3] == 0


def test_set_consumer_operator_only(tf: Platform, kit: Kit) -> None:
    assert tf.c.credit_lines.functions.isConsumer(tf.c.receivables.address).call() is True
    with tf.reverts("CreditLineNotOperator", kit.a("bank1")):
        tf.transact(tf.c.credit_lines.functions.setConsumer(kit.a("bank1"), True), "bank1")
