"""ParticipantRegistry: onboarding, roles, suspension, parameters, system contracts, pause."""

from __future__ import annotations

import pytest
from certkit import AUDITOR, CORE, DAY, FINANCIER, SUPPLIER, Kit

from tierflow.testing.chain import Platform

HASH = b"\x11" * 32


def _new(tf: Platform) -> str:
    return tf.address(tf.extra_account(0))


def test_register_onboards_active_participant(tf: Platform, kit: Kit) -> None:
    new = _new(tf)
    receipt = tf.transact(tf.c.registry.functions.register(new, SUPPLIER, HASH), "operator")
    assert tf.events(receipt, tf.c.registry, "ParticipantRegistered") == [
        {"account": new, "roles": SUPPLIER, "entityHash": HASH, "operator": kit.a("operator")}
    ]
    assert tuple(tf.c.registry.functions.participant(new).call()) == (SUPPLIER, 1, HASH)
    assert tf.c.registry.functions.hasRole(new, SUPPLIER).call() is True
    assert tf.c.registry.functions.hasRole(new, SUPPLIER | CORE).call() is False


def test_register_reverts_when_already_registered(tf: Platform, kit: Kit) -> None:
    with tf.reverts("RegistryAlreadyRegistered", kit.a("supplier1")):
        tf.transact(tf.c.registry.functions.register(kit.a("supplier1"), SUPPLIER, HASH), "operator")


@pytest.mark.parametrize("roles", [0, 32, AUDITOR | SUPPLIER, AUDITOR | FINANCIER])
def test_register_reverts_with_invalid_roles(tf: Platform, roles: int) -> None:
    with tf.reverts("RegistryInvalidRoles", roles):
        tf.transact(tf.c.registry.functions.register(_new(tf), roles, HASH), "operator")


def test_register_reverts_for_zero_address(tf: Platform) -> None:
    with tf.reverts("RegistryZeroAddress"):
        tf.transact(tf.c.registry.functions.register("0x" + "00" * 20, SUPPLIER, HASH), "operator")


@pytest.mark.parametrize("who", ["core1", "supplier1", "bank1", "auditor", "outsider"])
def test_register_reverts_when_not_operator(tf: Platform, kit: Kit, who: str) -> None:
    with tf.reverts("RegistryNotOperator", kit.a(who)):
        tf.transact(tf.c.registry.functions.register(_new(tf), SUPPLIER, HASH), who)


def test_set_roles_replaces_roles(tf: Platform, kit: Kit) -> None:
    receipt = tf.transact(
        tf.c.registry.functions.setRoles(kit.a("supplier1"), SUPPLIER | FINANCIER), "operator"
    )
    assert tf.events(receipt, tf.c.registry, "ParticipantRolesChanged")[0]["roles"] == SUPPLIER | FINANCIER
    assert tf.c.registry.functions.participant(kit.a("supplier1")).call()[0] == SUPPLIER | FINANCIER


def test_set_roles_reverts_when_unknown(tf: Platform, kit: Kit) -> None:
    with tf.reverts("RegistryUnknownParticipant", kit.a("outsider")):
        tf.transact(tf.c.registry.functions.setRoles(kit.a("outsider"), SUPPLIER), "operator")


