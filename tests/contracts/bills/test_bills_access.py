"""Bills access control: auditors never write, outsiders and wrong roles are refused, pause stops all."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from billkit import DAY, BillKit, RangeStatus

from tierflow.testing.chain import Platform

FACE = 1_000


@dataclass
class Scene:
    """One bill in every interesting state, for calling each write function on a valid target."""

    issued: int  # package awaiting acceptance (drawer core2, acceptor core1, payee supplier1)
    issued_invoices: list[bytes]
    accepted: int  # package awaiting receipt by supplier1
    accepted_invoices: list[bytes]
    held: int  # range held by supplier1 (matured package)
    pledged: int  # range pledged by supplier1 to bank1
    presented: int  # range presented by supplier2
    dishonoured: int  # range dishonoured, held by supplier3, endorsed by supplier2 and supplier1
    quote: int  # bank1's quote on a range of a package before maturity
    open_range: int  # the quoted range, held by supplier1, before maturity


@pytest.fixture(scope="module")
def scene_state(platform_session: Platform) -> Iterator[Scene]:
    """Built once per module (it takes ~25 transactions); each test still reverts its own changes."""
    snapshot = platform_session.snapshot()
    kit = BillKit(platform_session)
    issued_invoices, accepted_invoices = kit.invoices(), kit.invoices()
    later = kit.tf.now() + 170 * DAY  # still open after the 90 days the scene lets pass
    issued = kit.issue(drawer="core2", maturity=later, invoices=issued_invoices)
    accepted = kit.issue(drawer="core2", maturity=later, invoices=accepted_invoices)
    kit.accept(accepted)
    _, open_range = kit.live(face=FACE, maturity=later)
    quote = kit.quote(open_range, 1, 10, "bank1", expiry=later)
    package_id, root = kit.live(face=FACE, drawer="core2")
    pledged = int(kit.pledge(root, 1, 100, "supplier1", "bank1")["rangeId"])
    to_present = int(kit.endorse(root, 101, 200, "supplier2", "supplier1")["newRangeId"])
    middle = int(kit.endorse(root, 201, 300, "supplier2", "supplier1")["newRangeId"])
    dishonoured = kit.endorse_all(middle, "supplier3", "supplier2")
    kit.mature(package_id)
    kit.present(to_present, "supplier2")
    kit.present(dishonoured, "supplier3")
    kit.dishonour(dishonoured)
    assert kit.range(root).status == RangeStatus.HELD
    try:
        yield Scene(
            issued,
            issued_invoices,
            accepted,
            accepted_invoices,
            root,
            pledged,
            to_present,
            dishonoured,
            quote,
            open_range,
        )
    finally:
        platform_session.revert_to(snapshot)


@pytest.fixture
def scene(scene_state: Scene, tf: Platform) -> Scene:
    return scene_state


# name -> call(kit, scene, who) building the contract call a party `who` would send
Call = Callable[[BillKit, Scene, str], Any]
CALLS: dict[str, Call] = {
    "issue": lambda k, s, w: k.bills.functions.issue(
        k.addr("core1"), k.addr("supplier1"), FACE, k.tf.now() + 30 * DAY, True, False, k.invoices()
    ),
    "cancel": lambda k, s, w: k.bills.functions.cancel(s.issued, s.issued_invoices),
    "accept": lambda k, s, w: k.bills.functions.accept(s.issued),
    "receiveBill": lambda k, s, w: k.bills.functions.receiveBill(s.accepted),
    "reject": lambda k, s, w: k.bills.functions.reject(s.accepted, s.accepted_invoices),
    "endorse": lambda k, s, w: k.bills.functions.endorse(s.open_range, 11, 20, k.addr("supplier2")),
    "quoteDiscount": lambda k, s, w: k.bills.functions.quoteDiscount(
        s.open_range, 1, 10, 300, k.tf.now() + DAY
    ),
    "cancelQuote": lambda k, s, w: k.bills.functions.cancelQuote(s.quote),
    "acceptQuote": lambda k, s, w: k.bills.functions.acceptQuote(s.quote),
    "pledge": lambda k, s, w: k.bills.functions.pledge(s.open_range, 11, 20, k.addr("bank2")),
    "releasePledge": lambda k, s, w: k.bills.functions.releasePledge(s.pledged),
    "present": lambda k, s, w: k.bills.functions.present(s.held),
    "pay": lambda k, s, w: k.bills.functions.pay(s.presented),
    "dishonour": lambda k, s, w: k.bills.functions.dishonour(s.presented, 1),
    "dishonourUnanswered": lambda k, s, w: k.bills.functions.dishonourUnanswered(s.presented),
    "claimRecourse": lambda k, s, w: k.bills.functions.claimRecourse(s.dishonoured, k.addr("supplier1")),
    "settleRecourse": lambda k, s, w: k.bills.functions.settleRecourse(s.dishonoured),
}

# The party entitled to each call in the scene: it succeeds for them (checked below), so a refusal
# of anyone else is about who they are, not about the state.
ENTITLED = {
    "issue": "core1",
    "cancel": "core2",
    "accept": "core1",
    "receiveBill": "supplier1",
    "reject": "supplier1",
    "endorse": "supplier1",
    "quoteDiscount": "bank2",
    "cancelQuote": "bank1",
    "acceptQuote": "supplier1",
    "pledge": "supplier1",
    "releasePledge": "bank1",
    "present": "supplier1",
    "pay": "core1",
    "dishonour": "core1",
    "claimRecourse": "supplier3",
}

# Expected refusal of the auditor (AUDITOR role only) and of an unregistered outsider, per call:
# "registry" = the registry refuses the sender (RegistryMissingRole / RegistryUnknownParticipant) before
# any bill rule; otherwise the bill's own party check comes first. Every refusal names the sender.
REFUSAL = {
    "issue": "registry",
    "cancel": "BillNotDrawerOrAcceptor",
    "accept": "BillNotAcceptor",
    "receiveBill": "BillNotPayee",
    "reject": "BillNotPayee",
    "endorse": "registry",
    "quoteDiscount": "registry",
    "cancelQuote": "BillNotQuoteFinancier",
    "acceptQuote": "registry",
    "pledge": "registry",
    "releasePledge": "BillNotPledgee",
    "present": "BillNotHolder",
    "pay": "BillNotAcceptor",
    "dishonour": "BillNotAcceptor",
    "dishonourUnanswered": "BillNotHolder",
    "claimRecourse": "BillNotHolder",
    "settleRecourse": "BillNotRecourseObligor",
}


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("who", ["auditor", "outsider"])
def test_writes_refused_for_auditor_and_outsider(kit: BillKit, scene: Scene, name: str, who: str) -> None:
    expected = REFUSAL[name]
    if expected == "registry":
        expected = "RegistryMissingRole" if who == "auditor" else "RegistryUnknownParticipant"
    before = kit.bills.functions.nextRangeId().call()
    with kit.reverts(expected) as caught:
        kit.tx(CALLS[name](kit, scene, who), who)
    assert caught.error is not None
    assert kit.addr(who).lower() in [str(v).lower() for v in caught.error.values]
    assert kit.bills.functions.nextRangeId().call() == before


@pytest.mark.parametrize("name", sorted(ENTITLED))
def test_writes_succeed_for_the_entitled_party(kit: BillKit, scene: Scene, name: str) -> None:
    who = ENTITLED[name]
    if name == "acceptQuote":
        kit.fund("bank1", 10)
    if name in ("pay",):
        kit.fund("core1", FACE)
    kit.tx(CALLS[name](kit, scene, who), who)


def test_writes_refused_for_auditor_even_when_it_holds_a_range(kit: BillKit) -> None:
    """A holder whose roles are replaced by AUDITOR can no longer move, present or claim."""
    package_id, root = kit.live(face=FACE)
    kit.tx(kit.registry.functions.setRoles(kit.addr("supplier1"), 16), "operator")
    with kit.reverts("RegistryMissingRole", kit.addr("supplier1"), 7, 16):
        kit.endorse(root, 1, 10, "supplier2", "supplier1")
    with kit.reverts("RegistryMissingRole", kit.addr("supplier1"), 7, 16):
        kit.pledge(root, 1, 10, "supplier1", "bank1")
    kit.mature(package_id)
    with kit.reverts("RegistryMissingRole", kit.addr("supplier1"), 7, 16):
        kit.present(root, "supplier1")


def test_pay_refused_when_holder_suspended(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    kit.mature(package_id)
    kit.present(root, "supplier1")
    kit.tx(kit.registry.functions.suspend(kit.addr("supplier1")), "operator")
    kit.fund("core1", FACE)
    with kit.reverts("RegistryParticipantSuspended", kit.addr("supplier1")):
        kit.tx(kit.bills.functions.pay(root), "core1")


@pytest.mark.parametrize("name", sorted(ENTITLED))
def test_writes_refused_while_paused(kit: BillKit, scene: Scene, name: str) -> None:
    kit.tx(kit.registry.functions.pause(), "operator")
    with kit.reverts("RegistryPlatformPaused"):
        kit.tx(CALLS[name](kit, scene, ENTITLED[name]), ENTITLED[name])
