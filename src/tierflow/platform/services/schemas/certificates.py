"""Request and response models of participants, credit lines, documents, certificates and financing.

The services take and return these (one family per resource: XCreate, XPublic, XsPublic); the API and
the dashboard are two faces of them. Bills have theirs in `bills.py`.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    computed_field,
)
from web3 import Web3

from tierflow.chain.vocabulary import RoleName
from tierflow.platform.services.schemas.times import Day, Instant

T = TypeVar("T")

MAX_FEN = 2**128 - 1  # the contracts pack values in uint128
FEN_DOC = "[fen] integer amount in fen (0.01 CNY)"
# Amounts are exact integers in fen (0.01 CNY). Out: JSON integers.
Fen = Annotated[int, Field(description=FEN_DOC)]
# In: a JSON integer and nothing else. Lax parsing sent `true` to the chain as 1 fen and read "1000" as
# 1000 fen; strict refuses booleans, floats (even 1000.0) and strings with a 422 instead.
STRICT_FEN_DOC = "; a JSON integer: no booleans, decimals or strings"
FenIn = Annotated[int, Field(strict=True, description=FEN_DOC + STRICT_FEN_DOC)]


def fen_doc(extra: str = "") -> str:
    """The description of a money field in a request: the unit, the strict type, then `extra`."""
    return FEN_DOC + STRICT_FEN_DOC + (f"; {extra}" if extra else "")


# Dates become unix seconds in a uint64 on chain: before 1970 there is no such number (a 500 before).
EARLIEST_DATE = dt.date(1970, 1, 1)
ChainDate = Annotated[
    dt.date,
    Field(ge=EARLIEST_DATE, description="ISO date (YYYY-MM-DD), 1970-01-01 or later"),
]


def _checksum(value: str) -> str:
    if not isinstance(value, str):
        raise ValueError("not an Ethereum address (0x followed by 40 hex digits)")
    return _checksummed(value)


@functools.lru_cache(maxsize=4096)
def _checksummed(value: str) -> str:
    """The checksummed form, kept: the same few parties' addresses come in every request (a batch's rows
    name four suppliers), and each conversion is a keccak through web3's generic validators."""
    if not Web3.is_address(value):
        raise ValueError("not an Ethereum address (0x followed by 40 hex digits)")
    return str(Web3.to_checksum_address(value))


AddressStr = Annotated[
    str,
    AfterValidator(_checksum),
    Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=["0x90F79bf6EB2c4f870365E785982E1f101E93b906"]),
]


# PostgreSQL text cannot hold NUL; refuse it at the edge (422) instead of failing in the database.
NO_NUL = r"^[^\x00]*$"
# What POST /v1/core/documents returns. Checked at the edge: any other string (a NUL on PostgreSQL)
# failed in the database as a 503 instead of a 422.
DocumentIdStr = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="document id (32 hex digits)")]


NEXT_AFTER = (
    "cursor of the next page: pass it as `after` (lists that take `after`); null on the last page. "
    "A cursor page costs the same at any depth and never repeats or skips a row when rows are added "
    "between pages, unlike `offset`"
)


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int = Field(description="rows matching the filters (all pages)")
    limit: int
    offset: int
    next_after: int | None = Field(default=None, description=NEXT_AFTER)


class CursorPage(BaseModel, Generic[T]):
    """A page of a list ordered by a composite key: its cursor is opaque text, not a row id."""

    data: list[T]
    count: int = Field(description="rows matching the filters (all pages)")
    limit: int
    offset: int
    next_after: str | None = Field(
        default=None,
        description=NEXT_AFTER + ". Opaque text (base64url of the last row's key): pass it back unchanged",
    )


# -- participants -------------------------------------------------------------------------------


class ParticipantCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "legal_name": "Shanghai Precision Parts Co., Ltd.",
                    "legal_id": "91310000MA1FL4XX1X",
                    "roles": ["supplier"],
                    "contact": "finance@precision.example",
                    "custody": "custodial",
                }
            ]
        }
    )

    legal_name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    legal_id: str = Field(
        min_length=4,
        max_length=64,
        pattern=NO_NUL,
        description="统一社会信用代码; stays off chain (only a salted hash goes on chain)",
    )
    roles: list[RoleName] = Field(min_length=1)
    contact: str = Field(default="", max_length=200, pattern=NO_NUL)
    custody: Literal["custodial", "self"] = Field(
        default="custodial",
        description="custodial: the platform creates and keeps the key (AES-GCM at rest) and signs; "
        "self: the participant signs EIP-712 forward requests with its own key at `address`",
    )
    address: AddressStr | None = Field(default=None, description="required for self custody")
    admin_name: str = Field(
        default="", max_length=200, pattern=NO_NUL,
        description="the company's first admin (a person); they sign in with the API key returned",
    )  # fmt: skip
    admin_login: str = Field(
        default="", max_length=120, pattern=NO_NUL,
        description="the first admin's login, an e-mail address (empty: a placeholder they change)",
    )  # fmt: skip