def test_suspend_blocks_sending_and_receiving(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    receipt = tf.transact(tf.c.registry.functions.suspend(kit.a("supplier2")), "operator")
    assert tf.events(receipt, tf.c.registry, "ParticipantSuspended") == [
        {"account": kit.a("supplier2"), "operator": kit.a("operator")}
    ]
    with tf.reverts("RegistryParticipantSuspended", kit.a("supplier2")):
        kit.transfer_value(root, "supplier1", "supplier2", 1)
    child = kit.transfer_value(root, "supplier1", "supplier3", 1_000)
    tf.transact(tf.c.registry.functions.suspend(kit.a("supplier3")), "operator")
    with tf.reverts("RegistryParticipantSuspended", kit.a("supplier3")):
        tf.transact(tf.c.receivables.functions.transfer(child, kit.a("supplier1")), "supplier3")


def test_suspend_reverts_when_already_suspended(tf: Platform, kit: Kit) -> None:
    tf.transact(tf.c.registry.functions.suspend(kit.a("supplier2")), "operator")
    with tf.reverts("RegistryParticipantSuspended", kit.a("supplier2")):
        tf.transact(tf.c.registry.functions.suspend(kit.a("supplier2")), "operator")


def test_reinstate_restores_participant(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    tf.transact(tf.c.registry.functions.suspend(kit.a("supplier2")), "operator")
    receipt = tf.transact(tf.c.registry.functions.reinstate(kit.a("supplier2")), "operator")
    assert tf.events(receipt, tf.c.registry, "ParticipantReinstated")[0]["account"] == kit.a("supplier2")
    kit.transfer_value(root, "supplier1", "supplier2", 1)


def test_reinstate_reverts_when_not_suspended(tf: Platform, kit: Kit) -> None:
    with tf.reverts("RegistryNotSuspended", kit.a("supplier2")):
        tf.transact(tf.c.registry.functions.reinstate(kit.a("supplier2")), "operator")


def test_set_parameters_defaults_and_update(tf: Platform, kit: Kit) -> None:
    r = tf.c.registry.functions
    assert tuple(r.parameters().call()) == (180 * DAY, 7 * DAY, 1)
    receipt = tf.govern(r.setParameters(366 * DAY, 3 * DAY, 100))
    assert tf.events(receipt, tf.c.registry, "ParametersChanged") == [
        {"maxTenor": 366 * DAY, "gracePeriod": 3 * DAY, "minUnit": 100, "operator": tf.c.timelock.address}
    ]
    assert (r.maxTenor().call(), r.gracePeriod().call(), r.minUnit().call()) == (366 * DAY, 3 * DAY, 100)


@pytest.mark.parametrize(
    ("tenor", "grace", "unit"),
    [(367 * DAY, 7 * DAY, 1), (0, 7 * DAY, 1), (90 * DAY, 7 * DAY, 0), (DAY, 400 * DAY, 1)],
)
def test_set_parameters_reverts_out_of_bounds(tf: Platform, tenor: int, grace: int, unit: int) -> None:
    with tf.reverts("RegistryInvalidParameters", tenor, grace, unit):
        tf.govern(tf.c.registry.functions.setParameters(tenor, grace, unit))


@pytest.mark.parametrize("who", ["operator", "bank1", "core1"])
def test_set_parameters_reverts_when_not_governance(tf: Platform, kit: Kit, who: str) -> None:
    with tf.reverts("GovernanceOnly", kit.a(who)):
        tf.transact(tf.c.registry.functions.setParameters(DAY, DAY, 1), who)


def test_set_system_contract_wired(tf: Platform, kit: Kit) -> None:
    r = tf.c.registry.functions
    assert r.isSystemContract(tf.c.receivables.address).call() is True
    assert r.isSystemContract(tf.c.financing.address).call() is True
    assert r.isSystemContract(kit.a("supplier1")).call() is False
    with tf.reverts("RegistryNotOperator", kit.a("core1")):
        tf.transact(r.setSystemContract(kit.a("core1"), True), "core1")


def test_pause_stops_everything_until_unpaused(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    kit.give("core1", FACE_SMALL)
    receipt = tf.transact(tf.c.registry.functions.pause(), "operator")
    assert tf.events(receipt, tf.c.registry, "Paused") == [{"account": kit.a("operator")}]
    assert tf.c.registry.functions.paused().call() is True
    for fn, who in [
        (tf.c.receivables.functions.transferValue(root, kit.a("supplier2"), 1), "supplier1"),
        (tf.c.receivables.functions.repay(slot_id, 1), "core1"),
        (tf.c.token.functions.transfer(kit.a("supplier1"), 1), "core1"),
        (tf.c.token.functions.mint(kit.a("supplier1"), 1), "bank1"),
        (tf.c.credit_lines.functions.grant(kit.a("core2"), 1, tf.now() + DAY), "bank1"),
        (tf.c.financing.functions.request(root, 1, kit.a("bank1"), False), "supplier1"),
    ]:
        with tf.reverts("RegistryPlatformPaused"):
            tf.transact(fn, who)
    # the operator can still act during an emergency
    tf.transact(tf.c.registry.functions.suspend(kit.a("supplier4")), "operator")
    tf.govern(tf.c.registry.functions.unpause())
    kit.transfer_value(root, "supplier1", "supplier2", 1)


def test_pause_reverts_when_not_operator(tf: Platform, kit: Kit) -> None:
    for who in ("core1", "supplier1", "bank1", "auditor", "outsider"):
        with tf.reverts("RegistryNotOperator", kit.a(who)):
            tf.transact(tf.c.registry.functions.pause(), who)


def test_unpause_reverts_when_not_governance(tf: Platform, kit: Kit) -> None:
    tf.transact(tf.c.registry.functions.pause(), "operator")
    for who in ("operator", "bank1", "auditor"):  # the operator pauses at once but cannot resume alone
        with tf.reverts("GovernanceOnly", kit.a(who)):
            tf.transact(tf.c.registry.functions.unpause(), who)
    assert tf.c.registry.functions.paused().call() is True


def test_is_operator(tf: Platform, kit: Kit) -> None:
    assert tf.c.registry.functions.isOperator(kit.a("operator")).call() is True
    assert tf.c.registry.functions.isOperator(kit.a("bank1")).call() is False


FACE_SMALL = 10_000


def test_anchor_audit_head_records_the_day_once(tf: Platform, kit: Kit) -> None:
    receipt = tf.transact(tf.c.registry.functions.anchorAuditHead(20_000, 7, HASH), "operator")
    assert tf.events(receipt, tf.c.registry, "AuditHeadAnchored") == [
        {"day": 20_000, "seq": 7, "head": HASH, "operator": kit.a("operator")}
    ]
    assert tuple(tf.c.registry.functions.auditAnchor(20_000).call()) == (7, HASH)
    assert tuple(tf.c.registry.functions.auditAnchor(20_001).call()) == (0, b"\x00" * 32)
    with tf.reverts("RegistryAuditDayAnchored", 20_000, HASH):  # a rewrite cannot move the anchor
        tf.transact(tf.c.registry.functions.anchorAuditHead(20_000, 8, b"\x22" * 32), "operator")
    with tf.reverts("RegistryAuditDayAnchored", 20_001, b"\x00" * 32):
        tf.transact(tf.c.registry.functions.anchorAuditHead(20_001, 0, HASH), "operator")


@pytest.mark.parametrize("who", ["bank1", "auditor", "outsider"])
def test_anchor_audit_head_reverts_when_not_operator(tf: Platform, kit: Kit, who: str) -> None:
    with tf.reverts("RegistryNotOperator", kit.a(who)):
        tf.transact(tf.c.registry.functions.anchorAuditHead(20_002, 1, HASH), who)
