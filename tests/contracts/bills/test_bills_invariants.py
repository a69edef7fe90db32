"""Bills invariants under random operation sequences (Hypothesis state machine on anvil, ghost model).

After every step: for each received package the live ranges are contiguous, disjoint and cover exactly
[1, face]; every record on chain equals the ghost model (holder, extent, chain link, status, escrow); every
sub-ticket is paid at most once and the acceptor paid out exactly the Paid ranges and the escrowed ones;
a paid range never pays again.

Issue 15's asset-level controls run among the other operations: judicial holds on a whole range or part of
it and their release (by the controller), a held part's endorsement, pledge, quote, presentation or early
payment (each refused, nothing changes), payment of a held range into escrow at maturity and its release
to the holder then, forced transfers and lost-key recovery (both through the council). Kept after every
step as well: a held sub-ticket changes holder only by a forced transfer or a recovery; a hold's escrow is
0 or exactly its record's amount, and Bills' balance is the sum of unreleased escrow; settlement money is
conserved (what the test minted = the token's supply growth = the growth of every balance, escrow and the
new keys included); a recovered old key holds nothing, and the registry bars it.
"""

from __future__ import annotations

import functools
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import pytest
from billkit import DAY, LIVE, BillKit, RangeView, expected_interest
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from web3 import Web3
from web3.types import RPCEndpoint

from tierflow.chain.accounts import DEMO_GOVERNOR_INDICES, dev_account
from tierflow.chain.compile import compile_all
from tierflow.chain.deploy import upgrade_all
from tierflow.chain.vocabulary import RangeStatus
from tierflow.settings import REPO_ROOT
from tierflow.testing.chain import Platform

HOLDERS = ["supplier1", "supplier2", "supplier3", "supplier4", "core2", "bank1", "bank2"]
DRAWERS = ["core2", "supplier1", "supplier3"]
PAYEES = ["supplier1", "supplier2", "core2"]
# Acceptors hold nothing else, so their balances move only by payments: core1 (commercial bills) and
# "bankx", an extra FINANCIER registered by the test (bank acceptances).
ACCEPTORS = ["core1", "bankx"]
FINANCIERS = ["bank1", "bank2"]
PARTIES = sorted(set(HOLDERS + DRAWERS + ACCEPTORS))
MAX_PACKAGES = 3
# a heavier run: TIERFLOW_BILLS_EXAMPLES=200 TIERFLOW_BILLS_STEPS=60
STEPS = int(os.environ.get("TIERFLOW_BILLS_STEPS", "40"))
MAX_EXAMPLES = int(os.environ.get("TIERFLOW_BILLS_EXAMPLES", "15"))
MATURE_AFTER = 20  # steps before maturity may come; the rest of an example pays, dishonours and recourses
index = st.integers(min_value=0, max_value=10_000)
# Issue 15: holds are the controller's (the operator in the demo: fast, no vote); a forced transfer or a
# recovery is a council proposal through tf.govern (propose, approve, wait, execute: ~4 transactions), so
# an example runs few of them.
CONTROLLER = "operator"
ORDER = b"\x0c" * 32  # the hash of the court order behind a hold or a forced transfer
REVERIFIED = b"\x0e" * 32
# who may lose a key: not bank1, a governor tf.govern approves with and the settlement bank kit.fund mints by
RECOVERABLE = ["supplier1", "supplier2", "supplier3", "supplier4", "core2", "core1", "bank2"]
HEIRS = [5, 6]  # extra_account indices of new keys (0 is bankx; the bill recovery tests use 3 and 4)
MAX_RECOVERIES = 1
MAX_FORCES = 2
# Once a run, mid-example, Bills is upgraded through the council to its release-2 fixture; the ghost and
# every invariant carry on. Compiled with the same sources as test_upgrade's (one disk-cache entry).
FIXTURE = "tests/contracts/upgrade_fixtures/TierflowV2.sol"


@dataclass(frozen=True)
class GhostPackage:
    drawer: str
    acceptor: str
    payee: str
    face: int
    splittable: bool
    status: str  # issued | accepted | received | rejected


# IBills.Range as the ABI returns it: holder, packageId, status, depth, start, end, prev, presentedAt
RANGE_TYPE = "(address,uint64,uint8,uint24,uint64,uint64,uint64,uint64)"
ZERO_ADDRESS = "0x" + "0" * 40


@functools.cache
def _calldata(signature: str, arg: Any) -> str:
    """The calldata of a view taking no argument or one address or uint256."""
    selector = keccak(text=signature)[:4]
    if arg is None:
        return "0x" + selector.hex()
    kind = "address" if isinstance(arg, str) else "uint256"
    return "0x" + (selector + abi_encode([kind], [arg])).hex()


class CountingKit(BillKit):
    """BillKit counting the settlement token it mints (the ghost of minted − burned: nothing burns here)."""

    minted = 0  # [fen]

    def fund(self, who: Any, amount: int) -> None:
        super().fund(who, amount)
        self.minted += amount


