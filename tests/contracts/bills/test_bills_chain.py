"""Bills: the endorsement chain is capped, so recourse costs bounded gas however long the history."""

from __future__ import annotations

from billkit import DAY, BillKit

from tierflow.testing.chain import Platform

FACE = 1_000
LIMIT = 100  # Bills.CHAIN_LENGTH_LIMIT
RELAYER_GAS_BUDGET = 1_500_000  # one forwarded call (services/relayer.py GAS_BUDGET)


def _bounce(kit: BillKit, current: int, hops: int, a: str = "supplier1", b: str = "supplier2") -> int:
    """Two colluding holders endorse the whole range back and forth `hops` times; the last record id."""
    r = kit.range(current)
    parties = (a, b)
    for hop in range(hops):
        receipt = kit.tx(
            kit.bills.functions.endorse(current, r.start, r.end, kit.addr(parties[(hop + 1) % 2])),
            parties[hop % 2],
        )
        current = int(kit.event(receipt, "BillEndorsed")["newRangeId"])
    return current


def test_unbounded_endorsement_chain_recourse_fits_relayer_gas_budget(tf: Platform, kit: BillKit) -> None:
    """The attack of issue 12: colluders bounce a range to build a 500-hop history so that a later
    holder's claim against an early endorser costs more gas than the relayer may spend. The chain is
    capped (here at the highest cap the operator may set), so the history stops at the cap and every
    claim the holder may make fits well inside the budget."""
    kit.tx(kit.bills.functions.setMaxChainLength(LIMIT), "operator")
    package_id, root = kit.live(face=FACE, payee="supplier1", maturity=tf.now() + 170 * DAY)
    current = _bounce(kit, root, LIMIT - 1)  # ends with supplier2 (an odd number of hops)
    current = kit.endorse_all(current, "supplier3", "supplier2")  # the victim, at depth LIMIT
    assert kit.bills.functions.range(current).call()[3] == LIMIT
    # the 500-hop history cannot be built: the next hop already exceeds the cap
    with kit.reverts("BillChainTooLong", current, LIMIT + 1, LIMIT):
        kit.endorse_all(current, "supplier4", "supplier3")
    kit.mature(package_id)
    kit.present(current, "supplier3")
    kit.dishonour(current)
    gas = {}
    for obligor in ("supplier1", "supplier2", "core1"):  # the earliest endorser, the latest, the drawer
        fn = kit.bills.functions.claimRecourse(current, kit.addr(obligor))
        gas[obligor] = fn.estimate_gas({"from": kit.addr("supplier3")})
    print(f"claimRecourse gas over a {LIMIT}-record chain: {gas}")
    assert max(gas.values()) < RELAYER_GAS_BUDGET // 2, gas
    receipt = kit.tx(kit.bills.functions.claimRecourse(current, kit.addr("supplier1")), "supplier3")
    assert receipt["gasUsed"] < RELAYER_GAS_BUDGET // 2


def test_endorse_and_discount_revert_beyond_chain_cap(tf: Platform, kit: BillKit) -> None:
    kit.tx(kit.bills.functions.setMaxChainLength(3), "operator")
    _, root = kit.live(face=FACE, payee="supplier1")
    current = _bounce(kit, root, 3)  # depth 3, held by supplier2
    with kit.reverts("BillChainTooLong", current, 4, 3):
        kit.endorse_all(current, "supplier3", "supplier2")
    quote = kit.quote(current, 1, FACE, "bank1")
    kit.fund("bank1", FACE)
    with kit.reverts("BillChainTooLong", current, 4, 3):
        kit.tx(kit.bills.functions.acceptQuote(quote), "supplier2")
    # a part kept by the holder (pledge, remainder) stays at its depth and may still be pledged
    kit.pledge(current, 1, 100, "supplier2")
    assert kit.bills.functions.range(current).call()[3] == 3


def test_settle_recourse_takes_the_obligors_depth(tf: Platform, kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE, payee="supplier1")
    s2 = kit.endorse_all(root, "supplier2", "supplier1")
    s3 = kit.endorse_all(s2, "supplier3", "supplier2")
    kit.mature(package_id)
    kit.present(s3, "supplier3")
    kit.dishonour(s3)
    kit.claim(s3, "supplier1", "supplier3")
    taken = kit.settle(s3, "supplier1")
    assert kit.bills.functions.range(taken).call()[3] == 0  # supplier1's own place: the root


def test_set_max_chain_length_operator_only_bounded_and_changing(tf: Platform, kit: BillKit) -> None:
    assert kit.bills.functions.maxChainLength().call() == 50
    with kit.reverts("BillNotOperator", kit.addr("supplier1")):
        kit.tx(kit.bills.functions.setMaxChainLength(10), "supplier1")
    for bad in (0, LIMIT + 1, 50):
        with kit.reverts("BillInvalidChainLength", bad, LIMIT):
            kit.tx(kit.bills.functions.setMaxChainLength(bad), "operator")
    receipt = kit.tx(kit.bills.functions.setMaxChainLength(10), "operator")
    assert kit.event(receipt, "BillChainLengthSet") == {"cap": 10, "operator": kit.addr("operator")}
    assert kit.bills.functions.maxChainLength().call() == 10
