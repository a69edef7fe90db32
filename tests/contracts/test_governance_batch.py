"""Batch proposals (issue 15): several calls under one id, approved M-of-N once, run by the timelock's
executeBatch all or none. Each test plays the party that would gain if a batch ran in part, alone, around
the council, late, after a cancel, or twice."""

from __future__ import annotations

from typing import Any

import pytest
from certkit import FACE, Kit
from eth_account import Account

from tierflow.chain.accounts import dev_account
from tierflow.chain.gateway import ChainGateway
from tierflow.errors import ContractRevert
from tierflow.settings import DEV_RELAYER_KEYS
from tierflow.testing.chain import Platform

REVERIFIED = b"\x0e" * 32
ZERO32 = b"\0" * 32
PENDING, SCHEDULED, EXECUTED, CANCELLED, EXPIRED = 1, 2, 3, 4, 5


def _calls(fns: list[Any]) -> tuple[list[str], list[bytes]]:
    return [fn.address for fn in fns], [bytes.fromhex(fn._encode_transaction_data()[2:]) for fn in fns]


def _propose(tf: Platform, fns: list[Any], who: str = "operator") -> int:
    council = tf.c.council
    receipt = tf.transact(council.functions.proposeBatch(*_calls(fns), ZERO32), who)
    return int(tf.events(receipt, council, "BatchProposalCreated")[0]["proposalId"])


def _state(tf: Platform, proposal_id: int) -> int:
    return int(tf.c.council.functions.proposal(proposal_id).call()[3])


def _operation(tf: Platform, fns: list[Any], proposal_id: int) -> bytes:
    targets, datas = _calls(fns)
    return bytes(
        tf.c.timelock.functions.hashOperationBatch(
            targets, [0] * len(fns), datas, ZERO32, proposal_id.to_bytes(32)
        ).call()
    )


def _recovery(tf: Platform, kit: Kit, tokens: list[int]) -> tuple[str, str, list[Any]]:
    old, new = kit.a("supplier1"), tf.extra_account(2).address
    return (
        old,
        new,
        [
            tf.c.registry.functions.recover(old, new, REVERIFIED),
            tf.c.receivables.functions.recoverTokens(old, new, tokens, REVERIFIED),
            tf.c.token.functions.recoverBalance(old, new),
        ],
    )


