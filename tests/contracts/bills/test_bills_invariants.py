"""Bills invariants under random operation sequences (Hypothesis state machine on anvil, ghost model).

After every step: for each received package the live ranges are contiguous, disjoint and cover exactly
[1, face]; every record on chain equals the ghost model (holder, extent, chain link, status); every
sub-ticket is paid at most once and the acceptor paid out exactly the Paid ranges; a paid range never
pays again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from billkit import DAY, LIVE, BillKit, RangeStatus, RangeView, expected_interest
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
STEPS = 40
MAX_EXAMPLES = 15
MATURE_AFTER = 20  # steps before maturity may come; the rest of an example pays, dishonours and recourses
index = st.integers(min_value=0, max_value=10_000)


@dataclass(frozen=True)
class GhostPackage:
    drawer: str
    acceptor: str
    payee: str
    face: int
    splittable: bool
    status: str  # issued | accepted | received | rejected


class BillsMachine(RuleBasedStateMachine):
    """Drives Bills with random operations and mirrors every range in a ghost model."""

    kit: BillKit

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

    def teardown(self) -> None:
        try:
            self._compare_with_chain(set(self.ranges))
        finally:
            self.tf.revert_to(self.snapshot)

    def _compare_with_chain(self, range_ids: set[int]) -> None:
        """One JSON-RPC batch: the given records, the range counter, acceptor and escrow balances."""
        ids = sorted(range_ids)
        accounts = [self.kit.addr(a) for a in ACCEPTORS] + [self.kit.bills.address]
        with self.tf.w3.batch_requests() as batch:
            batch.add(self.kit.bills.functions.nextRangeId())
            for a in accounts:
                batch.add(self.kit.token.functions.balanceOf(a))
            for rid in ids:
                batch.add(self.kit.bills.functions.range(rid))
            results = batch.execute()
        next_range_id, *rest = results
        balances, records = rest[: len(accounts)], rest[len(accounts) :]
        assert next_range_id == len(self.ranges) + 1, "a record was created that the ghost does not know"
        for rid, (holder, package_id, status, start, end, prev, _presented_at) in zip(
            ids, records, strict=True
        ):
            on_chain = RangeView(rid, holder, package_id, RangeStatus(status), start, end, prev, 0)
            assert on_chain == self.ranges[rid], (on_chain, self.ranges[rid])
        # kit.pay mints each payment to the acceptor just before it: an acceptor's balance stays put
        # unless a range were paid twice or for a wrong amount; Bills never keeps settlement token.
        assert balances == [self.acceptor_balances[a] for a in ACCEPTORS] + [0]

    # -- ghost helpers ------------------------------------------------------------------------
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
        if r.status == RangeStatus.HELD:
            self._present(r)
        elif r.status == RangeStatus.PLEDGED:
            self._release(r)
        elif r.status == RangeStatus.PRESENTED:
            self._dishonour(r, reason) if flag < 2 else self._pay(r)
        elif r.status == RangeStatus.DISHONOURED:
            self._pay(r) if flag == 0 else self._recourse(r, pick, probe)
        else:
            self._pay_again(r)

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
            self.kit.tx(self.kit.bills.functions.reject(pid, self.kit.invoices()), self.packages[pid].payee)

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
        if (start, end) == (r.start, r.end):
            assert event["rangeId"] == r.id
            self._set(replace(r, status=RangeStatus.PLEDGED))
        else:
            new_id, remainder_id = event["rangeId"], event["remainderRangeId"]
            self._carve(r, start, end, new_id, holder, r.prev, RangeStatus.PLEDGED, remainder_id)

    def _release(self, r: RangeView | None) -> None:
        assert r is not None
        pledgee = self.names[self.kit.bills.functions.pledgeeOf(r.id).call()]
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
        most; the acceptors paid out exactly the Paid ranges (balances are checked in chain_matches_ghost)."""
        paid: dict[str, int] = dict.fromkeys(ACCEPTORS, 0)
        for r in self.ranges.values():
            if r.status == RangeStatus.PAID:
                paid[self.packages[r.package_id].acceptor] += r.amount
        assert paid == self.paid_out


@pytest.mark.slow
def test_bills_state_machine(tf: Platform, kit: BillKit) -> None:
    bankx = tf.extra_account(0)
    kit.tx(kit.registry.functions.register(bankx.address, 4, b"\x01" * 32), "operator")
    tf.accounts["bankx"] = bankx
    BillsMachine.kit = kit
    try:
        _run()
    finally:
        del tf.accounts["bankx"]


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
