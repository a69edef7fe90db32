"""Role matrix of governance (issue 15): M-of-N with a delay, a guardian that only pauses, upgrades only
through governance, initializers that run once and never on an implementation."""

from __future__ import annotations

from typing import Any

import pytest
from certkit import Kit

from tierflow.chain.accounts import DEMO_GUARDIAN_INDEX, dev_account
from tierflow.testing.chain import CONTRACT_ATTRIBUTES, Platform

PROXIED = [name for name in CONTRACT_ATTRIBUTES if name not in ("TierflowForwarder", "GovernanceCouncil")]
ZERO32 = b"\0" * 32


def _proxy(tf: Platform, name: str) -> Any:
    return getattr(tf.c, CONTRACT_ATTRIBUTES[name])


def _implementation(tf: Platform, name: str) -> Any:
    record = tf.deployment.contracts[name]
    return tf.w3.eth.contract(address=tf.w3.to_checksum_address(record.implementation), abi=record.abi)


def _guardian(tf: Platform) -> Any:
    return dev_account(DEMO_GUARDIAN_INDEX)


def _propose(tf: Platform, fn: Any, who: str = "operator") -> int:
    council = tf.c.council
    receipt = tf.transact(council.functions.propose(fn.address, fn._encode_transaction_data(), ZERO32), who)
    return int(tf.events(receipt, council, "ProposalCreated")[0]["proposalId"])


def test_governance_demo_council_is_two_of_three_with_a_delay(tf: Platform) -> None:
    council = tf.c.council.functions
    assert council.threshold().call() == 2
    assert [council.isGovernor(tf.address(who)).call() for who in ("operator", "bank1", "bank2")] == [
        True
    ] * 3
    assert council.isGovernor(tf.address("core1")).call() is False
    assert tf.c.timelock.functions.getMinDelay().call() == 60
    registry = tf.c.registry.functions
    admin = registry.DEFAULT_ADMIN_ROLE().call()
    assert registry.hasRole(admin, tf.deployment.timelock).call() is True
    assert registry.hasRole(admin, tf.address("operator")).call() is False, (
        "the deployer keeps no admin power"
    )


def test_governance_single_governor_cannot_act_alone(tf: Platform) -> None:
    grant = tf.c.registry.functions.grantRole(
        tf.c.registry.functions.OPERATOR_ROLE().call(), tf.address("bank2")
    )
    proposal_id = _propose(tf, grant)
    with tf.reverts("CouncilAlreadyApproved", proposal_id, tf.address("operator")):
        tf.transact(tf.c.council.functions.approve(proposal_id), "operator")
    tf.increase_time(3600)
    with tf.reverts("CouncilWrongState", proposal_id, 1):
        tf.transact(tf.c.council.functions.execute(proposal_id), "operator")
    # nor by going around the council: the timelock takes proposals from the council only
    timelock = tf.c.timelock.functions
    data = grant._encode_transaction_data()
    with tf.reverts("AccessControlUnauthorizedAccount"):
        tf.transact(timelock.schedule(grant.address, 0, data, ZERO32, ZERO32, 60), "operator")


def test_governance_two_governors_execute_only_after_the_delay(tf: Platform) -> None:
    registry = tf.c.registry.functions
    role = registry.OPERATOR_ROLE().call()
    proposal_id = _propose(tf, registry.grantRole(role, tf.address("bank2")), "bank1")
    receipt = tf.transact(tf.c.council.functions.approve(proposal_id), "bank2")
    (scheduled,) = tf.events(receipt, tf.c.council, "ProposalScheduled")
    with tf.reverts("CouncilNotReady", proposal_id, scheduled["eta"]):
        tf.transact(tf.c.council.functions.execute(proposal_id), "bank1")
    with tf.reverts("CouncilNotGovernor", tf.address("core1")):
        tf.transact(tf.c.council.functions.approve(proposal_id), "core1")
    tf.increase_time(61)
    with tf.reverts("CouncilNotGovernor", tf.address("supplier1")):
        tf.transact(tf.c.council.functions.execute(proposal_id), "supplier1")
    receipt = tf.transact(tf.c.council.functions.execute(proposal_id), "bank2")
    assert tf.events(receipt, tf.c.council, "ProposalExecuted") == [
        {"proposalId": proposal_id, "governor": tf.address("bank2")}
    ]
    assert registry.hasRole(role, tf.address("bank2")).call() is True
    with tf.reverts("CouncilWrongState", proposal_id, 3):
        tf.transact(tf.c.council.functions.execute(proposal_id), "bank2")


