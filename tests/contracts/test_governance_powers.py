"""The platform's powers belong to governance (issue 15): parameters, unpause, forced transfers and
recoveries only through the council (M-of-N, then the delay); judicial holds at once by the controller
role that only governance grants; proposals that are cancelled or expire. Each test plays the party that
could act alone before."""

from __future__ import annotations

from typing import Any

import pytest
from certkit import FACE, Kit

from tierflow.chain.compile import compile_all
from tierflow.testing.chain import Platform

ORDER = b"\x0c" * 32
ZERO32 = b"\0" * 32
DAY = 86_400
PENDING, SCHEDULED, EXECUTED, CANCELLED, EXPIRED = 1, 2, 3, 4, 5


def _propose(tf: Platform, fn: Any, who: str = "operator") -> int:
    council = tf.c.council
    receipt = tf.transact(council.functions.propose(fn.address, fn._encode_transaction_data(), ZERO32), who)
    return int(tf.events(receipt, council, "ProposalCreated")[0]["proposalId"])


def _state(tf: Platform, proposal_id: int) -> int:
    return int(tf.c.council.functions.proposal(proposal_id).call()[3])


# --------------------------------------------------------------------------- platform powers


@pytest.mark.parametrize("who", ["operator", "bank1", "bank2"])
def test_platform_powers_revert_for_any_single_governor(tf: Platform, who: str) -> None:
    """Each governor, the operator included, is refused parameters, quote validity and unpause alone."""
    registry = tf.c.registry.functions
    tf.transact(registry.pause(), "operator")
    for fn in (
        registry.setParameters(90 * DAY, DAY, 100),
        registry.setQuoteValidity(3600),
        registry.unpause(),
    ):
        with tf.reverts("GovernanceOnly", tf.address(who)):
            tf.transact(fn, who)
    assert tuple(registry.parameters().call()) == (180 * DAY, 7 * DAY, 1)
    assert registry.paused().call() is True


def test_platform_powers_wait_for_a_second_governor_and_the_delay(tf: Platform) -> None:
    registry = tf.c.registry.functions
    tf.transact(registry.pause(), "operator")
    proposal_id = _propose(tf, registry.unpause())
    tf.increase_time(3600)
    with tf.reverts("CouncilWrongState", proposal_id, PENDING):  # one approval never schedules
        tf.transact(tf.c.council.functions.execute(proposal_id), "operator")
    tf.transact(tf.c.council.functions.approve(proposal_id), "bank2")
    eta = int(tf.c.council.functions.proposal(proposal_id).call()[4])
    with tf.reverts("CouncilNotReady", proposal_id, eta):
        tf.transact(tf.c.council.functions.execute(proposal_id), "bank2")
    tf.increase_time(61)
    tf.transact(tf.c.council.functions.execute(proposal_id), "bank2")
    assert registry.paused().call() is False


# --------------------------------------------------------------------------- asset controls


