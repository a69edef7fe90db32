"""Test kit for Bills: issue, move and read bill packages on the test platform; the ghost of the indexer."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak
from web3 import Web3
from web3.types import TxReceipt

from tierflow.chain.vocabulary import RangeStatus
from tierflow.testing.chain import Platform, RevertExpectation

DAY = 86_400  # [s]
YUAN = 100  # [fen]
MAX_UINT = 2**256 - 1


LIVE = {
    RangeStatus.HELD,
    RangeStatus.PLEDGED,
    RangeStatus.PRESENTED,
    RangeStatus.PAID,
    RangeStatus.DISHONOURED,
    RangeStatus.FROZEN,
}


@dataclass(frozen=True)
class RangeView:
    id: int
    holder: str
    package_id: int
    status: RangeStatus
    start: int
    end: int
    prev: int
    presented_at: int

    @property
    def amount(self) -> int:
        return self.end - self.start + 1


def expected_interest(amount: int, rate_bps: int, maturity: int, at: int) -> tuple[int, int]:
    """The documented rule, in exact integers: days rounded up, interest rounded half up to the fen."""
    days = -(-(maturity - at) // DAY) if maturity > at else 0
    return (amount * rate_bps * days + 1_800_000) // 3_600_000, days


class BillKit:
    """Drives Bills on the test platform with sensible defaults; every helper returns ids, not receipts."""

    _invoice_counter = itertools.count(1)

    def __init__(self, tf: Platform) -> None:
        self.tf = tf
        self.bills = tf.c.bills
        self.token = tf.c.token
        self.registry = tf.c.registry
        self.documents = tf.c.documents

    # -- plumbing ---------------------------------------------------------------------------
    def tx(self, fn: Any, sender: Any) -> TxReceipt:
        return self.tf.transact(fn, sender)

    @contextmanager
    def reverts(self, name: str, *args: Any) -> Iterator[RevertExpectation]:
        """tf.reverts, comparing addresses case-insensitively (decoded errors may carry lowercase ones)."""
        with self.tf.reverts(name) as caught:
            yield caught
        assert caught.error is not None
        if args:
            got = tuple(_canonical(v) for v in caught.error.values)
            assert got == tuple(_canonical(a) for a in args), f"expected {name}{args}, got {caught.error}"

    def event(self, receipt: TxReceipt, name: str) -> dict[str, Any]:
        events = self.tf.events(receipt, self.bills, name)
        assert len(events) == 1, f"expected one {name}, got {events}"
        return events[0]

    def addr(self, who: Any) -> str:
        return self.tf.address(who)

    @classmethod
    def invoices(cls, n: int = 1) -> list[bytes]:
        return [keccak(text=f"bills-test-invoice:{next(cls._invoice_counter)}") for _ in range(n)]

    # -- lifecycle ----------------------------------------------------------------------------
    def issue(
        self,
        drawer: Any = "core1",
        acceptor: Any = "core1",
        payee: Any = "supplier1",
        face: int = 10_000 * YUAN,
        maturity: int | None = None,
        splittable: bool = True,
        not_transferable: bool = False,
        invoices: list[bytes] | None = None,
    ) -> int:
        maturity = maturity if maturity is not None else self.tf.now() + 90 * DAY
        invoices = invoices if invoices is not None else self.invoices()
        receipt = self.tx(
            self.bills.functions.issue(
                self.addr(acceptor), self.addr(payee), face, maturity, splittable, not_transferable, invoices
            ),
            drawer,
        )
        return int(self.event(receipt, "BillIssued")["packageId"])

    def accept(self, package_id: int, acceptor: Any = "core1") -> None:
        self.tx(self.bills.functions.accept(package_id), acceptor)

    def issued_invoices(self, package_id: int) -> list[bytes]:
        """The invoice hashes a package was issued with (its BillIssued event), which receipt binds."""
        logs = self.bills.events.BillIssued.get_logs(from_block=0, argument_filters={"packageId": package_id})
        assert logs, f"package {package_id} was never issued"
        return [bytes(h) for h in logs[-1]["args"]["invoiceHashes"]]

    def receive(self, package_id: int, payee: Any = "supplier1") -> int:
        invoices = self.issued_invoices(package_id)
        receipt = self.tx(self.bills.functions.receiveBill(package_id, invoices), payee)
        return int(self.event(receipt, "BillReceived")["rangeId"])

    def live(self, **kwargs: Any) -> tuple[int, int]:
        """Issue, accept and receive: (packageId, root rangeId)."""
        acceptor = kwargs.get("acceptor", "core1")
        payee = kwargs.get("payee", "supplier1")
        package_id = self.issue(**kwargs)
        self.accept(package_id, acceptor)
        return package_id, self.receive(package_id, payee)

    def endorse(self, range_id: int, start: int, end: int, to: Any, sender: Any) -> dict[str, Any]:
        receipt = self.tx(self.bills.functions.endorse(range_id, start, end, self.addr(to)), sender)
        return self.event(receipt, "BillEndorsed")

    def endorse_all(self, range_id: int, to: Any, sender: Any) -> int:
        r = self.range(range_id)
        return int(self.endorse(range_id, r.start, r.end, to, sender)["newRangeId"])

    def quote(
        self,
        range_id: int,
        start: int,
        end: int,
        financier: Any = "bank1",
        rate_bps: int = 300,
        expiry: int | None = None,
    ) -> int:
        expiry = expiry if expiry is not None else self.tf.now() + 3 * DAY
        receipt = self.tx(
            self.bills.functions.quoteDiscount(range_id, start, end, rate_bps, expiry), financier
        )
        return int(self.event(receipt, "BillQuoted")["quoteId"])

    def discount(
        self, range_id: int, start: int, end: int, holder: Any, financier: Any = "bank1", rate_bps: int = 300
    ) -> dict[str, Any]:
        quote_id = self.quote(range_id, start, end, financier, rate_bps)
        self.fund(financier, end - start + 1)
        receipt = self.tx(self.bills.functions.acceptQuote(quote_id), holder)
        return self.event(receipt, "BillDiscounted")

    def pledge(
        self, range_id: int, start: int, end: int, holder: Any, pledgee: Any = "bank1"
    ) -> dict[str, Any]:
        receipt = self.tx(self.bills.functions.pledge(range_id, start, end, self.addr(pledgee)), holder)
        return self.event(receipt, "BillPledged")

    def mature(self, package_id: int) -> None:
        wait = self.package(package_id)["maturity"] - self.tf.now()
        if wait > 0:
            self.tf.increase_time(wait)

    def present(self, range_id: int, holder: Any) -> None:
        self.tx(self.bills.functions.present(range_id), holder)

    def pay(self, range_id: int, acceptor: Any = "core1") -> dict[str, Any]:
        r = self.range(range_id)
        self.fund(acceptor, r.amount)
        return self.event(self.tx(self.bills.functions.pay(range_id), acceptor), "BillPaid")

    def dishonour(self, range_id: int, acceptor: Any = "core1", reason: int = 1) -> None:
        self.tx(self.bills.functions.dishonour(range_id, reason), acceptor)

    def claim(self, range_id: int, obligor: Any, holder: Any) -> None:
        self.tx(self.bills.functions.claimRecourse(range_id, self.addr(obligor)), holder)

    def settle(self, range_id: int, obligor: Any) -> int:
        self.fund(obligor, self.range(range_id).amount)
        receipt = self.tx(self.bills.functions.settleRecourse(range_id), obligor)
        return int(self.event(receipt, "BillRecourseSettled")["newRangeId"])

    # -- money ------------------------------------------------------------------------------
    def fund(self, who: Any, amount: int) -> None:
        """Give `who` `amount` more settlement token [fen] and an unlimited allowance for Bills."""
        self.tx(self.token.functions.mint(self.addr(who), amount), "bank1")
        if self.token.functions.allowance(self.addr(who), self.bills.address).call() < MAX_UINT // 2:
            self.tx(self.token.functions.approve(self.bills.address, MAX_UINT), who)

    def balance(self, who: Any) -> int:
        return int(self.token.functions.balanceOf(self.addr(who)).call())

    # -- reads ------------------------------------------------------------------------------
    def package(self, package_id: int) -> dict[str, Any]:
        fields = (
            "drawer",
            "maturity",
            "status",
            "splittable",
            "notTransferable",
            "bankAcceptance",
            "acceptor",
            "face",
            "payee",
            "invoicesDigest",
        )
        return dict(zip(fields, self.bills.functions.package(package_id).call(), strict=True))

    def range(self, range_id: int) -> RangeView:
        holder, package_id, status, _depth, start, end, prev, presented_at = self.bills.functions.range(
            range_id
        ).call()
        return RangeView(range_id, holder, package_id, RangeStatus(status), start, end, prev, presented_at)

    def live_ranges(self, package_id: int) -> list[RangeView]:
        """Every live record of a package, ordered by start (the test side of the indexer)."""
        last = self.bills.functions.nextRangeId().call()
        ranges = [self.range(i) for i in range(1, last)]
        return sorted(
            (r for r in ranges if r.package_id == package_id and r.status in LIVE), key=lambda r: r.start
        )

    def assert_covers(self, package_id: int) -> list[RangeView]:
        """Invariant: the live ranges are contiguous, disjoint and cover exactly [1, face]."""
        face = self.package(package_id)["face"]
        ranges = self.live_ranges(package_id)
        expected_start = 1
        for r in ranges:
            assert r.start == expected_start, f"gap or overlap at {r}: expected start {expected_start}"
            assert r.end >= r.start, f"empty range {r}"
            expected_start = r.end + 1
        assert expected_start == face + 1, f"ranges {ranges} do not end at face {face}"
        return ranges

    def endorsers(self, range_id: int) -> list[str]:
        return list(self.bills.functions.endorsers(range_id).call())


def _canonical(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return Web3.to_checksum_address(value)
    return value