class BillsMachine(RuleBasedStateMachine):
    """Drives Bills with random operations and mirrors every range in a ghost model."""

    kit: CountingKit
    outcomes: ClassVar[Counter[str]] = Counter()  # what the issue-15 rules did, over a whole run
    seconds: ClassVar[defaultdict[str, float]] = defaultdict(float)  # time spent in the issue-15 rules [s]

    def __init__(self) -> None:
        super().__init__()
        self.tf = self.kit.tf
        self.snapshot = self.tf.snapshot()
        self.maturity = self.tf.now() + 60 * DAY
        self.matured = False
        self.packages: dict[int, GhostPackage] = {}
        self.ranges: dict[int, RangeView] = {}
        self.names = {self.kit.addr(p): p for p in PARTIES}
        self.paid_out: dict[str, int] = dict.fromkeys(ACCEPTORS, 0)  # [fen] by acceptor, ghost
        self.acceptor_balances = {a: self.kit.balance(a) for a in ACCEPTORS}
        self.steps = 0
        self.touched: set[int] = set()  # packages whose records changed since the last check
        # issue 15
        self.escrow: dict[int, int] = {}  # Frozen record → what its acceptor paid into escrow [fen]
        self.pledgees: dict[int, str] = {}  # Pledged record → pledgee
        self.barred: dict[str, str] = {}  # recovered old key → its party's name (now a new key)
        self.replaced: dict[
            str, LocalAccount
        ] = {}  # a recovered party's original account, restored at teardown
        self.forces = 0
        self.controlled = False  # a forced transfer or a recovery ran this step: holds may change holder
        self.holds: list[tuple[int, int, int, str]] = []  # (package, start, end, holder) of Frozen records
        self.kit.minted = 0
        self.money = (
            [self.kit.addr(p) for p in PARTIES]
            + [self.tf.extra_account(i).address for i in HEIRS]
            + [self.kit.bills.address, self.tf.c.financing.address]
        )
        token = self.kit.token.address
        self.supply0, *balances0 = self._read(
            [(token, "totalSupply()", None)] + [(token, "balanceOf(address)", a) for a in self.money]
        )
        self.money0 = sum(balances0)

    def teardown(self) -> None:
        try:
            self._compare_with_chain(set(self.ranges))
        finally:
            self.tf.accounts.update(self.replaced)
            self.tf.revert_to(self.snapshot)

    def _compare_with_chain(self, range_ids: set[int]) -> None:
        """One JSON-RPC batch: the given records and their escrow, the range counter, acceptor and escrow
        balances, the token's supply and every balance the test's money can reach."""
        ids = sorted(range_ids)
        accounts = [self.kit.addr(a) for a in ACCEPTORS] + [self.kit.bills.address]
        bills, token = self.kit.bills.address, self.kit.token.address
        results = self._read(
            [(bills, "nextRangeId()", None), (token, "totalSupply()", None)]
            + [(token, "balanceOf(address)", a) for a in accounts + self.money]
            + [
                (bills, sig, rid)
                for rid in ids
                for sig in ("range(uint256)", "escrowed(uint256)", "pledgeeOf(uint256)")
            ]
        )
        next_range_id, supply, *rest = results
        n = len(accounts)
        balances, money, records = rest[:n], rest[n : n + len(self.money)], rest[n + len(self.money) :]
        assert next_range_id == len(self.ranges) + 1, "a record was created that the ghost does not know"
        for rid, (
            holder,
            package_id,
            status,
            depth,
            start,
            end,
            prev,
            _presented_at,
        ), escrowed, pledgee in zip(ids, records[::3], records[1::3], records[2::3], strict=True):
            on_chain = RangeView(rid, holder, package_id, RangeStatus(status), start, end, prev, 0)
            assert on_chain == self.ranges[rid], (on_chain, self.ranges[rid])
            assert depth == self._chain_length(rid), (rid, depth)  # what bounds a recourse walk
            # a hold's escrow is all of its record's amount or nothing, and only a Frozen record has one
            assert escrowed == self.escrow.get(rid, 0), (rid, escrowed, self.escrow)
            # only a Pledged record has a pledgee (after a recovery, the new key: the old one pledges nothing)
            expected = self.kit.addr(self.pledgees[rid]) if rid in self.pledgees else ZERO_ADDRESS
            assert pledgee == expected, (rid, pledgee, expected)
        # kit.pay mints each payment to the acceptor just before it: an acceptor's balance stays put
        # unless a range were paid twice or for a wrong amount; Bills keeps only unreleased escrow.
        assert balances == [self.acceptor_balances[a] for a in ACCEPTORS] + [sum(self.escrow.values())]
        # money conserved: nothing burns, so what the test minted is the supply's growth, and it all sits
        # with the parties, their new keys, Bills' escrow (or Financing, had a holder owed a recourse debt)
        assert supply - self.supply0 == self.kit.minted
        assert sum(money) - self.money0 == self.kit.minted, dict(zip(self.money, money, strict=True))
        held = dict(zip(self.money, money, strict=True))
        for old in self.barred:
            assert held[old] == 0, f"the recovered key {old} still holds {held[old]} fen"

    def _read(self, calls: list[tuple[str, str, Any]]) -> list[Any]:
        """Views in one JSON-RPC batch, their calldata encoded here: web3's own encoding of a contract call
        costs ~5 ms of CPU, which made these checks most of the machine's time."""
        requests = [
            (RPCEndpoint("eth_call"), [{"to": to, "data": _calldata(sig, arg)}, "latest"])
            for to, sig, arg in calls
        ]
        responses = self.tf.w3.provider.make_batch_request(requests)  # type: ignore[attr-defined]
        assert isinstance(responses, list), responses
        out = []
        for (_, sig, _), response in zip(calls, sorted(responses, key=lambda r: int(r["id"])), strict=True):
            data = bytes.fromhex(response["result"][2:])
            if sig == "range(uint256)":
                holder, *fields = abi_decode([RANGE_TYPE], data)[0]
                out.append((Web3.to_checksum_address(holder), *fields))
            elif sig == "pledgeeOf(uint256)":
                out.append(Web3.to_checksum_address(abi_decode(["address"], data)[0]))
            else:
                out.append(abi_decode(["uint256"], data)[0])
        return out

    # -- ghost helpers ------------------------------------------------------------------------
    def _chain_length(self, range_id: int) -> int:
        """The number of `prev` ancestors of a record in the ghost: Bills stores it as `depth`."""
        n, current = 0, self.ranges[range_id].prev
        while current:
            n, current = n + 1, self.ranges[current].prev
        return n

    def _set(self, view: RangeView) -> None:
        self.ranges[view.id] = view
        self.touched.add(view.package_id)

    def _has(self, status: RangeStatus) -> bool:
        return any(r.status == status for r in self.ranges.values())

    def _before(self, status: RangeStatus) -> bool:
        return not self.matured and self._has(status)

    def _after(self, status: RangeStatus) -> bool:
        return self.matured and self._has(status)

    def _packages_in(self, status: str) -> list[int]:
        return [p for p, g in sorted(self.packages.items()) if g.status == status]

    def _pick(self, sel: int, status: RangeStatus) -> RangeView | None:
        candidates = sorted((r for r in self.ranges.values() if r.status == status), key=lambda r: r.id)
        return candidates[sel % len(candidates)] if candidates else None

    def _cut(self, r: RangeView, a: int, b: int) -> tuple[int, int]:
        if not self.packages[r.package_id].splittable or r.amount == 1:
            return r.start, r.end
        lo, hi = sorted((r.start + a % r.amount, r.start + b % r.amount))
        return lo, hi

    def _new(
        self, rid: int, holder: str, r: RangeView, start: int, end: int, prev: int, s: RangeStatus
    ) -> None:
        self._set(RangeView(rid, self.kit.addr(holder), r.package_id, s, start, end, prev, 0))

    def _carve(
        self,
        r: RangeView,
        start: int,
        end: int,
        new_id: int,
        holder: str,
        prev: int,
        status: RangeStatus,
        remainder_id: int,
    ) -> None:
        """The contract's carving rule, re-implemented independently."""
        self._new(new_id, holder, r, start, end, prev, status)
        if start == r.start and end == r.end:
            self._set(replace(r, status=RangeStatus.CLOSED))
        elif start == r.start:
            self._set(replace(r, start=end + 1))
        else:
            self._set(replace(r, end=start - 1))
            if end < r.end:
                assert remainder_id != 0
                self._new(remainder_id, self.names[r.holder], r, end + 1, r.end, r.prev, RangeStatus.HELD)
                return
        assert remainder_id == 0

    def _recourse_candidates(self, r: RangeView) -> dict[str, int]:
        """Obligor name → ancestor id (0 for the drawer), by 票据法 art. 69 as documented."""
        drawer = self.packages[r.package_id].drawer
        holder = self.names[r.holder]
        if holder in (drawer, self.packages[r.package_id].acceptor):
            return {}
        found: dict[str, int] = {}
        rid = r.prev
        while rid:
            a = self.ranges[rid]
            name = self.names[a.holder]
            if name == holder:
                found = {}
            else:
                found[name] = rid  # overwritten by earlier (farther) appearances
            rid = a.prev
        found[drawer] = 0
        found.pop(holder, None)
        return found

    def _chain(self, rid: int) -> list[str]:
        out = []
        rid = self.ranges[rid].prev
        while rid:
            out.append(self.ranges[rid].holder)
            rid = self.ranges[rid].prev
        return out

    # -- rules: few, each dispatching on what it picked (Hypothesis' swarm testing disables whole rules
    # per example, so a handful of broad rules explores the lifecycle more evenly than one rule per call)
    @initialize(
        face=st.integers(min_value=1, max_value=10_000),
        splittable=st.booleans(),
        acceptor=st.sampled_from(ACCEPTORS),
    )
    def live_package(self, face: int, splittable: bool, acceptor: str) -> None:
        pid = self._issue("core2", acceptor, "supplier1", face, splittable)
        self._accept(pid)
        self._receive(pid)

    @precondition(lambda self: not self.matured)
    @rule(
        op=st.sampled_from(["issue", "accept", "receive", "reject"]),
        sel=index,
        drawer=st.sampled_from(DRAWERS),
        acceptor=st.sampled_from(ACCEPTORS),
        payee=st.sampled_from(PAYEES),
        face=st.integers(min_value=1, max_value=10_000),
        splittable=st.booleans(),
    )
    def deliver(
        self, op: str, sel: int, drawer: str, acceptor: str, payee: str, face: int, splittable: bool
    ) -> None:
        issued, accepted = self._packages_in("issued"), self._packages_in("accepted")
        if op == "accept" and issued:
            self._accept(issued[sel % len(issued)])
        elif op in ("receive", "reject") and accepted:
            pid = accepted[sel % len(accepted)]
            self._receive(pid) if op == "receive" else self._reject_wrong_invoices(pid)
        elif len(self.packages) < MAX_PACKAGES:
            self._issue(drawer, acceptor, payee, face, splittable)

    @precondition(lambda self: self._before(RangeStatus.HELD))
    @rule(
        op=st.sampled_from(["endorse", "endorse", "discount", "pledge", "release", "wrong"]),
        sel=index,
        a=index,
        b=index,
        party=st.sampled_from(HOLDERS),
        financier=st.sampled_from(FINANCIERS),
        rate=st.integers(min_value=1, max_value=2_000),
    )
    def move(self, op: str, sel: int, a: int, b: int, party: str, financier: str, rate: int) -> None:
        if op == "release" and self._has(RangeStatus.PLEDGED):
            self._release(self._pick(sel, RangeStatus.PLEDGED))
            return
        if op == "wrong":
            self._move_not_allowed(sel, party)
            return
        r = self._pick(sel, RangeStatus.HELD)
        assert r is not None
        start, end = self._cut(r, a, b)
        if op == "discount" and self.names[r.holder] != financier:
            self._discount(r, start, end, financier, rate)
        elif op == "pledge" and self.names[r.holder] != financier:
            self._pledge(r, start, end, financier)
        else:
            self._endorse(r, start, end, party)

    @precondition(lambda self: not self.matured and self.steps >= MATURE_AFTER)
    @rule()
    def mature(self) -> None:
        self.tf.increase_time(self.maturity - self.tf.now())
        self.matured = True

    @precondition(lambda self: self.matured and any(r.status in LIVE for r in self.ranges.values()))
    @rule(
        sel=index,
        flag=st.integers(min_value=0, max_value=3),
        reason=st.integers(min_value=1, max_value=255),
        pick=index,
        probe=st.sampled_from(PARTIES),
    )
    def settle(self, sel: int, flag: int, reason: int, pick: int, probe: str) -> None:
        live = sorted((r for r in self.ranges.values() if r.status in LIVE), key=lambda r: r.id)
        open_ = [r for r in live if r.status != RangeStatus.PAID]
        pool = open_ if open_ and flag != 3 else live  # a Paid range now and then: it must not pay again
        r = pool[sel % len(pool)]
        if (
            r.status == RangeStatus.FROZEN
        ):  # the acceptor pays into escrow (once); the release pays the holder
            if r.id in self.escrow:
                self._unfreeze(r) if flag < 3 else self._pay_frozen_again(r)
            else:
                self._pay_into_escrow(r) if flag < 3 else self._unfreeze(r)
        elif r.status == RangeStatus.HELD:
            self._present(r)
        elif r.status == RangeStatus.PLEDGED:
            self._release(r)
        elif r.status == RangeStatus.PRESENTED:
            self._dishonour(r, reason) if flag < 2 else self._pay(r)
        elif r.status == RangeStatus.DISHONOURED:
            self._pay(r) if flag == 0 else self._recourse(r, pick, probe)
        else:
            self._pay_again(r)

    @precondition(lambda self: self._has(RangeStatus.HELD) or self._has(RangeStatus.FROZEN))
    @rule(
        op=st.sampled_from(
            ["freeze", "freeze", "unfreeze", "blocked", "blocked", "force", "recover", "upgrade"]
        ),
        sel=index,
        a=index,
        b=index,
        party=st.sampled_from(HOLDERS),
        by=st.sampled_from([CONTROLLER] * 5 + ["supplier1"]),  # now and then someone else tries
    )
    def control(self, op: str, sel: int, a: int, b: int, party: str, by: str) -> None:
        """Issue 15: holds and their release, what a hold stops, forced transfers and key recovery."""
        started = time.perf_counter()
        frozen = self._pick(sel, RangeStatus.FROZEN)
        held = self._pick(sel, RangeStatus.HELD)
        if op == "upgrade" and not self.outcomes["upgrade"]:
            self._upgrade()
        elif op == "force" and self.forces < MAX_FORCES:
            self._force(sel, a, b, party)
        elif op == "recover" and len(self.barred) < MAX_RECOVERIES:
            self._recover(self._recoverable(sel))
        elif op in ("unfreeze", "blocked") and frozen is not None:
            self._unfreeze(frozen) if op == "unfreeze" else self._blocked(frozen, sel, party)
        elif op == "freeze" and sel % 4 == 3:
            self._control_wrong_status(sel, by)
        elif held is not None:
            self._freeze(held, a, b, by)
        elif frozen is not None:
            self._unfreeze(frozen)
        self.seconds[op] += time.perf_counter() - started

    # -- operations: drive the contract, check the outcome, update the ghost ----------------------
    def _issue(self, drawer: str, acceptor: str, payee: str, face: int, splittable: bool) -> int:
        pid = self.kit.issue(
            drawer=drawer,
            acceptor=acceptor,
            payee=payee,
            face=face,
            maturity=self.maturity,
            splittable=splittable,
        )
        self.packages[pid] = GhostPackage(drawer, acceptor, payee, face, splittable, "issued")
        return pid

    def _accept(self, pid: int) -> None:
        self.kit.accept(pid, self.packages[pid].acceptor)
        self.packages[pid] = replace(self.packages[pid], status="accepted")

    def _receive(self, pid: int) -> None:
        g = self.packages[pid]
        rid = self.kit.receive(pid, g.payee)
        self.packages[pid] = replace(g, status="received")
        self._set(RangeView(rid, self.kit.addr(g.payee), pid, RangeStatus.HELD, 1, g.face, 0, 0))

    def _reject_wrong_invoices(self, pid: int) -> None:
        with self.kit.reverts("BillInvoicesMismatch", pid):
            wrong = self.kit.bills.functions.receiveBill(pid, self.kit.invoices())
            self.kit.tx(wrong, self.packages[pid].payee)

    def _endorse(self, r: RangeView, start: int, end: int, to: str) -> None:
        holder = self.names[r.holder]
        if to == holder:
            with self.kit.reverts("BillSelfTransfer", self.kit.addr(to)):
                self.kit.endorse(r.id, start, end, to, holder)
            return
        event = self.kit.endorse(r.id, start, end, to, holder)
        self._carve(r, start, end, event["newRangeId"], to, r.id, RangeStatus.HELD, event["remainderRangeId"])

    def _discount(self, r: RangeView, start: int, end: int, financier: str, rate: int) -> None:
        holder = self.names[r.holder]
        before = self.kit.balance(holder)
        quote_id = self.kit.quote(r.id, start, end, financier, rate)
        self.kit.fund(financier, end - start + 1)
        receipt = self.kit.tx(self.kit.bills.functions.acceptQuote(quote_id), holder)
        event = self.kit.event(receipt, "BillDiscounted")
        at = int(self.tf.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
        interest, _ = expected_interest(end - start + 1, rate, self.maturity, at)
        assert (event["interest"], event["price"]) == (interest, end - start + 1 - interest)
        assert event["rediscount"] == (holder in FINANCIERS)
        assert self.kit.balance(holder) - before == event["price"]
        self._carve(
            r, start, end, event["newRangeId"], financier, r.id, RangeStatus.HELD, event["remainderRangeId"]
        )

    def _pledge(self, r: RangeView, start: int, end: int, pledgee: str) -> None:
        holder = self.names[r.holder]
        event = self.kit.pledge(r.id, start, end, holder, pledgee)
        self.pledgees[event["rangeId"]] = pledgee
        if (start, end) == (r.start, r.end):
            assert event["rangeId"] == r.id
            self._set(replace(r, status=RangeStatus.PLEDGED))
        else:
            new_id, remainder_id = event["rangeId"], event["remainderRangeId"]
            self._carve(r, start, end, new_id, holder, r.prev, RangeStatus.PLEDGED, remainder_id)

    def _release(self, r: RangeView | None) -> None:
        assert r is not None
        pledgee = self.names[self.kit.bills.functions.pledgeeOf(r.id).call()]
        assert pledgee == self.pledgees.pop(r.id)
        self.kit.tx(self.kit.bills.functions.releasePledge(r.id), pledgee)
        self._set(replace(r, status=RangeStatus.HELD))

    def _move_not_allowed(self, sel: int, mover: str) -> None:
        """Someone endorses a range it does not hold, or one that is not Held: always reverts."""
        candidates = sorted(self.ranges.values(), key=lambda r: r.id)
        r = candidates[sel % len(candidates)]
        if self.kit.addr(mover) == r.holder and r.status == RangeStatus.HELD:
            return
        target = "supplier4" if mover != "supplier4" else "supplier3"
        with self.tf.reverts("BillNotHolder" if self.kit.addr(mover) != r.holder else "BillWrongRangeStatus"):
            self.kit.endorse(r.id, r.start, r.end, target, mover)

    def _present(self, r: RangeView) -> None:
        self.kit.present(r.id, self.names[r.holder])
        self._set(replace(r, status=RangeStatus.PRESENTED))

    def _pay(self, r: RangeView) -> None:
        acceptor = self.packages[r.package_id].acceptor
        holder = self.names[r.holder]
        before = self.kit.balance(holder)
        event = self.kit.pay(r.id, acceptor)  # mints the amount to the acceptor first
        assert event["amount"] == r.amount and event["holder"] == r.holder
        assert self.kit.balance(holder) - before == r.amount
        self.paid_out[acceptor] += r.amount
        self._set(replace(r, status=RangeStatus.PAID))

    def _dishonour(self, r: RangeView, reason: int) -> None:
        self.kit.dishonour(r.id, self.packages[r.package_id].acceptor, reason)
        self._set(replace(r, status=RangeStatus.DISHONOURED))

    def _recourse(self, r: RangeView, pick: int, probe: str) -> None:
        candidates = self._recourse_candidates(r)
        allowed, ancestor = self.kit.bills.functions.recourseAllowed(r.id, self.kit.addr(probe)).call()
        assert allowed == (probe in candidates), (probe, candidates)
        if allowed:
            assert ancestor == candidates[probe]
        holder = self.names[r.holder]
        if not candidates:
            with self.tf.reverts("BillRecourseNotAllowed"):
                self.kit.claim(r.id, probe, holder)
            return
        obligor = sorted(candidates)[pick % len(candidates)]
        self.kit.claim(r.id, obligor, holder)
        before = self.kit.balance(holder)
        new_id = self.kit.settle(r.id, obligor)
        assert self.kit.balance(holder) - before == r.amount
        ancestor = candidates[obligor]
        prev = self.ranges[ancestor].prev if ancestor else 0
        self._set(replace(r, status=RangeStatus.CLOSED))
        self._new(new_id, obligor, r, r.start, r.end, prev, RangeStatus.DISHONOURED)

    def _pay_again(self, r: RangeView) -> None:
        with self.tf.reverts("BillWrongRangeStatus", r.id, RangeStatus.PAID):
            self.kit.tx(self.kit.bills.functions.pay(r.id), self.packages[r.package_id].acceptor)

    # -- operations of issue 15 -------------------------------------------------------------------
    def _freeze(self, r: RangeView, a: int, b: int, by: str) -> None:
        """A judicial hold on [start, end] of a Held record: carved into a Frozen record of the same holder in
        the same place of the chain. Only the controller (or governance) may."""
        start, end = self._cut(r, a, b)
        fn = self.kit.bills.functions.freezeRange(r.id, start, end, ORDER)
        self.touched.add(r.package_id)
        if by != CONTROLLER:
            with self.kit.reverts("BillNotGovernance", self.kit.addr(by)):
                self.kit.tx(fn, by)
            self.outcomes["freeze refused"] += 1
            return
        event = self.kit.event(self.kit.tx(fn, CONTROLLER), "BillRangeFrozen")
        assert (event["fromRangeId"], event["holder"], event["start"], event["end"]) == (
            r.id,
            r.holder,
            start,
            end,
        )
        holder = self.names[r.holder]
        self._carve(
            r, start, end, event["rangeId"], holder, r.prev, RangeStatus.FROZEN, event["remainderRangeId"]
        )
        self.outcomes["freeze" if (start, end) == (r.start, r.end) else "freeze part"] += 1

    def _control_wrong_status(self, sel: int, by: str) -> None:
        """A hold on a record that is not Held (pledged, presented, paid, dishonoured, closed or held
        already), or the release of one that is not Frozen: refused, nothing changes."""
        r = sorted(self.ranges.values(), key=lambda r: r.id)[sel % len(self.ranges)]
        b = self.kit.bills.functions
        self.touched.add(r.package_id)
        if r.status != RangeStatus.FROZEN:
            with self.tf.reverts("BillWrongRangeStatus", r.id, r.status):
                self.kit.tx(b.unfreezeRange(r.id, ORDER), CONTROLLER)
            self.outcomes["unfreeze not frozen refused"] += 1
        if r.status != RangeStatus.HELD:
            with self.tf.reverts("BillWrongRangeStatus", r.id, r.status):
                self.kit.tx(b.freezeRange(r.id, r.start, r.end, ORDER), CONTROLLER)
            self.outcomes["freeze not held refused"] += 1
        if r.status == RangeStatus.FROZEN and by != CONTROLLER:
            with self.kit.reverts("BillNotGovernance", self.kit.addr(by)):
                self.kit.tx(b.unfreezeRange(r.id, ORDER), by)
            self.outcomes["unfreeze refused"] += 1

    def _recoverable(self, sel: int) -> str:
        """A party to recover, preferably one holding or pledged something (a recovery then moves more)."""
        names = {self.names[r.holder] for r in self.ranges.values() if r.status in LIVE} | set(
            self.pledgees.values()
        )
        candidates = [n for n in RECOVERABLE if n in names] or RECOVERABLE
        return candidates[sel % len(candidates)]

    def _unfreeze(self, r: RangeView) -> None:
        """The hold's release: Held again, or, if the acceptor paid into escrow, Paid to the holder now."""
        holder = self.names[r.holder]
        before = self.kit.balance(holder)
        receipt = self.kit.tx(self.kit.bills.functions.unfreezeRange(r.id, ORDER), CONTROLLER)
        amount = self.escrow.pop(r.id, 0)
        released = self.tf.events(receipt, self.kit.bills, "BillEscrowReleased")
        if amount:
            assert [(e["rangeId"], e["holder"], e["amount"]) for e in released] == [(r.id, r.holder, amount)]
            assert self.kit.balance(holder) - before == amount
            self._set(replace(r, status=RangeStatus.PAID))
        else:
            assert not released and self.kit.balance(holder) == before
            self._set(replace(r, status=RangeStatus.HELD))
        self.outcomes["release escrow" if amount else "unfreeze"] += 1

    def _blocked(self, r: RangeView, sel: int, party: str) -> None:
        """The holder (or a bank) tries to endorse, pledge, quote, present or have paid early a held part:
        refused with the contract's error, and nothing changes (the records are compared after the step)."""
        holder = self.names[r.holder]
        other = party if party != holder else ("supplier4" if holder != "supplier4" else "supplier3")
        bank = "bank1" if holder != "bank1" else "bank2"
        b = self.kit.bills.functions
        attempts = [
            ("endorse", b.endorse(r.id, r.start, r.end, self.kit.addr(other)), holder),
            ("pledge", b.pledge(r.id, r.start, r.end, self.kit.addr(bank)), holder),
            ("quote", b.quoteDiscount(r.id, r.start, r.end, 300, self.tf.now() + DAY), bank),
            ("present", b.present(r.id), holder),
        ]
        self.touched.add(r.package_id)
        if not self.matured:
            attempts.append(("pay early", b.pay(r.id), self.packages[r.package_id].acceptor))
        what, fn, who = attempts[sel % len(attempts)]
        if what == "pay early":
            with self.kit.reverts("BillNotMatured", r.package_id, self.maturity):
                self.kit.tx(fn, who)
        else:
            with self.tf.reverts("BillWrongRangeStatus", r.id, RangeStatus.FROZEN):
                self.kit.tx(fn, who)
        self.outcomes[f"held {what} refused"] += 1

    def _pay_into_escrow(self, r: RangeView) -> None:
        """From maturity the acceptor pays a Frozen record into Bills' escrow; the record stays Frozen."""
        acceptor = self.packages[r.package_id].acceptor
        self.kit.fund(acceptor, r.amount)
        receipt = self.kit.tx(self.kit.bills.functions.pay(r.id), acceptor)
        event = self.kit.event(receipt, "BillEscrowed")
        assert (event["rangeId"], event["amount"]) == (r.id, r.amount)
        assert not self.tf.events(receipt, self.kit.bills, "BillPaid")
        self.escrow[r.id] = r.amount
        self.paid_out[acceptor] += r.amount
        self.touched.add(r.package_id)
        self.outcomes["pay into escrow"] += 1

    def _pay_frozen_again(self, r: RangeView) -> None:
        acceptor = self.packages[r.package_id].acceptor
        with self.tf.reverts("BillWrongRangeStatus", r.id, RangeStatus.FROZEN):
            self.kit.tx(self.kit.bills.functions.pay(r.id), acceptor)
        self.outcomes["escrow twice refused"] += 1

    def _force(self, sel: int, a: int, b: int, party: str) -> None:
        """A court order moves part of a Held record, or a whole Frozen one with its hold and escrow, to a new
        holder in the old one's place in the chain; through the council only (the controller is refused)."""
        candidates = sorted(
            (r for r in self.ranges.values() if r.status in (RangeStatus.HELD, RangeStatus.FROZEN)),
            key=lambda r: r.id,
        )
        escrowed = [r for r in candidates if r.id in self.escrow]
        if escrowed and sel % 2 == 0:  # a court moving a hold with money in escrow is the rarer, richer case
            candidates = escrowed
        if not candidates:
            return
        r = candidates[sel % len(candidates)]
        holder = self.names[r.holder]
        to = party if party != holder else ("supplier4" if holder != "supplier4" else "supplier3")
        start, end = (r.start, r.end) if r.status == RangeStatus.FROZEN else self._cut(r, a, b)
        fn = self.kit.bills.functions.forceTransferRange(r.id, start, end, self.kit.addr(to), ORDER)
        with self.kit.reverts("BillNotGovernance", self.kit.addr(CONTROLLER)):
            self.kit.tx(fn, CONTROLLER)
        event = self.kit.event(self.tf.govern(fn), "BillRangeForceTransferred")
        assert (event["fromRangeId"], event["from"], event["to"]) == (r.id, r.holder, self.kit.addr(to))
        new_id = event["newRangeId"]
        self._carve(r, start, end, new_id, to, r.prev, r.status, event["remainderRangeId"])
        if r.id in self.escrow:
            self.escrow[new_id] = self.escrow.pop(r.id)
        self.forces += 1
        self.controlled = True
        self.outcomes[f"force {r.status.name.lower()}"] += 1

    def _recover(self, name: str) -> None:
        """Lost-key recovery through the council: the registry moves the party to a new key and bars the old
        one, then its records (Closed ones too: recourse follows the entity), pledges, packages and balance
        follow. From here the party's name is the new key; the old one holds nothing and can do nothing."""
        old_account = self.tf.account(name)
        old, heir = old_account.address, self.tf.extra_account(HEIRS[len(self.barred)])
        new = heir.address
        b = self.kit.bills.functions
        self.tf.govern(self.kit.registry.functions.recover(old, new, REVERIFIED))
        records = sorted(
            rid for rid, r in self.ranges.items() if r.holder == old or self.pledgees.get(rid) == name
        )
        packages = sorted(p for p, g in self.packages.items() if name in (g.drawer, g.acceptor, g.payee))
        assert len(records) <= 200 and len(packages) <= 200  # MAX_RECOVERY_BATCH
        calls = [
            (records, b.recoverParties(old, new, records, REVERIFIED)),
            (packages, b.recoverPackageParties(old, new, packages, [], REVERIFIED)),
            (self.kit.balance(name), self.kit.token.functions.recoverBalance(old, new)),
        ]
        for needed, fn in calls:
            if needed:
                self.tf.govern(fn)
        self.replaced.setdefault(name, old_account)
        self.tf.accounts[name] = heir
        del self.names[old]
        self.names[new] = name
        for r in list(self.ranges.values()):
            if r.holder == old:
                self._set(replace(r, holder=new))
        self.touched.update(self.packages)
        self.barred[old] = name
        self.controlled = True
        registry = self.kit.registry.functions
        assert registry.recoveredTo(old).call() == new
        assert registry.participant(old).call()[1] == 2  # Suspended
        # the old key tries to move what it held (or to pay): the registry refuses it first
        mine = sorted(rid for rid in records if self.ranges[rid].status == RangeStatus.HELD)
        attempt = (
            b.endorse(
                mine[0], self.ranges[mine[0]].start, self.ranges[mine[0]].end, self.kit.addr("supplier3")
            )
            if mine and name != "supplier3"
            else self.kit.token.functions.transfer(self.kit.addr("supplier3"), 1)
        )
        with self.kit.reverts("RegistryParticipantSuspended", old):
            self.kit.tx(attempt, old_account)
        self.outcomes[f"recover {'holder' if records else 'party'}"] += 1

    def _upgrade(self) -> None:
        """Bills upgraded in place through governance (proposal, approval, delay, execution): the proxy
        keeps every record, escrow and package, and the machine carries on against the new code."""
        release2 = compile_all(extra_sources={FIXTURE: (REPO_ROOT / FIXTURE).read_text()})
        governors = [dev_account(i) for i in DEMO_GOVERNOR_INDICES]
        artifacts = {**release2, "Bills": release2["BillsV2"]}
        upgrade_all(
            self.tf.w3, self.tf.deployment, governors, artifacts=artifacts, wait=self.tf.increase_time
        )
        proxy = self.tf.w3.eth.contract(address=self.kit.bills.address, abi=release2["BillsV2"].abi)
        assert proxy.functions.version().call() == "2" and proxy.functions.upgradedFeature().call() == 2
        self.touched.update(self.packages)  # every record is compared with the ghost after the step
        self.outcomes["upgrade"] += 1

    # -- invariants (after every step) ----------------------------------------------------------
    @invariant()
    def chain_matches_ghost(self) -> None:
        """Every record of every package touched by the step equals the ghost (teardown checks all)."""
        self.steps += 1
        self._compare_with_chain({rid for rid, r in self.ranges.items() if r.package_id in self.touched})
        self.touched.clear()

    @invariant()
    def ranges_cover_each_package_exactly(self) -> None:
        for pid, g in self.packages.items():
            live = sorted(
                (r for r in self.ranges.values() if r.package_id == pid and r.status in LIVE),
                key=lambda r: r.start,
            )
            if g.status != "received":
                assert not live
                continue
            expected = 1
            for r in live:
                assert r.start == expected and r.end >= r.start, (pid, live)
                expected = r.end + 1
            assert expected == g.face + 1, (pid, live)

    @invariant()
    def every_sub_ticket_paid_exactly_once(self) -> None:
        """Ranges never overlap (above) and Paid is terminal, so Paid ranges pay each sub-ticket once at
        most; the acceptors paid out exactly the Paid ranges and the escrowed Frozen ones (balances are
        checked in chain_matches_ghost)."""
        paid: dict[str, int] = dict.fromkeys(ACCEPTORS, 0)
        for r in self.ranges.values():
            if r.status == RangeStatus.PAID or r.id in self.escrow:
                assert r.status != RangeStatus.PAID or r.id not in self.escrow, r
                paid[self.packages[r.package_id].acceptor] += r.amount
        assert paid == self.paid_out

    @invariant()
    def holds_stay_with_their_holders(self) -> None:
        """A held sub-ticket changes holder only by a forced transfer or a recovery; a held part never
        exceeds its package, and escrow only ever sits on a Frozen record (the chain is compared above)."""
        holds = sorted(
            (r.package_id, r.start, r.end, r.holder)
            for r in self.ranges.values()
            if r.status == RangeStatus.FROZEN
        )
        if not self.controlled:
            for pid, start, end, holder in self.holds:
                for pid2, start2, end2, holder2 in holds:
                    if pid == pid2 and start <= end2 and start2 <= end:
                        assert holder == holder2, ((pid, start, end, holder), holder2)
        for pid, g in self.packages.items():
            assert sum(e - s + 1 for p, s, e, _ in holds if p == pid) <= g.face
        for rid in self.escrow:
            assert self.ranges[rid].status == RangeStatus.FROZEN, rid
        for old in self.barred:
            assert all(r.holder != old for r in self.ranges.values()), old
        self.holds, self.controlled = holds, False


@pytest.mark.slow
def test_bills_state_machine(tf: Platform) -> None:
    kit = CountingKit(tf)
    bankx = tf.extra_account(0)
    kit.tx(kit.registry.functions.register(bankx.address, 4, b"\x01" * 32), "operator")
    tf.accounts["bankx"] = bankx
    BillsMachine.kit = kit
    BillsMachine.outcomes.clear()
    BillsMachine.seconds.clear()
    try:
        _run()
    finally:
        del tf.accounts["bankx"]
    print(f"\nissue-15 rules: {dict(sorted(BillsMachine.outcomes.items()))}")
    print(f"seconds in them: { {op: round(t, 1) for op, t in sorted(BillsMachine.seconds.items())} }")


def _run() -> None:
    run_state_machine_as_test(
        BillsMachine,
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            print_blob=True,
        ),
    )
