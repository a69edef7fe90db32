"""A scripted run of every Tierflow workflow on anvil that emits every event the indexer handles."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from tierflow.testing.chain import Platform

DAY = 86_400  # [s]
MAX_UINT = 2**256 - 1
BIG = 10**20 + 1  # [fen] beyond int64
ORDER = b"\x0c" * 32  # hash of a court order


class Scenario:
    """Phases of a platform's life; run them in order, checking the indexer between phases."""

    def __init__(self, tf: Platform) -> None:
        self.tf = tf
        self.c = tf.c
        self.ids: dict[str, int] = {}

    def a(self, who: str) -> str:
        return self.tf.address(who)

    def tx(self, fn: Any, sender: Any) -> Any:
        return self.tf.transact(fn, sender)

    def event(self, receipt: Any, contract: Any, name: str, index: int = -1) -> dict[str, Any]:
        return self.tf.events(receipt, contract, name)[index]

    @property
    def phases(self) -> list[Callable[[], None]]:
        return [
            self.setup, self.governance, self.certificates, self.financing, self.bills, self.controls,
            self.maturity,
        ]  # fmt: skip

    # -- phases ---------------------------------------------------------------------------------
    def setup(self) -> None:
        c, r = self.c, self.c.registry
        self.tf.govern(r.functions.setParameters(180 * DAY, 7 * DAY, 1))
        self.tx(r.functions.setRoles(self.a("supplier4"), 2 | 4), "operator")
        self.tx(r.functions.suspend(self.a("supplier4")), "operator")
        self.tx(r.functions.reinstate(self.a("supplier4")), "operator")
        self.tx(r.functions.pause(), "operator")
        self.tf.govern(r.functions.unpause())
        for who in ("bank1", "bank2", "core1", "core2", "supplier1", "supplier2", "supplier3"):
            self.tx(c.token.functions.mint(self.a(who), 10 * BIG), "bank1")
        for who, spender in [
            ("core1", c.receivables), ("core1", c.bills), ("core2", c.bills), ("bank1", c.financing),
            ("bank1", c.bills), ("bank2", c.financing), ("bank2", c.bills), ("supplier1", c.financing),
            ("supplier2", c.bills), ("supplier1", c.bills),
        ]:  # fmt: skip
            self.tx(c.token.functions.approve(spender.address, MAX_UINT), who)
        self.tx(c.token.functions.transfer(self.a("supplier2"), 5), "supplier1")
        receipt = self.tx(
            c.credit_lines.functions.grant(self.a("core1"), 100 * BIG, self.tf.now() + 365 * DAY), "bank1"
        )
        self.ids["line"] = self.event(receipt, c.credit_lines, "CreditLineGranted")["lineId"]
        self.tx(
            c.credit_lines.functions.adjust(self.ids["line"], 200 * BIG, self.tf.now() + 300 * DAY), "bank1"
        )

    def _issue(self, face: int, supplier: str = "supplier1", days: int = 90) -> tuple[int, int]:
        receipt = self.tx(
            self.c.receivables.functions.issue(
                self.a(supplier),
                face,
                self.tf.now() + days * DAY,
                self.ids["line"],
                [os.urandom(32), os.urandom(32)],
            ),
            "core1",
        )
        issued = self.event(receipt, self.c.receivables, "CertificateIssued")
        return issued["slotId"], issued["tokenId"]

    def certificates(self) -> None:
        rc = self.c.receivables.functions
        slot, token = self._issue(BIG)
        self.ids.update(slot_a=slot, token_a=token)
        self.tx(rc.accept(slot), "supplier1")
        rejected, _ = self._issue(1000)
        self.tx(rc.reject(rejected), "supplier1")
        cancelled, _ = self._issue(1000)
        self.tx(rc.cancel(cancelled), "core1")
        receipt = self.tx(rc.transferValue(token, self.a("supplier2"), 10**19), "supplier1")
        child = self.event(receipt, self.c.receivables, "CertificateSplit")["newTokenId"]
        self.tx(rc.transfer(child, self.a("supplier3")), "supplier2")
        receipt = self.tx(rc.split(child, 10**18), "supplier3")
        self.ids["token_c"] = self.event(receipt, self.c.receivables, "CertificateSplit")["newTokenId"]
        self.ids["token_b"] = child

    def _request(self, token: int, amount: int, financier: str, recourse: bool = True) -> int:
        receipt = self.tx(
            self.c.financing.functions.request(token, amount, self.a(financier), recourse), "supplier1"
        )
        return int(self.event(receipt, self.c.financing, "FinancingRequested")["requestId"])

    def _terms(self, request_id: int) -> tuple[int, int, int]:
        """rate, price, expiry of the current quote: what the seller's acceptance names."""
        r = self.c.financing.functions.getRequest(request_id).call()
        return r[6], r[9], r[7]

    def financing(self) -> None:
        fn = self.c.financing.functions
        token = self.ids["token_a"]
        funded = self._request(token, 10**18, "bank1")
        self.tx(fn.quote(funded, 500, self.tf.now() + DAY // 2), "bank1")
        self.tx(fn.quote(funded, 450, self.tf.now() + DAY // 2), "bank1")
        self.tx(fn.acceptQuote(funded, *self._terms(funded)), "supplier1")
        self.tx(fn.fund(funded), "bank1")
        declined = self._request(token, 10**17, "bank2", recourse=False)
        self.tx(fn.decline(declined), "bank2")
        cancelled = self._request(token, 10**17, "bank1")
        self.tx(fn.cancel(cancelled), "supplier1")
        # accepted, never funded: lapsed by anyone once its quote expired (at maturity below)
        lapsed = self._request(token, 10**17, "bank2", recourse=False)
        self.tx(fn.quote(lapsed, 400, self.tf.now() + 3600), "bank2")
        self.tx(fn.acceptQuote(lapsed, *self._terms(lapsed)), "supplier1")
        self.ids["lapsed"] = lapsed
        # a payable that will default, financed with recourse
        slot, whole = self._issue(10**6)
        self.tx(self.c.receivables.functions.accept(slot), "supplier1")
        recourse = self._request(whole, 10**6, "bank1")
        self.tx(fn.quote(recourse, 600, self.tf.now() + DAY // 2), "bank1")
        self.tx(fn.acceptQuote(recourse, *self._terms(recourse)), "supplier1")
        self.tx(fn.fund(recourse), "bank1")
        self.ids.update(slot_d=slot, recourse=recourse)

    def bills(self) -> None:
        b = self.c.bills.functions
        maturity = self.tf.now() + 60 * DAY

        def issue(payee: str = "supplier1") -> tuple[int, list[bytes]]:
            hashes = [os.urandom(32)]
            receipt = self.tx(
                b.issue(self.a("core2"), self.a(payee), 1000, maturity, True, False, hashes), "core1"
            )
            return int(self.event(receipt, self.c.bills, "BillIssued")["packageId"]), hashes

        cancelled, hashes = issue()
        self.tx(b.cancel(cancelled), "core1")
        rejected, hashes = issue()
        self.tx(b.accept(rejected), "core2")
        self.tx(b.reject(rejected), "supplier1")
        package, hashes = issue()
        self.tx(b.accept(package), "core2")
        receipt = self.tx(b.receiveBill(package, hashes), "supplier1")
        root = self.event(receipt, self.c.bills, "BillReceived")["rangeId"]
        # supplier1 → supplier2 → supplier3 for [1, 300]; supplier1 keeps [301, 1000]
        receipt = self.tx(b.endorse(root, 1, 300, self.a("supplier2")), "supplier1")
        first = self.event(receipt, self.c.bills, "BillEndorsed")["newRangeId"]
        receipt = self.tx(b.endorse(first, 1, 300, self.a("supplier3")), "supplier2")
        self.ids["bill_s3"] = self.event(receipt, self.c.bills, "BillEndorsed")["newRangeId"]
        # discount a middle part [401, 500] of supplier1's [301, 1000] to bank1, after a withdrawn quote
        receipt = self.tx(b.quoteDiscount(root, 401, 500, 300, self.tf.now() + 3 * DAY), "bank2")
        self.tx(b.cancelQuote(self.event(receipt, self.c.bills, "BillQuoted")["quoteId"]), "bank2")
        receipt = self.tx(b.quoteDiscount(root, 401, 500, 300, self.tf.now() + 3 * DAY), "bank1")
        self.tx(b.acceptQuote(self.event(receipt, self.c.bills, "BillQuoted")["quoteId"]), "supplier1")
        # pledge part of supplier1's [301, 400] and release it
        receipt = self.tx(b.pledge(root, 301, 350, self.a("bank2")), "supplier1")
        pledged = self.event(receipt, self.c.bills, "BillPledged")["rangeId"]
        self.tx(b.releasePledge(pledged), "bank2")
        self.ids.update(bill_root=root, bill_package=package)

    def controls(self) -> None:
        """Issue 15: holds, forced transfers and a key recovery, on certificates, bills and cash."""
        rc, b, r = self.c.receivables.functions, self.c.bills.functions, self.c.registry.functions
        lost = self.tf.extra_account(4).address  # a supplier that will lose its key
        self.tx(r.register(lost, 2, b"\x04" * 32), "operator")
        slot, token = self._issue(10**6, supplier="supplier2")
        self.tx(rc.accept(slot), "supplier2")
        receipt = self.tx(rc.freeze(token, 4 * 10**5, ORDER), "operator")
        self.ids.update(
            slot_f=slot, frozen=self.event(receipt, self.c.receivables, "CertificateFrozen")["tokenId"]
        )
        receipt = self.tf.govern(rc.forceTransfer(token, lost, 10**5, ORDER))
        heirloom = self.event(receipt, self.c.receivables, "CertificateForceTransferred")["tokenId"]
        # a bill range frozen, handed over whole under its hold by a court order, released; a part forced
        receipt = self.tx(b.freezeRange(self.ids["bill_root"], 396, 400, ORDER), "operator")
        frozen_range = self.event(receipt, self.c.bills, "BillRangeFrozen")["rangeId"]
        receipt = self.tf.govern(b.forceTransferRange(frozen_range, 396, 400, self.a("supplier2"), ORDER))
        moved = self.event(receipt, self.c.bills, "BillRangeForceTransferred")["newRangeId"]
        self.tx(b.unfreezeRange(moved, ORDER), "operator")
        receipt = self.tf.govern(b.forceTransferRange(self.ids["bill_root"], 391, 395, lost, ORDER))
        forced_range = self.event(receipt, self.c.bills, "BillRangeForceTransferred")["newRangeId"]
        # the supplier lost its key with a sale under way: everything it has goes to a re-verified address
        lost_account = self.tf.extra_account(4)
        receipt = self.tx(
            self.c.financing.functions.request(heirloom, 10**5, self.a("bank2"), False), lost_account
        )
        sale = self.event(receipt, self.c.financing, "FinancingRequested")["requestId"]
        self.tx(self.c.token.functions.mint(lost, 777), "bank1")
        heir = self.tf.extra_account(5).address
        self.tf.govern_batch([  # one batch proposal, as the service proposes a recovery
            r.recover(lost, heir, ORDER),
            rc.recoverTokens(lost, heir, [heirloom], ORDER),
            self.c.financing.functions.recoverPositions(lost, heir, [sale], ORDER),
            b.recoverParties(lost, heir, [forced_range], ORDER),
            self.c.token.functions.recoverBalance(lost, heir),
        ])  # fmt: skip
        self._recover_core_and_bank()
        # a part of supplier1's bill frozen until after maturity: its payment goes to escrow (maturity)
        receipt = self.tx(b.freezeRange(self.ids["bill_root"], 381, 390, ORDER), "operator")
        self.ids["bill_frozen"] = self.event(receipt, self.c.bills, "BillRangeFrozen")["rangeId"]

    def _recover_core_and_bank(self) -> None:
        """A company that is both a core enterprise and a bank loses its key: the payable it owes, the
        credit line it borrows on and its open bill quote move to the re-verified address."""
        c, b = self.c, self.c.bills.functions
        lost = self.tf.extra_account(6)
        self.tx(c.registry.functions.register(lost.address, 1 | 4, b"\x06" * 32), "operator")
        receipt = self.tx(
            c.credit_lines.functions.grant(lost.address, BIG, self.tf.now() + 365 * DAY), "bank1"
        )
        line = self.event(receipt, c.credit_lines, "CreditLineGranted")["lineId"]
        receipt = self.tx(
            c.receivables.functions.issue(
                self.a("supplier1"), 1000, self.tf.now() + 90 * DAY, line, [os.urandom(32)]
            ),
            lost,
        )
        slot = self.event(receipt, c.receivables, "CertificateIssued")["slotId"]
        start = int(b.range(self.ids["bill_root"]).call()[4])  # supplier1's part: where it starts now
        receipt = self.tx(
            b.quoteDiscount(self.ids["bill_root"], start, start + 9, 300, self.tf.now() + 3 * DAY), lost
        )
        quote = self.event(receipt, c.bills, "BillQuoted")["quoteId"]
        heir = self.tf.extra_account(7).address
        self.tf.govern_batch([
            c.registry.functions.recover(lost.address, heir, ORDER),
            c.receivables.functions.recoverObligations(lost.address, heir, [slot], ORDER),
            c.credit_lines.functions.recoverLines(lost.address, heir, [line], ORDER),
            b.recoverPackageParties(lost.address, heir, [], [quote], ORDER),
        ])  # fmt: skip

    def maturity(self) -> None:
        rc, fn, b = self.c.receivables.functions, self.c.financing.functions, self.c.bills.functions
        self.tf.increase_time(100 * DAY)
        self.tx(fn.lapse(self.ids["lapsed"]), "supplier2")
        # payable A: repaid in two parts, claimed by one holder, pushed to the others
        self.tx(rc.repay(self.ids["slot_a"], 10**20), "core1")
        self.tx(rc.repay(self.ids["slot_a"], 1), "core1")
        self.tx(rc.claim(self.ids["token_c"]), "supplier3")
        self.tx(rc.payout([self.ids["token_a"], self.ids["token_b"], self.ids["token_c"]]), "operator")
        # payable D: defaulted, recourse against the seller
        self.tx(rc.markDefaulted(self.ids["slot_d"], 0), "operator")
        self.tx(fn.exerciseRecourse(self.ids["recourse"]), "bank1")
        # bills: supplier1's [301, 400] is paid; supplier3's [1, 300] is dishonoured and recoursed
        self.tx(b.present(self.ids["bill_root"]), "supplier1")
        self.tx(b.pay(self.ids["bill_root"]), "core2")
        self.tx(b.present(self.ids["bill_s3"]), "supplier3")
        self.tx(b.dishonour(self.ids["bill_s3"], 1), "core2")
        self.tx(b.claimRecourse(self.ids["bill_s3"], self.a("supplier2")), "supplier3")
        self.tx(b.settleRecourse(self.ids["bill_s3"]), "supplier2")
        # the frozen part of supplier1's bill: paid into escrow, released to its holder
        self.tx(b.pay(self.ids["bill_frozen"]), "core2")
        self.tx(b.unfreezeRange(self.ids["bill_frozen"], ORDER), "operator")
        # the frozen certificate: paid into its hold's escrow, released to its holder
        self.tx(rc.repay(self.ids["slot_f"], 10**6), "core1")
        self.tx(rc.payout([self.ids["frozen"]]), "operator")
        self.tx(rc.unfreeze(self.ids["frozen"], ORDER), "operator")

    def governance(self) -> None:
        """A role grant through the governors' council: proposed, approved, scheduled, executed; another
        proposal cancelled by two other governors' votes."""
        registry = self.c.registry.functions
        self.tf.govern(registry.grantRole(registry.GUARDIAN_ROLE().call(), self.a("bank2")))
        council = self.c.council.functions
        fn = registry.setQuoteValidity(3600)
        receipt = self.tx(council.propose(fn.address, fn._encode_transaction_data(), b"\0" * 32), "bank1")
        proposal_id = self.event(receipt, self.c.council, "ProposalCreated")["proposalId"]
        self.tx(council.cancel(proposal_id), "operator")
        self.tx(council.cancel(proposal_id), "bank2")
