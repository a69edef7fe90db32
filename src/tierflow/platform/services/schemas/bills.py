"""Request and response models of the bill (电子商业汇票) endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from tierflow.platform.services.schemas.certificates import (
    AddressStr,
    ChainDate,
    DocumentIdStr,
    FenIn,
    fen_doc,
)
from tierflow.platform.services.schemas.times import Day, Instant

MAX_SUBTICKET = 2**64 - 1  # the contract packs sub-ticket numbers in 64 bits


class BillIssue(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "acceptor": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                    "payee": "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
                    "face": 100_000_000,
                    "maturity": "2027-05-20",
                    "splittable": True,
                    "not_transferable": False,
                    "document_ids": ["3f0c9a1e5b7d4c2a8e6f1b0d9c7a5e3f"],
                }
            ]
        }
    )

    acceptor: AddressStr = Field(description="a core enterprise (商票) or a bank (银票)")
    payee: AddressStr = Field(description="the seller the bill pays (core enterprise or supplier)")
    face: FenIn = Field(gt=0, lt=2**64, description=fen_doc("the package holds sub-tickets 1 … face"))
    maturity: ChainDate
    splittable: bool = Field(default=True, description="may parts of it be endorsed, discounted, pledged")
    not_transferable: bool = Field(default=False, description="不得转让: stops endorsement and discount")
    document_ids: list[DocumentIdStr] = Field(
        min_length=1, max_length=32, description="uploaded invoices issued by the payee"
    )


class SubRange(BaseModel):
    """Part of a range; both omitted = the whole range."""

    # Strict like money: a sub-ticket number is 0.01 yuan of the bill (`true` must not mean ticket 1).
    start: int | None = Field(
        default=None, gt=0, le=MAX_SUBTICKET, strict=True, description="first sub-ticket (a JSON integer)"
    )
    end: int | None = Field(
        default=None, gt=0, le=MAX_SUBTICKET, strict=True, description="last sub-ticket, inclusive"
    )


class PartOfRange(SubRange):
    """Part of a range by amount (the service picks the range's first sub-tickets that carry it) or by
    sub-tickets (`start`, `end`); none of them = the whole range."""

    amount: FenIn | None = Field(
        default=None,
        gt=0,
        le=MAX_SUBTICKET,
        description=fen_doc(
            "instead of start/end: how much of the range, the service picks its first sub-tickets "
            "(1 sub-ticket = 1 fen = ¥0.01)"
        ),
    )

    @model_validator(mode="after")
    def _amount_or_sub_tickets(self) -> PartOfRange:
        if self.amount is not None and (self.start is not None or self.end is not None):
            raise ValueError("give an amount or sub-tickets (start, end), not both")
        return self


class BillEndorse(PartOfRange):
    to: AddressStr


class BillPledge(PartOfRange):
    pledgee: AddressStr


class BillDiscountCreate(PartOfRange):
    financier: AddressStr = Field(description="the bank asked to quote")


class BillQuoteCreate(SubRange):
    rate_bps: int = Field(gt=0, le=10_000, description="annual discount rate [bps]")
    valid_hours: int = Field(default=24, gt=0, le=24 * 30)


class BillDishonour(BaseModel):
    reason: int = Field(gt=0, le=255, description="拒付 reason code (codes are kept off chain)")


class BillRecourse(BaseModel):
    obligor: AddressStr = Field(description="the drawer or a prior endorser of the range")


class BillPackagePublic(BaseModel):
    package_id: int
    drawer: str
    acceptor: str
    payee: str
    face: int = Field(description="[fen] the bill's face: as many sub-tickets of ¥0.01")
    maturity: Day
    splittable: bool
    not_transferable: bool
    bank_acceptance: bool
    status: str
    root_range_id: int | None
    invoice_hashes: list[str] = Field(
        default=[], description="the invoice keys the drawer proposed at issue (0x-hex)"
    )

    @computed_field(  # type: ignore[prop-decorator]
        description="proposed: waiting for the payee (the invoices' seller) to receive the bill; bound: "
        "the invoices back this bill and no other asset; released: cancelled or rejected, never bound"
    )
    @property
    def invoice_binding(self) -> Literal["proposed", "bound", "released"]:
        if self.status in ("Issued", "Accepted"):
            return "proposed"
        return "bound" if self.status == "Received" else "released"


class BillRangePublic(BaseModel):
    range_id: int
    package_id: int
    holder: str
    start: int
    end: int
    amount: int = Field(description="[fen] = end − start + 1 sub-tickets of 0.01 yuan")
    status: str
    prev: int
    depth: int = Field(
        default=0,
        description="records between this one and the root: its endorsement chain's length; it cannot be "
        "endorsed or discounted beyond Bills.maxChainLength (BillChainTooLong)",
    )
    origin: str
    pledgee: str | None
    presented_at: Instant | None
    recourse_obligor: str | None


class BillQuotePublic(BaseModel):
    quote_id: int
    range_id: int
    financier: str
    start: int
    end: int
    rate_bps: int
    expiry: Instant
    status: str


class BillMovementPublic(BaseModel):
    block_number: int
    log_index: int
    tx_hash: str
    kind: str
    range_id: int
    from_range_id: int | None
    from_address: str | None
    to_address: str | None
    start: int | None
    end: int | None
    amount: int | None = Field(description="[fen] the sub-tickets moved")
    price: int | None = Field(description="[fen] paid for them (a discount)")
    interest: int | None = Field(description="[fen] discount interest the bank earned")
    reason: int | None


class BillDetail(BaseModel):
    package: BillPackagePublic
    ranges: list[BillRangePublic] = Field(description="live ranges in sub-ticket order (cover 1 … face)")
    quotes: list[BillQuotePublic]
    history: list[BillMovementPublic]


class ChainLink(BaseModel):
    range_id: int
    holder: str
    start: int
    end: int
    status: str
    origin: str


class EndorsementChain(BaseModel):
    range: BillRangePublic
    chain: list[ChainLink] = Field(description="the range, then each record it came from, nearest first")
    endorsers: list[str] = Field(description="prior holders liable in recourse, nearest first")


class BillDiscountRequestPublic(BaseModel):
    request_id: int
    range_id: int
    package_id: int
    seller: str
    financier: str
    start: int
    end: int
    amount: int = Field(description="[fen] the sub-tickets to discount")
    status: str
    quote_id: int | None
    created_at: Instant
    maturity: Day
    acceptor: str
    bank_acceptance: bool
    range_status: str
    quote: BillQuotePublic | None