def test_controller_cannot_force_transfer_or_recover(tf: Platform, kit: Kit) -> None:
    """The operator holds CONTROLLER_ROLE in the demo: it freezes at once, but a court's forced transfer and
    a key recovery are the council's."""
    _, root = kit.accepted()
    operator, heir = tf.address("operator"), tf.extra_account(3).address
    holder = kit.a("supplier1")
    assert tf.c.registry.functions.canControl(operator, False).call() is True
    assert tf.c.registry.functions.canControl(operator, True).call() is False
    r = tf.c.receivables.functions
    for fn, error in [
        (r.forceTransfer(root, kit.a("supplier2"), FACE // 2, ORDER), "CertificateNotGovernance"),
        (r.recoverTokens(holder, heir, [root], ORDER), "CertificateNotGovernance"),
        (tf.c.registry.functions.recover(holder, heir, ORDER), "GovernanceOnly"),
        (tf.c.token.functions.recoverBalance(holder, heir), "SettlementNotGovernance"),
        (tf.c.financing.functions.recoverPositions(holder, heir, [], ORDER), "FinancingNotGovernance"),
        (tf.c.bills.functions.forceTransferRange(1, 1, 1, heir, ORDER), "BillNotGovernance"),
        (tf.c.bills.functions.recoverParties(holder, heir, [1], ORDER), "BillNotGovernance"),
    ]:
        with tf.reverts(error, operator):
            tf.transact(fn, "operator")
    assert kit.token(root)[0] == holder
    # the council can: two governors and the delay
    tf.govern(r.forceTransfer(root, kit.a("supplier2"), FACE, ORDER), approvers=("bank1", "bank2"))
    assert kit.token(root)[0] == kit.a("supplier2")


def test_controller_role_is_granted_and_revoked_by_governance_only(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    registry = tf.c.registry.functions
    role = registry.CONTROLLER_ROLE().call()
    for who in ("operator", "bank2"):
        with tf.reverts("AccessControlUnauthorizedAccount"):
            tf.transact(registry.grantRole(role, tf.address("bank2")), who)
    with tf.reverts("CertificateNotGovernance", tf.address("bank2")):
        tf.transact(tf.c.receivables.functions.freeze(root, FACE, ORDER), "bank2")
    tf.govern(registry.grantRole(role, tf.address("bank2")))
    tf.govern(registry.revokeRole(role, tf.address("operator")))
    with tf.reverts("CertificateNotGovernance", tf.address("operator")):
        tf.transact(tf.c.receivables.functions.freeze(root, FACE, ORDER), "operator")
    tf.transact(tf.c.receivables.functions.freeze(root, FACE, ORDER), "bank2")  # at once, no delay
    assert tf.c.receivables.functions.hold(root).call()[0] is True


# --------------------------------------------------------------------------- cancel and expiry


def test_proposal_cancelled_by_its_proposer_at_once_and_off_the_timelock(tf: Platform) -> None:
    council = tf.c.council.functions
    proposal_id = _propose(tf, tf.c.registry.functions.setQuoteValidity(3600), "bank1")
    tf.transact(council.approve(proposal_id), "operator")  # scheduled on the timelock
    target, data = council.proposal(proposal_id).call()[:2]
    operation = tf.c.timelock.functions.hashOperation(
        target, 0, data, ZERO32, proposal_id.to_bytes(32)
    ).call()
    assert tf.c.timelock.functions.isOperationPending(operation).call() is True
    receipt = tf.transact(council.cancel(proposal_id), "bank1")
    assert tf.events(receipt, tf.c.council, "ProposalCancelled") == [
        {"proposalId": proposal_id, "governor": tf.address("bank1")}
    ]
    assert _state(tf, proposal_id) == CANCELLED
    assert tf.c.timelock.functions.isOperation(operation).call() is False
    tf.increase_time(61)
    with tf.reverts("CouncilWrongState", proposal_id, CANCELLED):
        tf.transact(council.execute(proposal_id), "bank1")
    with tf.reverts("CouncilWrongState", proposal_id, CANCELLED):
        tf.transact(council.approve(proposal_id), "bank2")
    assert tf.c.registry.functions.quoteValidity().call() == 24 * 3600


def test_proposal_cancel_by_others_needs_threshold_votes(tf: Platform) -> None:
    council = tf.c.council.functions
    proposal_id = _propose(tf, tf.c.registry.functions.setQuoteValidity(3600), "bank1")
    with tf.reverts("CouncilNotGovernor", tf.address("core1")):
        tf.transact(council.cancel(proposal_id), "core1")
    receipt = tf.transact(council.cancel(proposal_id), "operator")  # one vote: not enough
    assert tf.events(receipt, tf.c.council, "ProposalCancelVoted")[0]["cancels"] == 1
    assert _state(tf, proposal_id) == PENDING
    with tf.reverts("CouncilAlreadyVotedCancel", proposal_id, tf.address("operator")):
        tf.transact(council.cancel(proposal_id), "operator")
    tf.transact(council.cancel(proposal_id), "bank2")  # the second: cancelled
    assert _state(tf, proposal_id) == CANCELLED
    assert tuple(council.proposalLife(proposal_id).call())[2] == 2


def test_proposal_expires_unexecuted_after_its_window(tf: Platform) -> None:
    council = tf.c.council.functions
    window = int(council.window().call())
    assert window == 7 * DAY
    stale = _propose(tf, tf.c.registry.functions.setQuoteValidity(3600))
    late = _propose(tf, tf.c.registry.functions.setQuoteValidity(7200))
    tf.transact(council.approve(late), "bank1")  # scheduled, but nobody executes in time
    deadline = int(council.proposalLife(stale).call()[1])
    tf.increase_time(window + 1)
    assert (_state(tf, stale), _state(tf, late)) == (EXPIRED, EXPIRED)
    with tf.reverts("CouncilProposalExpired", stale, deadline):
        tf.transact(council.approve(stale), "bank1")
    with tf.reverts("CouncilProposalExpired", late, int(council.proposalLife(late).call()[1])):
        tf.transact(council.execute(late), "bank1")
    assert tf.c.registry.functions.quoteValidity().call() == 24 * 3600
    tf.transact(council.cancel(late), "operator")  # the proposer clears it off the timelock
    assert _state(tf, late) == CANCELLED


def test_council_refuses_a_window_not_longer_than_the_delay(tf: Platform) -> None:
    artifact = compile_all()["GovernanceCouncil"]
    factory = tf.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    with tf.reverts("CouncilInvalidWindow", 60, 60):
        tf.transact(factory.constructor([tf.address("bank1"), tf.address("bank2")], 2, 60, 60), "bank1")
