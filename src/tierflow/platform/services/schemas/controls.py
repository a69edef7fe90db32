"""Request and response models of the asset-level controls (issue 15): holds, forced transfers, recovery."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from tierflow.platform.services.schemas.certificates import NO_NUL, AddressStr, Fen, FenIn
from tierflow.platform.services.schemas.times import Instant

Id = Annotated[int, Field(gt=0, lt=2**63)]
# The order itself stays off chain: the chain records keccak256 of its reference (see controls.reason_hash).
OrderReference = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=NO_NUL,
        description="the reference of the court order or re-verification record, e.g. (2026)沪0115执保123号; "
        "the chain records its keccak-256 hash",
        examples=["(2026)沪0115执保123号"],
    ),
]


class CertificateFreeze(BaseModel):
    amount: FenIn = Field(gt=0, description="[fen] the value to hold: the whole token or a part split off")
    order: OrderReference


class CertificateForce(BaseModel):
    to: AddressStr
    value: FenIn = Field(gt=0, description="[fen] the whole token's value or a part of it")
    order: OrderReference


class RangeFreeze(BaseModel):
    start: Id
    end: Id
    order: OrderReference


class RangeForce(BaseModel):
    start: Id
    end: Id
    to: AddressStr
    order: OrderReference


class Release(BaseModel):
    order: OrderReference = Field(description="the reference of the order lifting the hold")


class Recovery(BaseModel):
    new_address: AddressStr = Field(description="the participant's new, re-verified address (unregistered)")
    order: OrderReference = Field(description="the reference of the re-verification record")


class HoldPublic(BaseModel):
    asset: Literal["certificate", "bill_range"]
    asset_id: int
    holder: str
    value: Fen
    reason_hash: str
    status: Literal["frozen", "released"]
    escrowed: Fen
    released: Fen
    release_hash: str | None
    frozen_block: int
    frozen_at: Instant | None = Field(description="block time of the hold, ISO 8601 in UTC")
    released_block: int | None


class ControlPublic(BaseModel):
    kind: str = Field(description="frozen | unfrozen | escrowed | forced | recovered")
    asset: str = Field(
        description="certificate | bill_range | bill_package | bill_quote | financing | participant "
        "| balance | payable | credit_line"
    )
    asset_id: int | None
    new_asset_id: int | None
    from_address: str | None
    to_address: str | None
    value: Fen | None
    reason_hash: str | None
    block_number: int
    tx_hash: str


class RecoveryPublic(BaseModel):
    """What one recovery will move, contract by contract: ONE council batch proposal (every call, at most
    200 items each), approved once and executed atomically once the delay passed; split into several
    only when a block's gas cannot carry it (`proposal_ids`)."""

    old_address: str
    new_address: str
    reason_hash: str
    tx_hashes: list[str] = Field(description="the transactions that made the proposal(s)")
    proposal_id: int = Field(description="the council's batch proposal: approve and execute it once")
    proposal_ids: list[int] | None = Field(
        default=None,
        description="only when the recovery was too large for one block's gas: its batches, in the order "
        "they must be executed (the registry's step is in the first); otherwise absent",
    )
    calls: int = Field(description="contract calls in the proposal(s): the registry's step, then positions")
    certificates: int
    financing_requests: int
    bill_packages: int
    bill_ranges: int
    balance: Fen
    payables: int = Field(description="payables issued by the old address: the new one owes and repays them")
    credit_lines: int = Field(description="credit lines the old address borrows on or granted")
    bill_quotes: int = Field(description="the old address's open bill quotes (a bank's)")
