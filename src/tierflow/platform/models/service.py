"""Service-side tables of the API (not derived from events): directory, API keys, documents, idempotency.

These rows are the platform's own records, so the indexer never rolls them back on a reorg; the chain
stays the authority on roles and status (the directory mirrors them for authentication and display).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, LargeBinary, String, Text, literal_column
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

from tierflow.platform.models._fields import addr, big, fen, hash32, text
from tierflow.platform.models.bills import BillRange
from tierflow.platform.models.financing import FinancingRequest
from tierflow.platform.models.receivables import Certificate, CertificateTransfer, Payable, Payout, Repayment
from tierflow.platform.models.staff import STAFF_TABLES


class DirectoryParticipant(SQLModel, table=True):
    """A participant as the platform knows it after KYB: legal identity and contact stay here, off chain."""

    __tablename__ = "participant_directory"

    address: str = addr(primary_key=True)
    legal_name: str = text(200)
    legal_id: str = Field(sa_type=String(64), unique=True, index=True)  # 统一社会信用代码
    contact: str = text(200, default="")
    roles: int = big()  # on-chain role bits; 0 for the operator, whose power is OPERATOR_ROLE
    is_operator: bool = False
    # active | suspended (mirrors the registry) | pending: `register` was sent but its receipt timed
    # out; no API key yet (an idempotent retry, or the indexed registration, settles it).
    status: str = text(16, default="active")
    custody: str = text(16)  # custodial | self
    # AES-GCM sealed private key (associated data: the address); None for self-custody participants.
    encrypted_key: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    entity_hash: str = hash32()
    created_at: int = big()  # [unix s]
    # A financier's standing annual discount rate [bps], set on its dashboard: what its suppliers'
    # financing-cost estimate (融资测算) prices at before they ask; None until the bank sets one.
    standing_rate_bps: int | None = big(nullable=True)


class ApiKey(SQLModel, table=True):
    """One API key of a participant; only the SHA-256 of its secret is stored. Revoked keys stay for audit."""

    __tablename__ = "api_key"

    key_id: str = Field(sa_type=String(16), primary_key=True)
    address: str = addr(index=True)
    key_hash: str = Field(sa_type=String(64))
    label: str = text(64, default="")
    created_at: int = big()
    revoked_at: int | None = big(nullable=True)
    # The staff user the key belongs to (keys from before staff users were migrated to a company admin).
    user_id: int | None = big(nullable=True, index=True)
    scopes: str = text(32, default="read,write")  # read | read,write
    expires_at: int | None = big(nullable=True)  # [unix s]


class StoredDocument(SQLModel, table=True):
    """An uploaded backing document, AES-GCM encrypted; `doc_hash` is what goes on chain for invoices."""

    __tablename__ = "document_file"

    document_id: str = Field(sa_type=String(32), primary_key=True)
    uploader: str = addr(index=True)
    kind: str = text(16)  # invoice | contract | delivery | other
    invoice_number: str | None = Field(default=None, sa_type=String(64), nullable=True)
    seller: str | None = addr(nullable=True)
    filename: str = text(200)
    content_type: str = text(100)
    size: int = big()
    sha256: str = Field(sa_type=String(64))  # of the plaintext file bytes
    doc_hash: str = hash32(index=True)
    # "verified": the file's own invoice number (and seller, amount where present) matched what the
    # upload claimed; "not_verified": a format we cannot read (a scan, an image) — shown to the bank.
    verification: str = text(16, default="not_verified")
    slot_id: int | None = big(nullable=True, index=True)  # the payable it backs, once issued
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: int = big()


class IdempotencyRecord(SQLModel, table=True):
    """The first response to a POST carrying an Idempotency-Key, replayed for every retry of it."""

    __tablename__ = "idempotency_record"
    # The records without their answer yet (a few, however many batches ran): what the sweep at service
    # start reads (services/batch_sweep.py), where it scanned every answer ever stored.
    __table_args__ = (
        Index(
            "ix_idempotency_record_unanswered", "created_at",
            postgresql_where=sql_text("state <> 'done'"), sqlite_where=sql_text("state <> 'done'"),
        ),
    )  # fmt: skip

    address: str = addr(primary_key=True)
    # Byte order on PostgreSQL ("C"): a batch's rows are read by key prefix (`idempotency.with_prefix`), a
    # range that the primary key serves only in an order where the prefix's keys lie together; under a
    # language collation (en_US) punctuation hardly counts, so the range would be wrong and LIKE scans every
    # record of the company (7.5 ms at 100,000, on every batch submitted and every status read). Keys are
    # ASCII; SQLite compares bytes already.
    key: str = Field(
        sa_type=String(128).with_variant(String(128, collation="C"), "postgresql"), primary_key=True
    )
    fingerprint: str = Field(sa_type=String(64))  # SHA-256 of method, path and canonical body
    state: str = text(16)  # pending | sent (transaction out, outcome unknown) | done
    status_code: int | None = big(nullable=True)
    body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    tx_hash: str | None = hash32(nullable=True)  # of the transaction a "sent" record waits for
    # which forward request in it was this one's when the transaction is a signer's batch (its forwarder
    # nonce): several keys' writes share one batch transaction; None for a transaction of one request
    request_nonce: int | None = big(nullable=True)
    # the block a `done` answer's transaction was mined in (with tx_hash and request_nonce): when the
    # chain drops that block the indexer sets the record back to `sent` (indexer/answers.py), so a retry
    # learns what the chain holds now instead of replaying "done"; None for answers without a transaction
    block_number: int | None = big(nullable=True, index=True)
    created_at: int = big()
    # The forward request a batch row signed, stored before it was sent (services/batch_recovery.py): a
    # row whose process died before its answer is settled from the chain by these, never sent twice.
    request_signer: str | None = addr(nullable=True)
    forward_nonce: int | None = big(nullable=True)  # its forwarder nonce
    request_digest: str | None = hash32(nullable=True)  # its EIP-712 digest
    request_deadline: int | None = big(nullable=True)  # [unix s, chain time] it can never run after


class DashboardSession(SQLModel, table=True):
    """A dashboard sign-in. The cookie names it; signing out (or revoking its key) ends it here, so a
    copied cookie stops working at once instead of living until it expires."""

    __tablename__ = "dashboard_session"

    session_id: str = Field(sa_type=String(32), primary_key=True)  # random, 128 bits hex
    address: str = addr(index=True)
    key_id: str = Field(sa_type=String(16), index=True)  # the API key it was opened with
    created_at: int = big()  # [unix s]
    revoked_at: int | None = big(nullable=True)


SERVICE_TABLES = [
    DirectoryParticipant, ApiKey, StoredDocument, IdempotencyRecord, DashboardSession, *STAFF_TABLES
]  # fmt: skip

# Indexes the API's hot reads need on the indexer's read models (declared here so the metadata, and
# any autogenerated migration, knows them), shaped like the keyset pages of services.queries: a
# holder's certificates in id order stop after one page instead of sorting every holding, and carry
# the status so that a live-only page is filtered without visiting the table; a payable's tree and an
# obligor's payables in id order (lineage and auditor pages); a bank's queue by status is counted from
# the index alone.
_certificates = Certificate.__table__  # type: ignore[attr-defined]
_requests = FinancingRequest.__table__  # type: ignore[attr-defined]
_payables = Payable.__table__  # type: ignore[attr-defined]
_transfers = CertificateTransfer.__table__  # type: ignore[attr-defined]
_payouts = Payout.__table__  # type: ignore[attr-defined]
_ranges = BillRange.__table__  # type: ignore[attr-defined]
API_INDEXES = [
    Index(
        "ix_certificate_holder_token_status",
        _certificates.c.holder,
        _certificates.c.token_id,
        _certificates.c.status,
    ),
    Index("ix_certificate_slot_token", _certificates.c.slot_id, _certificates.c.token_id),
    Index("ix_payable_obligor_slot", _payables.c.obligor, _payables.c.slot_id),
    # An obligor's (the core's list) and a supplier's (its incoming list) payables of one status in id
    # order: a page is one seek, whatever the statistics say about the status (no index leads with it).
    Index("ix_payable_obligor_status_slot", _payables.c.obligor, _payables.c.status, _payables.c.slot_id),
    Index("ix_payable_supplier_status_slot", _payables.c.supplier, _payables.c.status, _payables.c.slot_id),
    Index("ix_certificate_holder_status", _certificates.c.holder, _certificates.c.status),
    Index(
        "ix_financing_request_financier_status",
        _requests.c.financier,
        _requests.c.status,
        _requests.c.request_id,
    ),
    # A supplier's own financing requests, newest first (keyset pages of /v1/supplier/financing-requests).
    Index("ix_financing_request_seller_request", _requests.c.seller, _requests.c.request_id),
    # A supplier's funded requests newest first (its statement on the dashboard, dashboard.queries); only
    # those with a funding block (a parameter-free predicate: a generic plan may use it too).
    Index(
        "ix_financing_request_seller_funded",
        _requests.c.seller,
        _requests.c.funded_block,
        _requests.c.request_id,
        postgresql_where=_requests.c.funded_block.is_not(None),
        sqlite_where=_requests.c.funded_block.is_not(None),
    ),
    # A holder's payouts, newest first (keyset pages of /v1/payouts).
    Index("ix_payout_holder_block_log", _payouts.c.holder, _payouts.c.block_number, _payouts.c.log_index),
    # A payable's movements in chain order (keyset pages of /v1/payables/{id}/transfers).
    Index(
        "ix_certificate_transfer_slot_block_log",
        _transfers.c.slot_id,
        _transfers.c.block_number,
        _transfers.c.log_index,
    ),
    # A holder's bill ranges in id order (keyset pages of /v1/bills/holdings and the bills page).
    Index("ix_bill_range_holder_range", _ranges.c.holder, _ranges.c.range_id),
    # Keyset pages by composite key (services.keyset.composite_rows): the operator's payouts due by
    # (maturity, slot), the participant directory by (created_at, address), an uploader's documents by
    # (created_at, id); the core's page: its upcoming maturities by (maturity, slot), its repayments
    # newest first by (block, log index).
    Index("ix_payable_maturity_slot", _payables.c.maturity, _payables.c.slot_id),
    # Payables with money paid in and not yet out, by (maturity, slot): the operator's payouts due and a
    # holder's claimable positions read these few, never every payable that matured and was paid out.
    # Partial, so that no statistics decide it (its predicate is the queries' own condition, no parameter).
    Index(
        "ix_payable_unpaid_maturity",
        _payables.c.maturity,
        _payables.c.slot_id,
        postgresql_where=_payables.c.paid_in > _payables.c.paid_out,
        sqlite_where=_payables.c.paid_in > _payables.c.paid_out,
    ),
    # Accepted payables by maturity: the operator's defaultable payables (matured past the grace period)
    # oldest first, without visiting every payable repaid before them. Partial on the status the query
    # names as a literal, so that a generic plan may use it too (and SQLite at all).
    Index(
        "ix_payable_accepted_maturity",
        _payables.c.maturity,
        postgresql_where=_payables.c.status == literal_column("'Accepted'"),
        sqlite_where=_payables.c.status == literal_column("'Accepted'"),
    ),
    Index("ix_payable_obligor_maturity_slot", _payables.c.obligor, _payables.c.maturity, _payables.c.slot_id),
    Index(
        "ix_repayment_obligor_block_log",
        Repayment.__table__.c.obligor,  # type: ignore[attr-defined]
        Repayment.__table__.c.block_number,  # type: ignore[attr-defined]
        Repayment.__table__.c.log_index,  # type: ignore[attr-defined]
    ),
    Index(
        "ix_participant_directory_created_address",
        DirectoryParticipant.__table__.c.created_at,  # type: ignore[attr-defined]
        DirectoryParticipant.__table__.c.address,  # type: ignore[attr-defined]
    ),
    Index(
        "ix_document_file_uploader_created_id",
        StoredDocument.__table__.c.uploader,  # type: ignore[attr-defined]
        StoredDocument.__table__.c.created_at,  # type: ignore[attr-defined]
        StoredDocument.__table__.c.document_id,  # type: ignore[attr-defined]
    ),
]


class BillDiscountRequest(SQLModel, table=True):
    """A holder's request that a bank quote a discount on (part of) a bill range; off chain only.

    The contract has no request step (a bank quotes any Held range directly): this row is the bank's
    discount queue. Its quote, acceptance and the range's fate are read from the bill read models.
    """

    __tablename__ = "bill_discount_request"
    # A bank's queue and a holder's own requests in id order (keyset pages of /v1/bills/discount-*).
    __table_args__ = (
        Index("ix_bill_discount_request_financier_request", "financier", "request_id"),
        Index("ix_bill_discount_request_seller_request", "seller", "request_id"),
    )

    request_id: int | None = Field(default=None, primary_key=True)  # INTEGER: SQLite autoincrements only that
    range_id: int = big(index=True)
    package_id: int = big()
    seller: str = addr(index=True)
    financier: str = addr(index=True)
    start: int = fen()
    end: int = fen()
    status: str = text(16)  # open | quoted | withdrawn
    quote_id: int | None = big(nullable=True)
    created_at: int = big()


class ChainLease(SQLModel, table=True):
    """Which API instance may sign with an account, or drive a custodial signer's forwarder nonces, now.

    See tierflow.platform.services.instances: relayer accounts are leased for an instance's life,
    signers' pipelines while they have writes in flight, the operator's account per transaction.
    """

    __tablename__ = "chain_lease"

    name: str = Field(sa_type=String(80), primary_key=True)  # account:0x… | forwarder:0x… | instance
    holder: str = text(128)  # host:pid:random of the instance
    acquired_at: int = big()  # [unix ms]
    expires_at: int = big()  # [unix ms] another instance may take it over after this


class BatchUpload(SQLModel, table=True):
    """A checked batch upload and its progress, so that any API instance can confirm, show or continue it.

    See tierflow.platform.services.batch_state: staged (waiting for its Confirm, with the file),
    running (`runner` sends its rows, `beat_at` moves with each row), finished (`result` is stored).
    """

    __tablename__ = "batch_upload"

    key: str = Field(sa_type=String(64), primary_key=True)  # batch_issue.batch_key
    address: str = addr(index=True)  # the core enterprise that uploaded it
    filename: str = text(255)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    state: str = text(16)  # staged | running | finished
    total: int = big()  # rows
    done: int = big(default=0)  # rows answered so far
    runner: str | None = Field(default=None, sa_type=String(128), nullable=True)  # host:pid:random
    beat_at: int = big(default=0)  # [unix s] the runner's last sign of life
    result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # BatchResult JSON
    created_at: int = big()  # [unix s]


class BatchUploadFile(SQLModel, table=True):
    """An invoice file attached to a staged batch upload (the rows name it)."""

    __tablename__ = "batch_upload_file"

    batch_key: str = Field(sa_type=String(64), primary_key=True)
    filename: str = Field(sa_type=String(255), primary_key=True)
    content_type: str = text(128)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
