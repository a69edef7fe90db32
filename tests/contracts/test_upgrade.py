"""Upgrade on anvil (issue 15): drive every lifecycle to mixed states, upgrade every contract through
governance to release 2 (tests/contracts/upgrade_fixtures), and show that state, invariants and flows hold."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from certkit import DAY, FACE, Kit

from tierflow.chain.accounts import DEMO_GOVERNOR_INDICES, dev_account
from tierflow.chain.compile import Artifact, compile_all
from tierflow.chain.deploy import INITIALIZERS, upgrade_all
from tierflow.settings import REPO_ROOT
from tierflow.testing.chain import CONTRACT_ATTRIBUTES, Platform

sys.path.insert(0, str(Path(__file__).parent / "bills"))  # BillKit drives the bills
from billkit import BillKit  # noqa: E402

FIXTURE = "tests/contracts/upgrade_fixtures/TierflowV2.sol"


@pytest.fixture(scope="module")
def release2() -> dict[str, Artifact]:
    """The current artifacts with each upgradeable contract replaced by its V2 fixture, under its own name."""
    artifacts = compile_all(extra_sources={FIXTURE: (REPO_ROOT / FIXTURE).read_text()})
    return {**artifacts, **{name: artifacts[f"{name}V2"] for name in INITIALIZERS}}


def _state(tf: Platform, bk: BillKit) -> dict[str, Any]:
    """Everything the contracts answer about every id and party: equal before and after an upgrade."""
    c = tf.c
    r, f, b = c.receivables.functions, c.financing.functions, c.bills.functions
    parties = [tf.address(who) for who in tf.accounts]
    slots = range(1, r.lastSlotId().call() + 1)
    return {
        "slots": [r.slot(s).call() for s in slots],
        "invoices": [r.invoicesOf(s).call() for s in slots],
        "tokens": [r.token(t).call() for t in range(1, r.lastTokenId().call() + 1)],
        "requests": [f.getRequest(q).call() for q in range(1, f.lastRequestId().call() + 1)],
        "recourse": [f.recourseOwed(p).call() for p in parties],
        "lines": [c.credit_lines.functions.line(n).call() for n in range(1, 4)],
        "packages": [bk.package(p) for p in range(1, 4)],
        "ranges": [b.range(n).call() for n in range(1, 12)],
        "balances": [c.token.functions.balanceOf(p).call() for p in parties],
        "supply": c.token.functions.totalSupply().call(),
        "participants": [c.registry.functions.participant(p).call() for p in parties],
        "parameters": c.registry.functions.parameters().call(),
        "consumers": [
            c.credit_lines.functions.isConsumer(c.receivables.address).call(),
            c.documents.functions.isConsumer(c.bills.address).call(),
            c.registry.functions.isSystemContract(c.financing.address).call(),
        ],
        "financing": r.financing().call(),
        "chain_length": b.maxChainLength().call(),
    }


def _check_slot_invariant(tf: Platform) -> None:
    """Invariant 1: per slot, live token values + paid out == face."""
    r = tf.c.receivables.functions
    values: dict[int, int] = {}
    for t in range(1, r.lastTokenId().call() + 1):
        token = r.token(t).call()
        values[token[1]] = values.get(token[1], 0) + token[2]
    for s in range(1, r.lastSlotId().call() + 1):
        slot = r.slot(s).call()
        if slot[5] in (1, 2, 4, 5):  # issued, accepted, defaulted, repaid: the value is live
            assert values.get(s, 0) + slot[7] == slot[2], (s, values.get(s), slot)


def test_upgrade_every_contract_keeps_state_and_flows(tf: Platform, release2: dict[str, Artifact]) -> None:
    kit, bk = Kit(tf), BillKit(tf)
    # certificates: an accepted one split and passed on, an issued one waiting for acceptance,
    # one financed with recourse and defaulted (recourse not yet exercised), one financed without
    paid_slot, paid_root = kit.accepted(days=20)
    second = kit.transfer_value(paid_root, "supplier1", "supplier2", FACE // 4)
    waiting_slot, _ = kit.issue(supplier="supplier3")
    defaulted_slot, defaulted_root = kit.accepted(supplier="supplier4", days=20)
    recourse = kit.financed(defaulted_root, seller="supplier4", amount=FACE // 2, recourse=True)
    _, open_root = kit.accepted(days=60)
    plain = kit.financed(open_root, amount=FACE // 2)
    request_open, _ = kit.request_financing(open_root, amount=FACE // 8)
    # bills: endorsed in part, discounted in part, pledged in part
    package, root_range = bk.live()
    endorsed = bk.endorse(
        root_range, bk.range(root_range).start, bk.range(root_range).start + 99_999, "supplier2", "supplier1"
    )
    rest = bk.range(root_range)
    bk.discount(root_range, rest.start, rest.start + 199_999, "supplier1")
    rest = bk.range(root_range)
    bk.pledge(root_range, rest.start, rest.start + 99_999, "supplier1")
    kit.to_maturity(defaulted_slot, extra=8 * DAY)
    tf.transact(tf.c.receivables.functions.markDefaulted(defaulted_slot, recourse.token_id), "bank1")
    kit.repay(paid_slot, FACE // 2)  # partly repaid

    before = _state(tf, bk)
    _check_slot_invariant(tf)
    governors = [dev_account(i) for i in DEMO_GOVERNOR_INDICES]
    upgraded = upgrade_all(tf.w3, tf.deployment, governors, artifacts=release2, wait=tf.increase_time)

    for name in INITIALIZERS:
        contract = getattr(tf.c, CONTRACT_ATTRIBUTES[name])
        assert upgraded.contracts[name].address == tf.deployment.contracts[name].address, "the proxy stays"
        assert upgraded.contracts[name].implementation != tf.deployment.contracts[name].implementation
        assert upgraded.contracts[name].version == "2"
        v2 = tf.w3.eth.contract(address=contract.address, abi=release2[name].abi)
        assert v2.functions.upgradedFeature().call() == 2
    assert _state(tf, bk) == before
    _check_slot_invariant(tf)

    # every flow continues on release 2
    tf.transact(tf.c.receivables.functions.accept(waiting_slot), "supplier3")
    kit.transfer_value(open_root, "supplier1", "supplier3", FACE // 16)
    kit.quote(request_open)
    kit.accept_quote(request_open)
    kit.give("supplier4", FACE // 2)
    kit.approve("supplier4", "financing")
    tf.transact(tf.c.financing.functions.exerciseRecourse(recourse.request_id), "bank1")
    kit.repay(paid_slot, FACE // 2)
    kit.to_maturity(paid_slot)
    tf.transact(tf.c.receivables.functions.claim(paid_root), "supplier1")
    tf.transact(tf.c.receivables.functions.claim(second), "supplier2")
    assert kit.token(paid_root)[2] == 0 and kit.token(second)[2] == 0
    fresh = kit.financed(kit.accepted()[1], amount=FACE // 4)
    assert kit.token(fresh.token_id)[0] == kit.a("bank1")
    assert plain.token_id and endorsed
    bk.endorse_all(endorsed["newRangeId"], "supplier3", "supplier2")
    bk.mature(package)
    bk.present(root_range, "supplier1")
    bk.pay(root_range)
    _check_slot_invariant(tf)
