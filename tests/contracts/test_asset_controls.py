"""Asset-level controls (issue 15): judicial hold, forced transfer, lost-key recovery, attacked on anvil."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from certkit import FACE, Kit

from tierflow.testing.chain import Platform

ORDER = b"\x0c" * 32  # hash of a court order
RELEASE = b"\x0d" * 32  # hash of the order lifting it
REVERIFIED = b"\x0e" * 32  # hash of the re-verification record of a recovery
NO_REASON = b"\0" * 32


def _freeze(tf: Platform, token_id: int, amount: int, reason: bytes = ORDER) -> int:
    receipt = tf.transact(tf.c.receivables.functions.freeze(token_id, amount, reason), "operator")
    (event,) = tf.events(receipt, tf.c.receivables, "CertificateFrozen")
    return int(event["tokenId"])


def _hold(tf: Platform, token_id: int) -> tuple[bool, bytes, int]:
    frozen, reason, escrowed = tf.c.receivables.functions.hold(token_id).call()
    return bool(frozen), bytes(reason), int(escrowed)


def _conserved(kit: Kit, slot_id: int, token_ids: list[int]) -> None:
    """Invariant 1 over the tokens named (all the slot's tokens): live values + paid out == face."""
    slot = kit.slot(slot_id)
    assert sum(kit.token(t)[2] for t in token_ids) + slot[7] == slot[2]
    assert slot[7] <= slot[6]  # paid out <= paid in


# --------------------------------------------------------------------------- freeze


def test_freeze_whole_token_blocks_every_move_of_the_holder(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    assert _freeze(tf, root, FACE) == root
    assert _hold(tf, root) == (True, ORDER, 0)
    assert kit.token(root)[5] is False  # a hold is not a financing lock
    r = tf.c.receivables.functions
    attempts: list[Any] = [
        r.transfer(root, kit.a("supplier2")),
        r.transferValue(root, kit.a("supplier2"), FACE // 2),
        r.transferValue(root, kit.a("supplier2"), FACE),
        r.split(root, FACE // 4),
        tf.c.financing.functions.request(root, FACE, kit.a("bank1"), False),
        tf.c.financing.functions.request(root, FACE // 2, kit.a("bank1"), True),
    ]
    for fn in attempts:
        with tf.reverts("CertificateIsFrozen", root, ORDER):
            tf.transact(fn, "supplier1")


def test_freeze_part_splits_it_off_and_leaves_the_rest_free(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    frozen = _freeze(tf, root, FACE // 4)
    assert frozen != root
    assert kit.token(frozen)[0] == kit.a("supplier1") and kit.token(frozen)[2] == FACE // 4
    assert kit.token(frozen)[3] == root  # lineage: split off the root
    assert _hold(tf, root)[0] is False and _hold(tf, frozen) == (True, ORDER, 0)
    moved = kit.transfer_value(root, "supplier1", "supplier2", FACE // 2)  # the free part moves
    with tf.reverts("CertificateIsFrozen", frozen, ORDER):
        tf.transact(tf.c.receivables.functions.transfer(frozen, kit.a("supplier2")), "supplier1")
    _conserved(kit, slot_id, [root, frozen, moved])


def test_claim_of_frozen_token_reverts_and_payout_escrows_until_release(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    free = kit.transfer_value(root, "supplier1", "supplier2", FACE // 2)
    _freeze(tf, root, FACE // 2)
    kit.repay(slot_id, FACE)
    kit.to_maturity(slot_id)
    with tf.reverts("CertificateIsFrozen", root, ORDER):
        tf.transact(tf.c.receivables.functions.claim(root), "supplier1")
    before = kit.cash("supplier1")
    receipt = tf.transact(tf.c.receivables.functions.payout([root, free]), "operator")
    (escrowed,) = tf.events(receipt, tf.c.receivables, "CertificateEscrowed")
    assert escrowed["tokenId"] == root and escrowed["amount"] == FACE // 2
    assert kit.cash("supplier1") == before  # held, not paid
    assert kit.cash("supplier2") == FACE // 2  # the free holder is paid as usual
    assert _hold(tf, root) == (True, ORDER, FACE // 2)
    _conserved(kit, slot_id, [root, free])
    receipt = tf.transact(tf.c.receivables.functions.unfreeze(root, RELEASE), "operator")
    (event,) = tf.events(receipt, tf.c.receivables, "CertificateUnfrozen")
    assert event["released"] == FACE // 2 and event["holder"] == kit.a("supplier1")
    assert kit.cash("supplier1") == before + FACE // 2
    assert _hold(tf, root) == (False, b"\0" * 32, 0)
    assert int(tf.c.token.functions.balanceOf(tf.c.receivables.address).call()) == 0  # nothing stranded
    with tf.reverts("CertificateNotFrozen", root):
        tf.transact(tf.c.receivables.functions.unfreeze(root, RELEASE), "operator")


def test_freeze_refuses_what_would_change_nothing_or_break_the_rules(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    f = tf.c.receivables.functions
    with tf.reverts("CertificateNoReason"):
        tf.transact(f.freeze(root, FACE, NO_REASON), "operator")
    with tf.reverts("CertificateInsufficientValue", root, FACE, FACE + 1):
        tf.transact(f.freeze(root, FACE + 1, ORDER), "operator")
    with tf.reverts("CertificateInvalidAmount", 0, 1):
        tf.transact(f.freeze(root, 0, ORDER), "operator")
    locked_request, locked = kit.request_financing(root, amount=FACE // 2)
    with tf.reverts("CertificateIsLocked", locked, locked_request):
        tf.transact(f.freeze(locked, FACE // 2, ORDER), "operator")
    _freeze(tf, root, FACE // 2)
    with tf.reverts("CertificateIsFrozen", root, ORDER):
        tf.transact(f.freeze(root, FACE // 4, ORDER), "operator")
    pending, _ = kit.issue(supplier="supplier2")
    pending_root = kit.slot(pending)[8]
    with tf.reverts("CertificateWrongStatus"):
        tf.transact(f.freeze(pending_root, FACE, ORDER), "operator")
    # a part of a token already paid something cannot be split off: the pro-rata dues follow whole tokens
    other, token = kit.accepted(supplier="supplier3")
    kit.repay(other, FACE // 2)
    kit.to_maturity(other)
    tf.transact(f.claim(token), "supplier3")
    with tf.reverts("CertificatePartlyPaidOut", token, FACE // 2):
        tf.transact(f.freeze(token, 100, ORDER), "operator")
    assert slot_id


def test_frozen_token_after_default_blocks_recourse(tf: Platform, kit: Kit) -> None:
    """The financier of a with-recourse deal whose token is frozen cannot hand the token back either."""
    slot_id, root = kit.accepted()
    deal = kit.financed(root, recourse=True)
    kit.to_maturity(slot_id, extra=8 * 86_400)
    tf.transact(tf.c.receivables.functions.markDefaulted(slot_id, 0), "operator")
    _freeze(tf, deal.token_id, FACE)
    with tf.reverts("CertificateIsFrozen", deal.token_id, ORDER):
        tf.transact(tf.c.financing.functions.exerciseRecourse(deal.request_id), "bank1")


# --------------------------------------------------------------------------- forced transfer


def test_force_transfer_moves_frozen_token_and_release_pays_the_new_holder(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    _freeze(tf, root, FACE)
    kit.repay(slot_id, FACE // 2)
    kit.to_maturity(slot_id)
    tf.transact(tf.c.receivables.functions.payout([root]), "operator")  # half into escrow
    receipt = tf.govern(tf.c.receivables.functions.forceTransfer(root, kit.a("supplier2"), FACE // 2, ORDER))
    (forced,) = tf.events(receipt, tf.c.receivables, "CertificateForceTransferred")
    assert forced["tokenId"] == root and forced["from"] == kit.a("supplier1")
    assert forced["reasonHash"] == ORDER
    assert kit.token(root)[0] == kit.a("supplier2")
    assert _hold(tf, root) == (True, ORDER, FACE // 2)  # the hold and its escrow followed the token
    tf.transact(tf.c.receivables.functions.unfreeze(root, RELEASE), "operator")
    assert kit.cash("supplier2") == FACE // 2 and kit.cash("supplier1") == 0
    kit.repay(slot_id, FACE // 2)
    tf.transact(tf.c.receivables.functions.claim(root), "supplier2")
    assert kit.cash("supplier2") == FACE
    _conserved(kit, slot_id, [root])


def test_force_transfer_of_part_splits_to_the_new_holder(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    tf.transact(tf.c.registry.functions.suspend(kit.a("supplier1")), "operator")  # no consent needed
    receipt = tf.govern(tf.c.receivables.functions.forceTransfer(root, kit.a("bank2"), FACE // 5, ORDER))
    (split,) = tf.events(receipt, tf.c.receivables, "CertificateSplit")
    assert split["to"] == kit.a("bank2") and split["value"] == FACE // 5
    _conserved(kit, slot_id, [root, split["newTokenId"]])
    f = tf.c.receivables.functions
    with tf.reverts("RegistryParticipantSuspended", kit.a("supplier1")):  # the receiver must be active
        tf.govern(f.forceTransfer(split["newTokenId"], kit.a("supplier1"), FACE // 5, ORDER))
    tf.transact(tf.c.registry.functions.reinstate(kit.a("supplier1")), "operator")
    with tf.reverts("CertificateSelfTransfer", root, kit.a("supplier1")):
        tf.govern(f.forceTransfer(root, kit.a("supplier1"), FACE // 5, ORDER))
    _freeze(tf, root, FACE - FACE // 5)
    with tf.reverts("CertificateIsFrozen", root, ORDER):  # a hold's escrow cannot be divided
        tf.govern(f.forceTransfer(root, kit.a("bank2"), 100, ORDER))


# --------------------------------------------------------------------------- who may act


@pytest.mark.parametrize("caller", ["supplier1", "core1", "bank1", "auditor", "outsider"])
def test_controls_revert_for_anyone_but_governance(tf: Platform, kit: Kit, caller: str) -> None:
    _, root = kit.accepted()
    frozen = _freeze(tf, root, FACE // 2)
    r = tf.c.receivables.functions
    address, holder, heir = kit.a(caller), kit.a("supplier1"), tf.extra_account(3).address
    calls: list[tuple[Callable[[], Any], str]] = [
        (lambda: r.freeze(root, FACE // 2, ORDER), "CertificateNotGovernance"),
        (lambda: r.unfreeze(frozen, RELEASE), "CertificateNotGovernance"),
        (lambda: r.forceTransfer(root, kit.a("supplier2"), FACE // 2, ORDER), "CertificateNotGovernance"),
        (lambda: r.recoverTokens(holder, address, [root], REVERIFIED), "CertificateNotGovernance"),
        (lambda: tf.c.registry.functions.recover(holder, heir, REVERIFIED), "GovernanceOnly"),
        (lambda: tf.c.token.functions.recoverBalance(holder, address), "SettlementNotGovernance"),
    ]
    for fn, error in calls:
        with tf.reverts(error, address):
            tf.transact(fn(), caller)
    assert _hold(tf, frozen) == (True, ORDER, 0) and kit.token(root)[0] == kit.a("supplier1")


# --------------------------------------------------------------------------- lost-key recovery


def _recover(tf: Platform, kit: Kit, old: str, tokens: list[int]) -> str:
    new = tf.extra_account(2).address
    tf.govern_batch([  # one proposal, as the service proposes a recovery
        tf.c.registry.functions.recover(kit.a(old), new, REVERIFIED),
        tf.c.receivables.functions.recoverTokens(kit.a(old), new, tokens, REVERIFIED),
        tf.c.token.functions.recoverBalance(kit.a(old), new),
    ])  # fmt: skip
    return str(new)


def test_recovery_moves_holdings_and_bars_the_old_address(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    other_slot, other = kit.accepted()
    frozen = _freeze(tf, other, FACE // 2)
    kit.give("supplier1", 12_345)
    new = _recover(tf, kit, "supplier1", [root, other, frozen])
    old = kit.a("supplier1")
    roles, status, entity = tf.c.registry.functions.participant(new).call()
    assert (roles, status) == (2, 1) and entity == tf.c.registry.functions.participant(old).call()[2]
    assert tf.c.registry.functions.participant(old).call()[1] == 2  # suspended
    assert tf.c.registry.functions.recoveredTo(old).call() == new
    assert [kit.token(t)[0] for t in (root, other, frozen)] == [new] * 3
    assert _hold(tf, frozen) == (True, ORDER, 0)  # the hold followed
    assert kit.cash("supplier1") == 0 and int(tf.c.token.functions.balanceOf(new).call()) == 12_345
    # the old key tries everything
    r = tf.c.receivables.functions
    for fn in (
        r.transfer(root, kit.a("supplier2")),
        r.split(root, 100),
        tf.c.financing.functions.request(root, FACE, kit.a("bank1"), False),
        tf.c.token.functions.transfer(kit.a("supplier2"), 1),
        tf.c.token.functions.approve(kit.a("supplier2"), 1),
    ):
        with tf.reverts("RegistryParticipantSuspended", old):
            tf.transact(fn, "supplier1")
    kit.to_maturity(slot_id)
    with tf.reverts("RegistryParticipantSuspended", old):
        tf.transact(r.claim(root), "supplier1")
    with tf.reverts("RegistryAccountRecovered", old, new):
        tf.transact(tf.c.registry.functions.reinstate(old), "operator")
    with tf.reverts("RegistryAlreadyRegistered", old):
        tf.transact(tf.c.registry.functions.register(old, 2, b"\1" * 32), "operator")
    with tf.reverts("RegistryAccountRecovered", old, new):
        tf.govern(tf.c.registry.functions.recover(old, tf.extra_account(4).address, REVERIFIED))
    assert other_slot


def test_recovery_refuses_other_addresses_others_tokens_and_empty_batches(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    _, theirs = kit.accepted(supplier="supplier2")
    r = tf.c.receivables.functions
    old, new = kit.a("supplier1"), tf.extra_account(2).address
    with tf.reverts("CertificateNotRecovered", old, kit.a("supplier2")):  # not before the registry says so
        tf.govern(r.recoverTokens(old, kit.a("supplier2"), [root], REVERIFIED))
    with tf.reverts("SettlementNotRecovered", old, kit.a("supplier2")):
        tf.govern(tf.c.token.functions.recoverBalance(old, kit.a("supplier2")))
    with tf.reverts("RegistryAlreadyRegistered", kit.a("supplier2")):  # onto someone else's entry
        tf.govern(tf.c.registry.functions.recover(old, kit.a("supplier2"), REVERIFIED))
    with tf.reverts("RegistryNoReason"):
        tf.govern(tf.c.registry.functions.recover(old, new, NO_REASON))
    tf.govern(tf.c.registry.functions.recover(old, new, REVERIFIED))
    with tf.reverts("CertificateNotHolder", theirs, old, kit.a("supplier2")):
        tf.govern(r.recoverTokens(old, new, [root, theirs], REVERIFIED))
    with tf.reverts("CertificateRecoveryBatch", 0, 200):
        tf.govern(r.recoverTokens(old, new, [], REVERIFIED))
    with tf.reverts("SettlementZeroAmount"):  # nothing to move: no event
        tf.govern(tf.c.token.functions.recoverBalance(old, new))


def test_recovery_carries_open_financing_and_recourse_debts(tf: Platform, kit: Kit) -> None:
    """The old key's open request goes on with the new key as seller; its recourse debt follows it."""
    slot_id, root = kit.accepted(days=90)
    open_request, locked = kit.request_financing(root, amount=FACE // 2, recourse=True)
    short_slot, short_root = kit.accepted(days=10)
    deal = kit.financed(short_root, recourse=True)
    tf.transact(tf.c.token.functions.transfer(kit.a("supplier2"), kit.cash("supplier1")), "supplier1")
    kit.to_maturity(short_slot, extra=8 * 86_400)
    tf.transact(tf.c.receivables.functions.markDefaulted(short_slot, 0), "operator")
    tf.transact(tf.c.financing.functions.exerciseRecourse(deal.request_id), "bank1")
    f = tf.c.financing.functions
    old, heir = kit.a("supplier1"), tf.extra_account(2)
    owed = int(f.recourseOwed(old).call())
    assert owed == FACE
    tf.govern(tf.c.registry.functions.recover(old, heir.address, REVERIFIED))
    with tf.reverts("FinancingNotGovernance", kit.a("bank1")):
        tf.transact(f.recoverPositions(old, heir.address, [open_request], REVERIFIED), "bank1")
    with tf.reverts("FinancingNotRecovered", kit.a("supplier2"), heir.address):
        tf.govern(f.recoverPositions(kit.a("supplier2"), heir.address, [open_request], REVERIFIED))
    tokens = [root, locked, short_root]
    tf.govern(tf.c.receivables.functions.recoverTokens(old, heir.address, tokens, REVERIFIED))
    tf.govern(f.recoverPositions(old, heir.address, [open_request, deal.request_id], REVERIFIED))
    assert (int(f.recourseOwed(old).call()), int(f.recourseOwed(heir.address).call())) == (0, owed)
    assert kit.request(open_request)[1] == heir.address and kit.token(locked)[5] is True
    # the new key finishes the sale the old one started: the financier pays it, its debt is netted
    kit.quote(open_request)
    terms = kit.request(open_request)
    tf.transact(f.acceptQuote(open_request, terms[6], terms[9], terms[7]), heir)
    kit.give("bank1", terms[9])
    tf.transact(f.fund(open_request), "bank1")
    assert kit.token(locked)[0] == kit.a("bank1")
    # whatever of the price was netted against the debt went to the financier, the rest to the new key
    collected = owed - int(f.recourseOwed(heir.address).call())
    assert int(tf.c.token.functions.balanceOf(heir.address).call()) + collected == terms[9]
    with tf.reverts("RegistryParticipantSuspended", old):
        tf.transact(f.request(root, FACE // 4, kit.a("bank1"), False), "supplier1")
    assert slot_id