class ParticipantPublic(BaseModel):
    address: str
    legal_name: str
    roles: list[str]
    contact: str
    status: str
    custody: str
    is_operator: bool
    entity_hash: str
    created_at: Instant


class ParticipantCreated(BaseModel):
    participant: ParticipantPublic
    api_key: str = Field(description="shown once; store it now (only its hash is kept)")
    tx_hash: str | None = None


class ApiKeyPublic(BaseModel):
    key_id: str
    label: str
    created_at: Instant
    revoked_at: Instant | None


class ApiKeyCreated(BaseModel):
    key_id: str
    api_key: str = Field(description="shown once")


class QuoteValidityUpdate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"hours": 24}]})

    hours: int = Field(
        ge=1, le=168, description="how long a bank's quote may stay open at most [hours]; ≤ 7 days"
    )


class ParametersUpdate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"max_tenor_days": 180, "grace_period_days": 7, "min_unit": 1}]}
    )

    max_tenor_days: int = Field(
        ge=1, le=366, description="tenor cap [days]; regulation: 180 in principle, 366 at most"
    )
    grace_period_days: int = Field(
        ge=0, le=365, description="[days] after maturity before a default may be marked"
    )
    min_unit: FenIn = Field(ge=1, le=MAX_FEN, description=fen_doc("every amount must be a multiple of this"))


class PlatformPublic(BaseModel):
    paused: bool
    max_tenor_days: float
    grace_period_days: float
    min_unit: Fen
    chain_id: int
    block_number: int


# -- writes -------------------------------------------------------------------------------------
class EventPublic(BaseModel):
    contract: str
    event: str
    args: dict[str, Any]


# What `result` holds: each operation's typed model (schemas/results.py) in the OpenAPI document
# (`TxResultOf[IssueResult]` in the routes); the services build it from the events as a plain mapping
# (`TxResult`). The same JSON either way.
R = TypeVar("R")
RESULT_DOC = "the ids and amounts the write produced, from its events (see each operation's model)"


class TxResultOf(BaseModel, Generic[R]):
    """A transaction that was mined; `indexed` says the read model already shows it."""

    status: Literal["executed"] = "executed"
    tx_hash: str
    block_number: int
    indexed: bool = Field(description="false only if the indexer did not catch up in time; re-read shortly")
    result: R = Field(description=RESULT_DOC)
    events: list[EventPublic] = Field(default_factory=list)
    message: str | None = Field(
        default=None,
        description="what happened in words, in the request's language, where the service says it (a bill "
        "endorsed or pledged: who received how much, in yuan, and the new range)",
    )


class TxResult(TxResultOf[dict[str, Any]]):
    """A mined transaction as the services return it: `result` a mapping of the event fields."""

    result: dict[str, Any] = Field(default_factory=dict, description=RESULT_DOC)


def _quantity(value: Any) -> Any:
    """A uint as wallets and JSON libraries send it: a JSON integer, a decimal string or a 0x-hex string."""
    if isinstance(value, bool):
        raise ValueError("a number is expected, not a boolean")
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text, 16) if text[:2].lower() == "0x" else int(text, 10)
        except ValueError:
            raise ValueError(f"{value!r} is not an integer (decimal or 0x-hex)") from None
    return value


Quantity = Annotated[
    int,
    BeforeValidator(_quantity),
    Field(ge=0, lt=2**256),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^(0x[0-9a-fA-F]+|[0-9]+)$"},
            ],
            "description": "a uint: JSON integer, decimal string or 0x-hex string",
        }
    ),
]


