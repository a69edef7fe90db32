"""Service-side tables of the API (not derived from events): directory, API keys, documents, idempotency.

These rows are the platform's own records, so the indexer never rolls them back on a reorg; the chain
stays the authority on roles and status (the directory mirrors them for authentication and display).
"""

from __future__ import annotations

from sqlalchemy import Column, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from tierflow.platform.models._fields import addr, big, hash32, text


class DirectoryParticipant(SQLModel, table=True):
    """A participant as the platform knows it after KYB: legal identity and contact stay here, off chain."""

    __tablename__ = "participant_directory"

    address: str = addr(primary_key=True)
    legal_name: str = text(200)
    legal_id: str = Field(sa_type=String(64), unique=True, index=True)  # 统一社会信用代码
    contact: str = text(200, default="")
    roles: int = big()  # on-chain role bits; 0 for the operator, whose power is OPERATOR_ROLE
    is_operator: bool = False
    status: str = text(16, default="active")  # active | suspended (mirrors the registry)
    custody: str = text(16)  # custodial | self
    # AES-GCM sealed private key (associated data: the address); None for self-custody participants.
    encrypted_key: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    entity_hash: str = hash32()
    created_at: int = big()  # [unix s]


class ApiKey(SQLModel, table=True):
    """One API key of a participant; only the SHA-256 of its secret is stored. Revoked keys stay for audit."""

    __tablename__ = "api_key"

    key_id: str = Field(sa_type=String(16), primary_key=True)
    address: str = addr(index=True)
    key_hash: str = Field(sa_type=String(64))
    label: str = text(64, default="")
    created_at: int = big()
    revoked_at: int | None = big(nullable=True)


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
    slot_id: int | None = big(nullable=True, index=True)  # the payable it backs, once issued
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: int = big()


class IdempotencyRecord(SQLModel, table=True):
    """The first response to a POST carrying an Idempotency-Key, replayed for every retry of it."""

    __tablename__ = "idempotency_record"

    address: str = addr(primary_key=True)
    key: str = Field(sa_type=String(128), primary_key=True)
    fingerprint: str = Field(sa_type=String(64))  # SHA-256 of method, path and canonical body
    state: str = text(16)  # pending | done
    status_code: int | None = big(nullable=True)
    body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: int = big()


SERVICE_TABLES = [DirectoryParticipant, ApiKey, StoredDocument, IdempotencyRecord]
