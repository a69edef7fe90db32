"""What each write answers in `TxResult.result`: one typed model per kind of operation, for the OpenAPI
document and typed clients (`TxResult[IssueResult]`), instead of an untyped object.

The values come from the transaction's events (services/writes.py, RESULT_FIELDS and
BILL_RESULT_FIELDS): a field is present when the transaction emitted the event that carries it (a
transfer of part of a certificate has `new_token_id`, a transfer of all of it has not). Money in fen.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

FEN = "[fen] integer amount in fen (0.01 CNY)"


def _id(what: str) -> Any:
    """An optional id field (Any: a pydantic Field stands for the value it defaults)."""
    return Field(default=None, description=what)


def _fen(what: str) -> Any:
    return Field(default=None, description=f"{FEN}; {what}")


class WriteResult(BaseModel):
    """Base of every result: the ids and amounts a write produced. Fields a later version adds are allowed
    (a client ignores what it does not know)."""

    model_config = ConfigDict(extra="allow")


class NoResult(WriteResult):
    """A write whose events carry nothing new to refer to (accept, reject, cancel, pause…): read the
    object again, or see `events`."""


class IssueResult(WriteResult):
    slot_id: int | None = _id("the new payable (slot)")
    token_id: int | None = _id("the supplier's first certificate of it")


class CreditLineResult(WriteResult):
    line_id: int | None = _id("the credit line")
    limit: int | None = _fen("the line's limit after an adjustment")


class TransferResult(WriteResult):
    token_id: int | None = _id("the certificate moved, or split from")
    new_token_id: int | None = _id("the new certificate, when part of the value moved")


class FinancingRequestResult(WriteResult):
    request_id: int | None = _id("the financing request")
    token_id: int | None = _id("the certificate locked for it (split off when part was asked)")
    new_token_id: int | None = _id("the certificate split off for the request, if any")


class QuoteResult(WriteResult):
    request_id: int | None = _id("the financing request")
    discount: int | None = _fen("discount interest: face × rate × days / 360")
    price: int | None = _fen("what the seller receives")


class FundResult(QuoteResult):
    token_id: int | None = _id("the certificate delivered to the bank")


class ClaimResult(WriteResult):
    token_id: int | None = _id("the certificate paid")
    amount: int | None = _fen("paid to its holder")


class RepayResult(WriteResult):
    slot_id: int | None = _id("the payable repaid")
    paid_in: int | None = _fen("paid in by the obligor so far")


class DefaultResult(WriteResult):
    slot_id: int | None = _id("the payable marked defaulted")
    unpaid: int | None = _fen("left unpaid")


class RecourseResult(WriteResult):
    request_id: int | None = _id("the financing request recourse was exercised on")
    amount: int | None = _fen("owed by the seller")


class CertificateHoldResult(WriteResult):
    frozen_token_id: int | None = _id("the certificate under the hold")
    token_id: int | None = _id("the certificate released")
    new_token_id: int | None = _id("the certificate the court order moved value to")
    value: int | None = _fen("frozen or moved")
    released: int | None = _fen("escrow released to the holder")


class BillIssueResult(WriteResult):
    package_id: int | None = _id("the new bill package")
    range_id: int | None = _id("the payee's sub-ticket range")


class BillRangeResult(WriteResult):
    """Endorse, release, recourse settlement, a hold or a forced transfer: the ranges that came of it."""

    range_id: int | None = _id("the range received")
    new_range_id: int | None = _id("the range the counterparty now holds")
    remainder_range_id: int | None = _id("what stays with the holder, when part moved")
    pledged_range_id: int | None = _id("the range under the pledge")
    frozen_range_id: int | None = _id("the range under the hold")
    amount: int | None = _fen("paid, for a recourse settlement")


class BillQuoteResult(WriteResult):
    quote_id: int | None = _id("the bank's discount quote")


class BillDiscountResult(WriteResult):
    new_range_id: int | None = _id("the range the bank now holds")
    remainder_range_id: int | None = _id("what stays with the seller, when part was discounted")
    price: int | None = _fen("paid to the seller")
    interest: int | None = _fen("discount interest the bank earns")


class BillPaymentResult(WriteResult):
    amount: int | None = _fen("paid to the holder")


class ProposalResult(WriteResult):
    """A governance proposal made, approved, cancelled or executed (the council's events)."""

    proposal_id: int | None = _id("the council's proposal, when one was created")
    deadline: Any = Field(default=None, description="the last moment to approve or execute it, when created")


class AnyResult(
    IssueResult, CreditLineResult, FinancingRequestResult, FundResult, ClaimResult, RepayResult,
    DefaultResult, RecourseResult, CertificateHoldResult, BillIssueResult, BillRangeResult, BillQuoteResult,
    BillDiscountResult,
):  # fmt: skip
    """A relayed request may be any write: any of the fields above."""