class ForwardRequestMessage(BaseModel):
    """An ERC-2771 ForwardRequest (OpenZeppelin ERC2771Forwarder), the `message` that is signed."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    from_: AddressStr = Field(alias="from", description="the signer: the participant's own address")
    to: AddressStr = Field(description="the Tierflow contract called")
    value: Quantity = Field(description="[wei] always 0: the forwarder relays no ether")
    gas: Quantity = Field(description="gas the inner call may use (at most 5,000,000)")
    nonce: Quantity = Field(description="the signer's forwarder nonce: each request is used once")
    deadline: Quantity = Field(description="[unix s] uint48; the request cannot be relayed after it")
    data: str = Field(pattern=r"^0x([0-9a-fA-F]{2})*$", description="the calldata of the inner call")


class Eip712Field(BaseModel):
    name: str
    type: str


class ForwardRequestDomain(BaseModel):
    name: Literal["Tierflow"]
    version: Literal["1"]
    chainId: int
    verifyingContract: AddressStr = Field(description="the TierflowForwarder")


class ForwardRequestTypedData(BaseModel):
    """EIP-712 typed data as eth_signTypedData_v4 takes it. ethers v6 `signTypedData(domain, types,
    message)` derives the domain type itself and refuses `types` that list EIP712Domain: drop it."""

    types: dict[str, list[Eip712Field]] = Field(description="EIP712Domain and ForwardRequest")
    primaryType: Literal["ForwardRequest"]
    domain: ForwardRequestDomain
    message: ForwardRequestMessage


class SignatureRequired(BaseModel):
    """Returned (202) to self-custody participants: sign `forward_request` (EIP-712), POST it to /v1/relay."""

    status: Literal["signature_required"] = "signature_required"
    forward_request: ForwardRequestTypedData = Field(
        description="EIP-712 typed data (eth_signTypedData_v4); sign it, post its `message` to /v1/relay"
    )
    relay: str = "/v1/relay"


class RelayRequest(BaseModel):
    request: ForwardRequestMessage = Field(
        description="the `message` of the forward request as returned (from, to, value, gas, nonce, "
        "deadline, data); numbers as JSON integers, decimal or 0x-hex strings"
    )
    signature: str = Field(
        pattern=r"^0x([0-9a-fA-F]{128}|[0-9a-fA-F]{130})$",
        description="65 bytes r‖s‖v (v = 27/28, or 0/1 as some hardware wallets give it) or the 64-byte "
        "EIP-2098 compact form r‖vs; 0x-hex",
    )


# -- credit lines -------------------------------------------------------------------------------
class CreditLineCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "obligor": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                    "limit": 100000000,
                    "expiry": "2027-06-30",
                }
            ]
        }
    )

    obligor: AddressStr
    limit: FenIn = Field(gt=0, le=MAX_FEN, description=fen_doc())
    expiry: ChainDate = Field(description="last day of the line; an ISO date, 1970-01-01 or later")


class CreditLineAdjust(BaseModel):
    limit: FenIn = Field(gt=0, le=MAX_FEN, description=fen_doc())
    expiry: ChainDate = Field(description="last day of the line; an ISO date, 1970-01-01 or later")


class CreditLinePublic(BaseModel):
    line_id: int
    financier: AddressStr
    obligor: AddressStr
    limit: Fen
    used: Fen
    available: Fen
    expiry: Day


class RecourseCollect(BaseModel):
    seller: AddressStr = Field(description="the seller whose recourse debt to collect from its balance")


class RecourseDebtPublic(BaseModel):
    """A seller's recourse debt to a financier on one recoursed request: owed = collected + remaining."""

    request_id: int
    token_id: int
    seller: AddressStr
    financier: AddressStr
    owed: Fen
    collected: Fen
    remaining: Fen


# -- documents, payables, certificates ------------------------------------------------------------
class DocumentPublic(BaseModel):
    document_id: str
    kind: str
    invoice_number: str | None = Field(
        description="canonical: the digits of invoice code ‖ number (20 for a 全电发票, 18/20 for older ones)"
    )
    filename: str
    content_type: str
    size: int
    sha256: str
    doc_hash: str = Field(
        description="the key that goes on chain (HMAC of seller legal id + canonical invoice code ‖ number)"
    )
    verification: str = Field(
        description="verified: the file's own invoice number (and seller, where it states one) matched the "
        "upload; not_verified: a format that cannot be read (a scan, an image) — check by eye"
    )
    slot_id: int | None
    uploader: str
    created_at: Instant


