"""Access control: every state-changing function, called by every wrong party, reverts with the exact error.

One scenario is built once per module (a line, an accepted certificate, an issued one, an accepted
financing request, cash); each case calls one function as each party that must not call it, then as
the right party after it has been suspended. Reverted calls change nothing, so the cases share it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from certkit import DAY, FACE, Kit, invoice

from tierflow.testing.chain import Platform

PARTIES = ["operator", "core1", "core2", "supplier1", "supplier2", "bank1", "bank2", "auditor", "outsider"]
ROLES = {"core1": 1, "core2": 1, "supplier1": 2, "supplier2": 2, "bank1": 12, "bank2": 4, "auditor": 16}
CORE, SUPPLIER, FINANCIER, HOLDER, PARTY = 1, 2, 4, 6, 15


@pytest.fixture(scope="module")
def sc(platform_session: Platform) -> Iterator[dict[str, Any]]:
    tf = platform_session
    base = tf.snapshot()
    kit = Kit(tf)
    line = kit.grant("core1")
    s1, t = kit.accepted(line_id=line)
    s2, _ = kit.issue(line_id=line)
    request_id, locked = kit.request_financing(t, amount=FACE // 2)
    kit.quote(request_id)
    kit.accept_quote(request_id)
    for who in ("core1", "core2", "supplier1", "supplier2", "bank1", "bank2"):
        kit.give(who, 10 * FACE)
    r = kit.request(request_id)
    terms = [r[6], r[9], r[7]]  # rate, price, expiry: what acceptQuote must name
    yield {
        "kit": kit, "line": line, "s1": s1, "s2": s2, "t": t, "r": request_id, "locked": locked,
        "terms": terms,
    }  # fmt: skip
    tf.revert_to(base)


@pytest.fixture
def tfm(platform_session: Platform, sc: dict[str, Any]) -> Iterator[Platform]:
    snapshot = platform_session.snapshot()
    yield platform_session
    platform_session.revert_to(snapshot)


Expected = tuple[str, tuple[Any, ...]]


@dataclass
class Case:
    contract: str
    function: str
    args: Callable[[dict[str, Any], Callable[[str], str]], list[Any]]
    right: str  # the party allowed to call (suspended in the last step)
    roles: int | None = None  # registry role bits checked for the caller; None: a custom gate
    gate: str = ""  # error of a custom gate (operator/consumer/financing only), argument: the caller
    same_role: dict[str, Callable[[dict[str, Any], Callable[[str], str]], Expected]] = field(
        default_factory=dict
    )
    allowed: tuple[str, ...] = ()  # other parties that may call too

    @property
    def id(self) -> str:
        return f"{self.contract}.{self.function}"


def _not_holder(sc: dict[str, Any], a: Callable[[str], str], who: str) -> Expected:
    return ("CertificateNotHolder", (sc["t"], a(who), a("supplier1")))


def holders_err(*parties: str) -> dict[str, Callable[..., Expected]]:
    return {p: (lambda sc, a, p=p: _not_holder(sc, a, p)) for p in parties}


CASES = [
    # ParticipantRegistry: operator only (parameters, quote validity, unpause: test_governance_powers)
    *[
        Case("registry", fn, args, "operator", gate="RegistryNotOperator")
        for fn, args in [
            ("register", lambda sc, a: [a("outsider"), SUPPLIER, b"\1" * 32]),
            ("setRoles", lambda sc, a: [a("supplier2"), 3]),
            ("suspend", lambda sc, a: [a("supplier2")]),
            ("reinstate", lambda sc, a: [a("supplier2")]),
            ("setSystemContract", lambda sc, a: [a("outsider"), True]),
            ("pause", lambda sc, a: []),
        ]
    ],
    # CreditLines
    Case(
        "credit_lines", "grant",
        lambda sc, a: [a("core2"), FACE, 10**10], "bank1", FINANCIER, allowed=("bank2",),
    ),
    Case(
        "credit_lines", "adjust", lambda sc, a: [sc["line"], 10 * FACE, 10**10], "bank1", FINANCIER,
        same_role={"bank2": lambda sc, a: ("CreditLineNotFinancier", (sc["line"], a("bank2")))},
    ),
    Case(
        "credit_lines", "setConsumer",
        lambda sc, a: [a("outsider"), True], "operator", gate="CreditLineNotOperator",
    ),
    Case(
        "credit_lines", "draw",
        lambda sc, a: [sc["line"], a("core1"), 1], "-", gate="CreditLineUnauthorizedConsumer",
    ),
    Case(
        "credit_lines", "restore",
        lambda sc, a: [sc["line"], 1], "-", gate="CreditLineUnauthorizedConsumer",
    ),
    # DocumentRegistry
    Case("documents", "register", lambda sc, a: [[invoice()], 1], "-", gate="DocumentUnauthorizedConsumer"),
    Case(
        "documents", "setConsumer",
        lambda sc, a: [a("outsider"), True], "operator", gate="DocumentNotOperator",
    ),
    # SettlementToken
    Case("token", "mint", lambda sc, a: [a("supplier1"), 1], "bank1", gate="bank"),
    Case("token", "burn", lambda sc, a: [1], "bank1", gate="bank"),
    Case(
        "token", "transfer", lambda sc, a: [a("supplier1"), 1], "core1", PARTY,
        allowed=("core2", "supplier1", "supplier2", "bank1", "bank2"),
    ),
    Case(
        "token", "approve", lambda sc, a: [a("supplier1"), 1], "core1", PARTY,
        allowed=("core2", "supplier1", "supplier2", "bank1", "bank2"),
    ),
    # Receivables
    Case(
        "receivables", "issue",
        lambda sc, a: [a("supplier2"), FACE, 0, sc["line"], [invoice()]], "core1", CORE,
        same_role={"core2": lambda sc, a: ("CreditLineWrongObligor", (sc["line"], a("core2")))},
    ),
    *[
        Case(
            "receivables", fn, lambda sc, a: [sc["s2"]], "supplier1", SUPPLIER,
            same_role={"supplier2": lambda sc, a: ("CertificateNotSupplier", (sc["s2"], a("supplier2")))},
        )
        for fn in ("accept", "reject")
    ],
    Case(
        "receivables", "cancel", lambda sc, a: [sc["s2"]], "core1", CORE,
        same_role={"core2": lambda sc, a: ("CertificateNotObligor", (sc["s2"], a("core2")))},
    ),
    Case(
        "receivables", "repay", lambda sc, a: [sc["s1"], 1], "core1", CORE,
        same_role={"core2": lambda sc, a: ("CertificateNotObligor", (sc["s1"], a("core2")))},
    ),
    Case(
        "receivables", "transfer", lambda sc, a: [sc["t"], a("supplier2")], "supplier1", HOLDER,
        same_role=holders_err("supplier2", "bank1", "bank2"),
    ),
    Case(
        "receivables", "transferValue", lambda sc, a: [sc["t"], a("supplier2"), 1], "supplier1", HOLDER,
        same_role=holders_err("supplier2", "bank1", "bank2"),
    ),
    Case(
        "receivables", "split", lambda sc, a: [sc["t"], 1], "supplier1", HOLDER,
        same_role=holders_err("supplier2", "bank1", "bank2"),
    ),
    Case(
        "receivables", "claim", lambda sc, a: [sc["t"]], "supplier1", HOLDER,
        same_role=holders_err("supplier2", "bank1", "bank2"),
    ),
    Case("receivables", "payout", lambda sc, a: [[sc["t"]]], "operator", gate="CertificateNotOperator"),
    Case(
        "receivables", "setFinancing",
        lambda sc, a: [a("outsider")], "operator", gate="CertificateNotOperator",
    ),
    Case(
        # only a party to the payable: the operator or the holder of the token it names (supplier1 holds t)
        "receivables", "markDefaulted", lambda sc, a: [sc["s1"], sc["t"]], "operator",
        gate="CertificateNotAllowed", allowed=("supplier1",),
    ),
    *[
        Case("receivables", fn, args, "-", gate="CertificateOnlyFinancing")
        for fn, args in [
            ("lock", lambda sc, a: [sc["t"], a("supplier1"), 1, 99]),
            ("unlock", lambda sc, a: [sc["locked"]]),
            ("settleLocked", lambda sc, a: [sc["locked"], a("bank1")]),
            ("recourseTransfer", lambda sc, a: [sc["t"], a("supplier1")]),
        ]
    ],
    # Financing
    Case(
        "financing", "request", lambda sc, a: [sc["t"], 1, a("bank2"), False], "supplier1", SUPPLIER,
        same_role=holders_err("supplier2"),
    ),
    *[
        Case(
            "financing", fn, args, "supplier1", SUPPLIER,
            same_role={"supplier2": lambda sc, a: ("FinancingNotSeller", (sc["r"], a("supplier2")))},
        )
        for fn, args in [
            ("acceptQuote", lambda sc, a: [sc["r"], *sc["terms"]]),
            ("cancel", lambda sc, a: [sc["r"]]),
        ]
    ],
    Case("financing", "netRecourse", lambda sc, a: [a("supplier1")], "-", gate="FinancingNotSystemContract"),
    *[
        Case(
            "financing", fn, args, "bank1", FINANCIER,
            same_role={"bank2": lambda sc, a: ("FinancingNotFinancier", (sc["r"], a("bank2")))},
        )
        for fn, args in [
            ("quote", lambda sc, a: [sc["r"], 300, 0]),
            ("fund", lambda sc, a: [sc["r"]]),
            ("decline", lambda sc, a: [sc["r"]]),
            ("exerciseRecourse", lambda sc, a: [sc["r"]]),
        ]
    ],
]  # fmt: skip


def _expected(case: Case, who: str, sc: dict[str, Any], a: Callable[[str], str]) -> Expected | None:
    """The error `who` must get, or None when `who` may call."""
    if who == case.right or who in case.allowed:
        return None
    if case.gate == "bank":
        if who in ("operator", "outsider"):
            return ("RegistryUnknownParticipant", (a(who),))
        return ("SettlementNotBank", (a(who),))
    if case.roles is None:
        return (case.gate, (a(who),))
    if who in ("operator", "outsider"):
        return ("RegistryUnknownParticipant", (a(who),))
    held = ROLES[who]
    if held & case.roles == 0:
        return ("RegistryMissingRole", (a(who), case.roles, held))
    return case.same_role[who](sc, a)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_state_change_reverts_for_wrong_parties(tfm: Platform, sc: dict[str, Any], case: Case) -> None:
    tf = tfm
    a = tf.address
    contract = getattr(tf.c, case.contract)

    def call(who: str) -> None:
        args = case.args(sc, a)
        if case.function == "issue":  # time-relative arguments
            args[2] = tf.now() + 30 * DAY
        if case.function == "quote":
            args[2] = tf.now() + 3600
        tf.transact(getattr(contract.functions, case.function)(*args), who)

    checked = 0
    for who in PARTIES:
        expected = _expected(case, who, sc, a)
        if expected is None:
            continue
        with tf.reverts(expected[0], *expected[1]):
            call(who)
        checked += 1
    assert checked >= 3
    # the right party, once suspended, is refused as well (registry-gated functions only)
    if case.right in ROLES and case.gate in ("", "bank"):
        tf.transact(tf.c.registry.functions.suspend(a(case.right)), "operator")
        with tf.reverts("RegistryParticipantSuspended", a(case.right)):
            call(case.right)


def test_auditor_never_writes(tfm: Platform, sc: dict[str, Any]) -> None:
    """The auditor role cannot be combined with another, so no write path accepts it."""
    tf = tfm
    with tf.reverts("RegistryInvalidRoles", 16 | 2):
        tf.transact(tf.c.registry.functions.setRoles(tf.address("auditor"), 16 | 2), "operator")
    # but it reads everything
    kit: Kit = sc["kit"]
    assert tf.c.receivables.functions.slot(sc["s1"]).call({"from": tf.address("auditor")})[2] == FACE
    assert kit.request(sc["r"])[1] == tf.address("supplier1")
