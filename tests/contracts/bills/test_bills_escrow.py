"""Escrow of a frozen bill range (issue 15): paid at maturity into escrow, released to its holder then."""

from __future__ import annotations

from billkit import YUAN, BillKit, RangeStatus

from tierflow.testing.chain import Platform

ORDER = b"\x0c" * 32
RELEASE = b"\x0d" * 32
REVERIFIED = b"\x0e" * 32
FACE = 10_000 * YUAN


def _freeze(kit: BillKit, range_id: int, start: int, end: int) -> int:
    receipt = kit.tx(kit.bills.functions.freezeRange(range_id, start, end, ORDER), "operator")
    return int(kit.event(receipt, "BillRangeFrozen")["rangeId"])


def _escrow(kit: BillKit, range_id: int, amount: int) -> dict[str, object]:
    kit.fund("core1", amount)
    return kit.event(kit.tx(kit.bills.functions.pay(range_id), "core1"), "BillEscrowed")


def test_frozen_range_paid_into_escrow_and_released_to_the_holder(tf: Platform, kit: BillKit) -> None:
    package_id, root = kit.live()
    frozen = _freeze(kit, root, 2_001, 5_000)
    b = kit.bills.functions
    kit.fund("core1", FACE)
    with kit.reverts("BillNotMatured", package_id, kit.package(package_id)["maturity"]):
        kit.tx(b.pay(frozen), "core1")
    kit.mature(package_id)
    with kit.reverts("BillNotAcceptor", package_id, kit.addr("supplier1")):  # only the acceptor pays in
        kit.tx(b.pay(frozen), "supplier1")
    event = _escrow(kit, frozen, 3_000)
    assert (event["rangeId"], event["amount"]) == (frozen, 3_000)
    assert b.escrowed(frozen).call() == 3_000 and kit.balance("supplier1") == 0
    assert int(kit.token.functions.balanceOf(kit.bills.address).call()) == 3_000
    assert kit.range(frozen).status == RangeStatus.FROZEN  # the money does not move while the hold stands
    with kit.reverts("BillWrongRangeStatus", frozen, RangeStatus.FROZEN):  # paid in once only
        kit.tx(b.pay(frozen), "core1")
    with kit.reverts("BillWrongRangeStatus", frozen, RangeStatus.FROZEN):
        kit.present(frozen, "supplier1")
    receipt = kit.tx(b.unfreezeRange(frozen, RELEASE), "operator")
    released = kit.event(receipt, "BillEscrowReleased")
    assert (released["holder"], released["amount"]) == (kit.addr("supplier1"), 3_000)
    assert kit.balance("supplier1") == 3_000 and b.escrowed(frozen).call() == 0
    assert kit.range(frozen).status == RangeStatus.PAID
    with kit.reverts("BillWrongRangeStatus", frozen, RangeStatus.PAID):  # and never paid twice
        kit.tx(b.pay(frozen), "core1")
    assert int(kit.token.functions.balanceOf(kit.bills.address).call()) == 0


def test_escrow_follows_a_forced_transfer_and_a_key_recovery(tf: Platform, kit: BillKit) -> None:
    package_id, root = kit.live()
    frozen = _freeze(kit, root, 1, FACE)
    kit.mature(package_id)
    _escrow(kit, frozen, FACE)
    b = kit.bills.functions
    receipt = kit.tf.govern(b.forceTransferRange(frozen, 1, FACE, kit.addr("supplier2"), ORDER))
    moved = int(kit.event(receipt, "BillRangeForceTransferred")["newRangeId"])
    assert (b.escrowed(frozen).call(), b.escrowed(moved).call()) == (0, FACE)
    with kit.reverts("BillWrongRangeStatus", frozen, RangeStatus.CLOSED):  # the old record releases nothing
        kit.tx(b.unfreezeRange(frozen, RELEASE), "operator")
    heir = tf.extra_account(3)
    kit.tf.govern(kit.registry.functions.recover(kit.addr("supplier2"), heir.address, REVERIFIED))
    kit.tf.govern(b.recoverParties(kit.addr("supplier2"), heir.address, [moved], REVERIFIED))
    kit.tx(b.unfreezeRange(moved, RELEASE), "operator")
    assert kit.balance(heir) == FACE and kit.balance("supplier2") == 0 and kit.balance("supplier1") == 0