class CertificateIssue(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "supplier": "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
                    "face": 5000000,
                    "maturity": "2027-03-31",
                    "line_id": 1,
                    "document_ids": ["3f2a…"],
                }
            ]
        }
    )

    supplier: AddressStr
    face: FenIn = Field(gt=0, le=MAX_FEN, description=fen_doc())
    maturity: ChainDate = Field(
        description="due date (ISO, 1970-01-01 or later); the payable matures at 00:00 UTC of that day"
    )
    line_id: int = Field(gt=0, lt=2**63)
    document_ids: list[DocumentIdStr] = Field(
        min_length=1, max_length=20, description="uploaded invoices (POST /v1/core/documents)"
    )


class Repay(BaseModel):
    amount: FenIn = Field(gt=0, le=MAX_FEN, description=fen_doc())


class Transfer(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"to": "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65", "value": 1000000}]
        }
    )

    to: AddressStr
    value: FenIn = Field(
        gt=0, le=MAX_FEN, description=fen_doc("the whole token value moves the token, less splits it")
    )


class PayablePublic(BaseModel):
    slot_id: int
    obligor: AddressStr
    supplier: AddressStr
    line_id: int
    face: Fen
    maturity: Day
    status: str
    paid_in: Fen
    paid_out: Fen
    root_token_id: int
    invoice_hashes: list[str] = Field(
        default=[], description="the invoice keys the obligor proposed at issue (0x-hex)"
    )

    @computed_field(  # type: ignore[prop-decorator]
        description="proposed: waiting for the supplier (the invoices' seller) to accept; bound: the "
        "invoices back this payable and no other asset; released: rejected or cancelled, never bound"
    )
    @property
    def invoice_binding(self) -> Literal["proposed", "bound", "released"]:
        if self.status == "Issued":
            return "proposed"
        return "released" if self.status in ("Rejected", "Cancelled") else "bound"


class CertificatePublic(BaseModel):
    token_id: int
    slot_id: int
    holder: str
    value: Fen
    initial_value: Fen
    status: str
    locked: bool
    lock_ref: int | None
    parent_id: int | None
    root_id: int
    depth: int = Field(
        description="splits between the payable's first certificate and this one (not the tier)"
    )
    tier: int | None = Field(
        default=None,
        description="supply-chain tier of the holder, counted in distinct holders along the lineage from "
        "the core enterprise (docs/tiers.md): 1 for the supplier it issued to; null for a financier's piece",
    )
    maturity: Day | None = None
    obligor: str | None = None


class TierTotal(BaseModel):
    tier: int | None = Field(
        description="supply-chain tier (docs/tiers.md): 1 for the supplier the core enterprise issued to, 2 "
        "for the suppliers it paid … ; null for the pieces financiers hold (financed paper, no supplier tier)"
    )
    tokens: int = Field(description="live certificates at this tier")
    holders: int = Field(description="distinct holders of them")
    value: int = Field(description="[fen] their value")


class Lineage(BaseModel):
    slot_id: int
    root_token_id: int
    tokens: list[CertificatePublic]
    count: int = Field(description="certificates this caller sees in the lineage (all pages)")
    tiers: list[TierTotal] = Field(
        default_factory=list,
        description="live certificates per tier, over what this caller sees: the whole tree for the "
        "obligor and auditors, the path to the root for a holder (the dashboard shows the same totals)",
    )
    next_after: int | None = Field(default=None, description=NEXT_AFTER)


class TransferPublic(BaseModel):
    block_number: int
    tx_hash: str
    kind: str
    slot_id: int
    token_id: int
    new_token_id: int | None
    from_address: str
    to_address: str
    value: Fen


class PayoutPublic(BaseModel):
    block_number: int
    tx_hash: str
    token_id: int
    slot_id: int
    holder: str
    amount: Fen


# -- financing ---------------------------------------------------------------------------------
class FinancingCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token_id": 7,
                    "amount": 1000000,
                    "financier": "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
                    "with_recourse": False,
                }
            ]
        }
    )

    token_id: int = Field(gt=0, lt=2**63)
    amount: FenIn = Field(
        gt=0, le=MAX_FEN, description=fen_doc("to sell; less than the token value splits it")
    )
    financier: AddressStr
    with_recourse: bool = False


class Quote(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"rate_bps": 450, "valid_hours": 24}]})

    rate_bps: int = Field(
        gt=0, le=10_000, description="annual discount rate [bps]; discount = face × rate × days / 360"
    )
    valid_hours: int = Field(
        default=24,
        ge=1,
        le=24 * 7,
        description="the quote expires after this; the registry's quoteValidity caps it (24 h by default)",
    )