def test_batch_proposal_runs_every_call_in_one_execution_once(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    kit.give("supplier1", 5_000)
    old, new, fns = _recovery(tf, kit, [root])
    council = tf.c.council.functions
    receipt = tf.transact(council.proposeBatch(*_calls(fns), ZERO32), "operator")
    (created,) = tf.events(receipt, tf.c.council, "BatchProposalCreated")
    proposal_id = int(created["proposalId"])
    assert (created["targets"], [bytes(d) for d in created["datas"]]) == _calls(fns)
    targets, datas = council.proposalCalls(proposal_id).call()
    assert (list(targets), [bytes(d) for d in datas]) == _calls(fns)
    tf.transact(council.approve(proposal_id), "bank1")  # the second approval schedules the batch
    assert _state(tf, proposal_id) == SCHEDULED
    assert tf.c.timelock.functions.isOperationPending(_operation(tf, fns, proposal_id)).call() is True
    tf.increase_time(61)
    receipt = tf.transact(council.execute(proposal_id), "bank2")
    assert tf.events(receipt, tf.c.council, "ProposalExecuted") == [
        {"proposalId": proposal_id, "governor": tf.address("bank2")}
    ]
    # the three calls ran in that one transaction, in order
    assert tf.c.registry.functions.recoveredTo(old).call() == new
    assert kit.token(root)[0] == new
    assert int(tf.c.token.functions.balanceOf(new).call()) == 5_000
    with tf.reverts("CouncilWrongState", proposal_id, EXECUTED):
        tf.transact(council.execute(proposal_id), "bank2")


def test_batch_proposal_reverts_whole_when_a_later_call_reverts(tf: Platform, kit: Kit) -> None:
    """The registry's step would bar the old key; the batch fails on its second call, so it does not."""
    _, root = kit.accepted()
    _, theirs = kit.accepted(supplier="supplier2")
    old, new, fns = _recovery(tf, kit, [root, theirs])
    proposal_id = _propose(tf, fns[:2])
    tf.transact(tf.c.council.functions.approve(proposal_id), "bank1")
    tf.increase_time(61)
    with tf.reverts("CertificateNotHolder", theirs, old, kit.a("supplier2")):  # the target's own error
        tf.transact(tf.c.council.functions.execute(proposal_id), "operator")
    assert tf.c.registry.functions.recoveredTo(old).call() == "0x" + "0" * 40
    assert tf.c.registry.functions.participant(old).call()[1] == 1  # still active
    assert tf.c.registry.functions.participant(new).call()[1] == 0  # still nobody
    assert kit.token(root)[0] == old and kit.token(root)[2] == FACE
    assert _state(tf, proposal_id) == SCHEDULED


def test_batch_proposal_refused_to_one_governor_and_around_the_council(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    _, _, fns = _recovery(tf, kit, [root])
    council = tf.c.council.functions
    with tf.reverts("CouncilNotGovernor", tf.address("supplier1")):
        tf.transact(council.proposeBatch(*_calls(fns), ZERO32), "supplier1")
    proposal_id = _propose(tf, fns)
    with tf.reverts("CouncilAlreadyApproved", proposal_id, tf.address("operator")):
        tf.transact(council.approve(proposal_id), "operator")
    tf.increase_time(3600)
    with tf.reverts("CouncilWrongState", proposal_id, PENDING):
        tf.transact(council.execute(proposal_id), "operator")
    targets, datas = _calls(fns)
    timelock = tf.c.timelock.functions
    for who in ("operator", "bank1"):
        with tf.reverts("AccessControlUnauthorizedAccount"):
            tf.transact(timelock.scheduleBatch(targets, [0] * 3, datas, ZERO32, ZERO32, 60), who)
        with tf.reverts("AccessControlUnauthorizedAccount"):
            tf.transact(timelock.executeBatch(targets, [0] * 3, datas, ZERO32, ZERO32), who)
    with tf.reverts("CouncilInvalidBatch", 0, 0):
        tf.transact(council.proposeBatch([], [], ZERO32), "operator")
    with tf.reverts("CouncilInvalidBatch", 3, 2):
        tf.transact(council.proposeBatch(targets, datas[:2], ZERO32), "operator")


def test_batch_proposal_cancelled_or_expired_cannot_run(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    old, _, fns = _recovery(tf, kit, [root])
    council = tf.c.council.functions
    cancelled = _propose(tf, fns, "bank1")
    tf.transact(council.approve(cancelled), "operator")  # scheduled on the timelock
    operation = _operation(tf, fns, cancelled)
    tf.transact(council.cancel(cancelled), "bank1")
    assert tf.c.timelock.functions.isOperation(operation).call() is False, "cleared off the timelock"
    expired = _propose(tf, fns)
    tf.transact(council.approve(expired), "bank2")
    tf.increase_time(int(council.window().call()) + 1)
    assert (_state(tf, cancelled), _state(tf, expired)) == (CANCELLED, EXPIRED)
    with tf.reverts("CouncilWrongState", cancelled, CANCELLED):
        tf.transact(council.execute(cancelled), "bank1")
    with tf.reverts("CouncilProposalExpired", expired, int(council.proposalLife(expired).call()[1])):
        tf.transact(council.execute(expired), "operator")
    assert tf.c.registry.functions.participant(old).call()[1] == 1 and kit.token(root)[0] == old


def test_batch_preview_refuses_a_recovery_whose_later_call_would_revert(tf: Platform, kit: Kit) -> None:
    """The service runs a whole batch as the timelock before proposing it: a later call that fails only
    after the registry's step (which alone would pass) is caught, and each call's gas is known."""
    _, root = kit.accepted()
    _, theirs = kit.accepted(supplier="supplier2")
    old, _, fns = _recovery(tf, kit, [root, theirs])
    gateway = ChainGateway(tf.w3, tf.deployment, dev_account(0), [Account.from_key(DEV_RELAYER_KEYS[0])])
    timelock = tf.deployment.timelock
    calls = list(zip(*_calls(fns[:2]), strict=True))
    gateway.preview(timelock, *calls[0])  # the registry's step alone passes
    with pytest.raises(ContractRevert) as refused:
        gateway.preview_sequence(timelock, calls)
    assert (refused.value.name, refused.value.values) == (
        "CertificateNotHolder",
        (theirs, old, kit.a("supplier2")),
    )
    _, _, good = _recovery(tf, kit, [root])
    used = gateway.preview_sequence(timelock, list(zip(*_calls(good[:2]), strict=True)))
    assert used is not None and len(used) == 2 and all(gas > 21_000 for gas in used)
    assert tf.c.registry.functions.participant(old).call()[1] == 1  # a simulation changes nothing