def test_governance_role_grants_revert_for_operator(tf: Platform) -> None:
    registry = tf.c.registry.functions
    role = registry.OPERATOR_ROLE().call()
    with tf.reverts(
        "AccessControlUnauthorizedAccount", tf.address("operator"), registry.DEFAULT_ADMIN_ROLE().call()
    ):
        tf.transact(registry.grantRole(role, tf.address("bank2")), "operator")


def test_guardian_pauses_at_once_but_cannot_unpause(tf: Platform) -> None:
    guardian = _guardian(tf)
    registry = tf.c.registry.functions
    tf.transact(registry.pause(), guardian)
    assert registry.paused().call() is True
    with tf.reverts("GovernanceOnly", guardian.address):
        tf.transact(registry.unpause(), guardian)
    with tf.reverts("GovernanceOnly", guardian.address):
        tf.transact(registry.setParameters(90 * 86_400, 86_400, 1), guardian)
    role = registry.GUARDIAN_ROLE().call()
    with tf.reverts("AccessControlUnauthorizedAccount"):
        tf.transact(registry.grantRole(role, tf.address("core1")), guardian)
    tf.govern(registry.unpause())


@pytest.mark.parametrize("name", PROXIED)
def test_upgrade_reverts_outside_governance(tf: Platform, name: str) -> None:
    proxy = _proxy(tf, name)
    new = tf.deployment.contracts[name].implementation  # any contract would do: the caller is refused first
    for who in ("operator", "bank1", "core1"):
        with tf.reverts("GovernanceOnly", tf.address(who)):
            tf.transact(proxy.functions.upgradeToAndCall(new, b""), who)
    with tf.reverts("GovernanceOnly", _guardian(tf).address):
        tf.transact(proxy.functions.upgradeToAndCall(new, b""), _guardian(tf))


@pytest.mark.parametrize("name", PROXIED)
def test_initialize_reverts_on_proxy_and_implementation(tf: Platform, name: str) -> None:
    args = [tf.address("core1")] * 4 if name == "ParticipantRegistry" else []
    for contract in (_proxy(tf, name), _implementation(tf, name)):
        with tf.reverts("InvalidInitialization"):
            tf.transact(contract.functions.initialize(*args), "core1")


def test_upgrade_of_implementation_directly_reverts(tf: Platform, kit: Kit) -> None:
    """The implementation refuses UUPS calls made to it rather than through its proxy."""
    implementation = _implementation(tf, "Receivables")
    with tf.reverts("UUPSUnauthorizedCallContext"):
        tf.transact(implementation.functions.upgradeToAndCall(implementation.address, b""), "operator")


def test_governance_upgrades_through_the_council(tf: Platform, kit: Kit) -> None:
    """Re-pointing a proxy at its own implementation: the governance path works and state stays in place."""
    _, root = kit.accepted()
    holder = tf.c.receivables.functions.ownerOf(root).call()
    implementation = tf.deployment.contracts["Receivables"].implementation
    receipt = tf.govern(tf.c.receivables.functions.upgradeToAndCall(implementation, b""))
    assert tf.events(receipt, tf.c.receivables, "Upgraded") == [{"implementation": implementation}]
    assert tf.c.receivables.functions.ownerOf(root).call() == holder