class AcceptQuote(BaseModel):
    """The exact terms the seller was shown: the chain refuses the acceptance if the quote changed since."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"rate_bps": 450, "price": 98_875_000, "expiry": "2027-01-15T08:00:00Z"}]
        }
    )

    rate_bps: int = Field(gt=0, le=10_000, description="the quoted annual rate [bps]")
    price: Fen = Field(gt=0, le=MAX_FEN, description="[fen] the quoted price the seller receives")
    expiry: Instant = Field(
        description="the quote's expiry as the request shows it (`quote_expiry`), ISO 8601 UTC to the second"
    )


class FinancingPublic(BaseModel):
    request_id: int
    token_id: int
    seller: str
    financier: AddressStr
    amount: Fen
    with_recourse: bool
    status: str
    rate_bps: int | None
    quote_expiry: Instant | None
    discount: Fen | None
    price: Fen | None


class FinancingDetail(FinancingPublic):
    certificate: CertificatePublic | None
    payable: PayablePublic | None
    lineage: list[CertificatePublic] = Field(description="the path from the financed token back to the root")
    documents: list[DocumentPublic]
    obligor_exposure: Fen = Field(
        description="the obligor's outstanding accepted or issued face, all payables [fen]"
    )
    obligor_credit_lines: list[CreditLinePublic]


class LadderBucket(BaseModel):
    maturity_date: dt.date
    value: Fen
    tokens: int


class Portfolio(BaseModel):
    holdings: list[CertificatePublic]
    total_value: Fen
    ladder: list[LadderBucket]
    funded_price: Fen = Field(description="paid for the funded requests still held [fen]")
    funded_discount: Fen = Field(description="discount earned on those requests [fen]")
    overdue: list[CertificatePublic]
    defaulted: list[CertificatePublic]


class Approval(BaseModel):
    spender: Literal["Financing", "Receivables"]
    amount: FenIn = Field(ge=0, le=2**256 - 1, description=fen_doc())


class Mint(BaseModel):
    to: AddressStr
    amount: FenIn = Field(gt=0, le=MAX_FEN, description=fen_doc())


class Burn(BaseModel):
    amount: FenIn = Field(gt=0, le=MAX_FEN, description=fen_doc())


class BalancePublic(BaseModel):
    address: str
    balance: Fen
    allowances: dict[str, Fen]


# -- estimates and payouts due (the API's side of the supplier's 融资测算 and the operator's list) --------
BPS_DOC = "[bps] basis points a year (100 bps = 1%)"


class FinancingEstimate(BaseModel):
    """What one bank would pay at its standing rate: an estimate, not a quote (the bank quotes its own)."""

    financier: AddressStr
    financier_name: str = Field(description="the bank's legal name")
    rate_bps: int = Field(description=BPS_DOC + "; the bank's standing discount rate")
    amount: Fen = Field(description="[fen] the face sold")
    discount: Fen = Field(description="[fen] discount interest: face × rate × days / 360, rounded half up")
    price: Fen = Field(description="[fen] what the supplier would receive: face less discount")
    annual_cost_bps: int = Field(
        description=BPS_DOC + "; the all-in annual cost of the money received: discount / price × 360 / days "
        "(above the rate, since the interest is taken out of the face up front)"
    )


class FinancingEstimates(BaseModel):
    """The financing-cost estimate (融资测算) for an amount due on a date, cheapest bank first."""

    maturity_date: dt.date = Field(description="ISO date (YYYY-MM-DD) the certificate is due")
    days: int = Field(description="[days] from today to maturity, a started day counting whole; 360-day year")
    amount: Fen = Field(description="[fen] the face to sell")
    data: list[FinancingEstimate] = Field(
        description="one row per active bank that set a standing rate, highest price first; empty if none has"
    )


class PayoutDuePublic(BaseModel):
    """A matured payable whose obligor paid in more than its holders have received."""

    slot_id: int
    obligor: AddressStr
    obligor_name: str = Field(description="the core enterprise's legal name")
    maturity_date: dt.date = Field(description="ISO date (YYYY-MM-DD) the payable was due")
    due: Fen = Field(description="[fen] paid in by the obligor and not yet paid out to the holders")
    token_ids: list[int] = Field(
        description="the holders' live certificates: POST them to /v1/operator/payouts (100 a call)"
    )
