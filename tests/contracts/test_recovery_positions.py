"""Lost-key recovery of a core enterprise's payables and of credit lines (issue 15), attacked on anvil.

After recovery the new key does what the old one could (repay its payables, issue against its line, adjust
the line it granted) and the old key none of it.
"""

from __future__ import annotations

from certkit import DAY, FACE, MAX_UINT, REPAID, Kit, invoice

from tierflow.testing.chain import Platform

REVERIFIED = b"\x0e" * 32  # hash of the re-verification record of a recovery
NO_REASON = b"\0" * 32


def _recover(tf: Platform, old: str, index: int = 3) -> str:
    new = str(tf.extra_account(index).address)
    tf.govern(tf.c.registry.functions.recover(old, new, REVERIFIED))
    return new


def test_recover_obligations_lets_the_new_key_repay_and_bars_the_old(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.accepted()
    other_slot, _ = kit.accepted()
    theirs, _ = kit.accepted(obligor="core2")
    kit.give("core1", FACE)  # the old key has the money: only the bar stops it
    kit.approve("core1", "receivables")
    old = kit.a("core1")
    r = tf.c.receivables.functions
    new = str(tf.extra_account(3).address)
    with tf.reverts("CertificateNotRecovered", old, new):  # the registry decides first
        tf.govern(r.recoverObligations(old, new, [slot_id], REVERIFIED))
    _recover(tf, old)
    with tf.reverts("CertificateNotGovernance", kit.a("bank1")):
        tf.transact(r.recoverObligations(old, new, [slot_id], REVERIFIED), "bank1")
    with tf.reverts("CertificateNotObligor", theirs, old):  # core2's payable
        tf.govern(r.recoverObligations(old, new, [slot_id, theirs], REVERIFIED))
    with tf.reverts("CertificateRecoveryBatch", 0, 200):
        tf.govern(r.recoverObligations(old, new, [], REVERIFIED))
    with tf.reverts("CertificateNoReason"):
        tf.govern(r.recoverObligations(old, new, [slot_id], NO_REASON))
    receipt = tf.govern(r.recoverObligations(old, new, [slot_id, other_slot], REVERIFIED))
    events = tf.events(receipt, tf.c.receivables, "PayableObligorRecovered")
    assert [(e["slotId"], e["from"], e["to"], e["reasonHash"]) for e in events] == [
        (slot_id, old, new, REVERIFIED),
        (other_slot, old, new, REVERIFIED),
    ]
    assert kit.slot(slot_id)[0] == new and kit.slot(theirs)[0] == kit.a("core2")
    # the old key tries to repay and to cancel
    for fn in (r.repay(slot_id, FACE), r.cancel(other_slot)):
        with tf.reverts("RegistryParticipantSuspended", old):
            tf.transact(fn, "core1")
    # the new key repays in full
    heir = tf.extra_account(3)
    tf.transact(tf.c.token.functions.mint(new, FACE), "bank1")
    tf.transact(tf.c.token.functions.approve(tf.c.receivables.address, MAX_UINT), heir)
    tf.transact(r.repay(slot_id, FACE), heir)
    assert kit.slot(slot_id)[5] == REPAID


def test_recover_lines_moves_the_borrower_so_the_new_key_issues(tf: Platform, kit: Kit) -> None:
    slot_id, _ = kit.accepted()
    line_id = kit.line_of("core1")
    used = kit.line(line_id)[3]
    old = kit.a("core1")
    c = tf.c.credit_lines.functions
    new = _recover(tf, old)
    tf.govern(tf.c.receivables.functions.recoverObligations(old, new, [slot_id], REVERIFIED))
    heir = tf.extra_account(3)
    maturity = tf.now() + 30 * DAY
    issue = tf.c.receivables.functions.issue(kit.a("supplier1"), FACE, maturity, line_id, [invoice()])
    with tf.reverts("CreditLineWrongObligor", line_id, new):  # before the line moves, the new key cannot draw
        tf.transact(issue, heir)
    with tf.reverts("CreditLineNotGovernance", kit.a("bank1")):
        tf.transact(c.recoverLines(old, new, [line_id], REVERIFIED), "bank1")
    with tf.reverts("CreditLineNotRecovered", old, kit.a("core2"), 1):
        tf.govern(c.recoverLines(old, kit.a("core2"), [line_id], REVERIFIED))
    with tf.reverts("CreditLineNotRecovered", old, new, 1):
        tf.govern(c.recoverLines(old, new, [line_id], NO_REASON))
    theirs = kit.grant("core2")
    with tf.reverts("CreditLineNotParty", theirs, old):
        tf.govern(c.recoverLines(old, new, [line_id, theirs], REVERIFIED))
    receipt = tf.govern(c.recoverLines(old, new, [line_id], REVERIFIED))
    (event,) = tf.events(receipt, tf.c.credit_lines, "CreditLineRecovered")
    assert (event["lineId"], event["from"], event["to"]) == (line_id, old, new)
    assert kit.line(line_id)[1] == new and kit.line(line_id)[3] == used  # what is drawn stays drawn
    with tf.reverts("RegistryParticipantSuspended", old):  # the old key cannot issue
        tf.transact(issue, "core1")
    receipt = tf.transact(issue, heir)
    (issued,) = tf.events(receipt, tf.c.receivables, "CertificateIssued")
    assert issued["obligor"] == new and kit.line(line_id)[3] == used + FACE
    # repaying the recovered payable restores the line the new key now borrows on
    tf.transact(tf.c.token.functions.mint(new, FACE), "bank1")
    tf.transact(tf.c.token.functions.approve(tf.c.receivables.address, MAX_UINT), heir)
    tf.transact(tf.c.receivables.functions.repay(slot_id, FACE), heir)
    assert kit.line(line_id)[3] == used


def test_recover_lines_moves_the_bank_so_its_lines_stay_usable(tf: Platform, kit: Kit) -> None:
    line_id = kit.grant("core1", financier="bank2")
    old = kit.a("bank2")
    c = tf.c.credit_lines.functions
    new = _recover(tf, old)
    expiry = tf.now() + 200 * DAY
    maturity = tf.now() + 30 * DAY
    issue = tf.c.receivables.functions.issue(kit.a("supplier1"), FACE, maturity, line_id, [invoice()])
    with tf.reverts("RegistryParticipantSuspended", old):  # the line's bank is barred until the line moves
        tf.transact(issue, "core1")
    tf.govern(c.recoverLines(old, new, [line_id], REVERIFIED))
    assert kit.line(line_id)[0] == new
    with tf.reverts("RegistryParticipantSuspended", old):  # the old key cannot adjust
        tf.transact(c.adjust(line_id, FACE * 5, expiry), "bank2")
    tf.transact(c.adjust(line_id, FACE * 5, expiry), tf.extra_account(3))
    tf.transact(issue, "core1")  # the borrower draws again
    assert tuple(kit.line(line_id)[2:]) == (FACE * 5, FACE, expiry)
