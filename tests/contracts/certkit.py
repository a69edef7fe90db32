"""Helpers of the core-contract tests: set up credit lines, certificates, cash and financing in one call."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from tierflow.chain.vocabulary import RequestStatus, Role, SlotStatus
from tierflow.testing.chain import Platform

DAY = 86_400  # [s]
FACE = 100_000_000  # [fen] 1,000,000.00 CNY
LIMIT = 10**13  # [fen]
MAX_UINT = 2**256 - 1

# Short names for the tests, from the one mirror of the contracts' enums and role bits.
NONE, ISSUED, ACCEPTED, REJECTED, CANCELLED, DEFAULTED, REPAID = SlotStatus
R_NONE, REQUESTED, QUOTED, R_ACCEPTED, FUNDED, R_CANCELLED, DECLINED, RECOURSED, LAPSED = RequestStatus
# Plain ints: web3 iterates an IntFlag value (it is a collection of its bits) instead of encoding it.
CORE, SUPPLIER, FINANCIER, BANK, AUDITOR = (int(role) for role in Role)


def invoice() -> bytes:
    return os.urandom(32)


def discount(face: int, rate_bps: int, days: int) -> int:
    """The documented rounding: half up to the fen."""
    return (face * rate_bps * days + 1_800_000) // 3_600_000


@dataclass
class Financed:
    request_id: int
    token_id: int
    price: int
    discount: int


class Kit:
    """Thin workflow helpers over Platform; every helper returns ids, never hides a revert."""

    def __init__(self, tf: Platform) -> None:
        self.tf = tf
        self.c = tf.c
        self._line: dict[str, int] = {}

    def a(self, who: str) -> str:
        return self.tf.address(who)

    # -- reads ------------------------------------------------------------------------------
    def slot(self, slot_id: int) -> Any:
        return self.c.receivables.functions.slot(slot_id).call()

    def token(self, token_id: int) -> Any:
        return self.c.receivables.functions.token(token_id).call()

    def request(self, request_id: int) -> Any:
        return self.c.financing.functions.getRequest(request_id).call()

    def line(self, line_id: int) -> Any:
        return self.c.credit_lines.functions.line(line_id).call()

    def cash(self, who: str) -> int:
        return int(self.c.token.functions.balanceOf(self.a(who)).call())

    # -- setup --------------------------------------------------------------------------------
    def grant(
        self, obligor: str = "core1", financier: str = "bank1", limit: int = LIMIT, days: int = 365
    ) -> int:
        receipt = self.tf.transact(
            self.c.credit_lines.functions.grant(self.a(obligor), limit, self.tf.now() + days * DAY), financier
        )
        (event,) = self.tf.events(receipt, self.c.credit_lines, "CreditLineGranted")
        return int(event["lineId"])

    def line_of(self, obligor: str) -> int:
        if obligor not in self._line:
            self._line[obligor] = self.grant(obligor)
        return self._line[obligor]

    def issue(
        self,
        obligor: str = "core1",
        supplier: str = "supplier1",
        face: int = FACE,
        days: int = 90,
        line_id: int | None = None,
        invoices: list[bytes] | None = None,
    ) -> tuple[int, int]:
        line_id = self.line_of(obligor) if line_id is None else line_id
        receipt = self.tf.transact(
            self.c.receivables.functions.issue(
                self.a(supplier), face, self.tf.now() + days * DAY, line_id, invoices or [invoice()]
            ),
            obligor,
        )
        (event,) = self.tf.events(receipt, self.c.receivables, "CertificateIssued")
        return int(event["slotId"]), int(event["tokenId"])

    def accepted(self, supplier: str = "supplier1", **kwargs: Any) -> tuple[int, int]:
        slot_id, token_id = self.issue(supplier=supplier, **kwargs)
        self.tf.transact(self.c.receivables.functions.accept(slot_id), supplier)
        return slot_id, token_id

    def give(self, who: str, amount: int) -> None:
        """Mint settlement token to `who` (bank1 is the settlement bank)."""
        self.tf.transact(self.c.token.functions.mint(self.a(who), amount), "bank1")

    def approve(self, who: str, spender: str, amount: int = MAX_UINT) -> None:
        address = getattr(self.c, spender).address
        self.tf.transact(self.c.token.functions.approve(address, amount), who)

    def transfer_value(self, token_id: int, sender: str, to: str, value: int) -> int:
        receipt = self.tf.transact(
            self.c.receivables.functions.transferValue(token_id, self.a(to), value), sender
        )
        splits = self.tf.events(receipt, self.c.receivables, "CertificateSplit")
        return int(splits[0]["newTokenId"]) if splits else token_id

    def request_financing(
        self,
        token_id: int,
        seller: str = "supplier1",
        amount: int | None = None,
        financier: str = "bank1",
        recourse: bool = False,
    ) -> tuple[int, int]:
        amount = self.token(token_id)[2] if amount is None else amount
        receipt = self.tf.transact(
            self.c.financing.functions.request(token_id, amount, self.a(financier), recourse), seller
        )
        (event,) = self.tf.events(receipt, self.c.financing, "FinancingRequested")
        return int(event["requestId"]), int(event["tokenId"])

    def quote(
        self, request_id: int, financier: str = "bank1", rate: int = 360, expiry_s: int = 12 * 3600
    ) -> None:
        """Quote valid `expiry_s` from now (the registry caps it at quoteValidity, 24 h by default)."""
        self.tf.transact(
            self.c.financing.functions.quote(request_id, rate, self.tf.now() + expiry_s), financier
        )

    def accept_quote(self, request_id: int, seller: str = "supplier1") -> Any:
        """acceptQuote naming the current terms, as the seller's screen shows them."""
        r = self.request(request_id)
        return self.tf.transact(self.c.financing.functions.acceptQuote(request_id, r[6], r[9], r[7]), seller)

    def financed(
        self,
        token_id: int,
        seller: str = "supplier1",
        amount: int | None = None,
        financier: str = "bank1",
        recourse: bool = False,
        rate: int = 360,
    ) -> Financed:
        """request → quote → accept → fund; the financier gets cash and approves Financing first."""
        request_id, locked = self.request_financing(token_id, seller, amount, financier, recourse)
        self.quote(request_id, financier, rate)
        self.accept_quote(request_id, seller)
        r = self.request(request_id)
        self.give(financier, r[9])
        self.approve(financier, "financing")
        self.tf.transact(self.c.financing.functions.fund(request_id), financier)
        return Financed(request_id, locked, r[9], r[8])

    def repay(self, slot_id: int, amount: int, obligor: str = "core1") -> None:
        self.give(obligor, amount)
        self.approve(obligor, "receivables")
        self.tf.transact(self.c.receivables.functions.repay(slot_id, amount), obligor)

    def to_maturity(self, slot_id: int, extra: int = 0) -> None:
        self.tf.increase_time(max(0, self.slot(slot_id)[3] - self.tf.now()) + extra)
