"""api service tables: participant directory, API keys, encrypted documents, idempotency records

Revision ID: 5e7a1c0de4a1
Revises: af74fc9dfe95
Create Date: 2026-11-22 22:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e7a1c0de4a1"
down_revision: str | None = "af74fc9dfe95"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "participant_directory",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("legal_id", sa.String(length=64), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.BigInteger(), nullable=False),
        sa.Column("is_operator", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("custody", sa.String(length=16), nullable=False),
        sa.Column("encrypted_key", sa.LargeBinary(), nullable=True),
        sa.Column("entity_hash", sa.String(length=66), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_index("ix_participant_directory_legal_id", "participant_directory", ["legal_id"], unique=True)
    op.create_table(
        "api_key",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_index("ix_api_key_address", "api_key", ["address"], unique=False)
    op.create_table(
        "document_file",
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("uploader", sa.String(length=42), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("invoice_number", sa.String(length=64), nullable=True),
        sa.Column("seller", sa.String(length=42), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("doc_hash", sa.String(length=66), nullable=False),
        sa.Column("slot_id", sa.BigInteger(), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("document_id"),
    )
    op.create_index("ix_document_file_uploader", "document_file", ["uploader"], unique=False)
    op.create_index("ix_document_file_doc_hash", "document_file", ["doc_hash"], unique=False)
    op.create_index("ix_document_file_slot_id", "document_file", ["slot_id"], unique=False)
    op.create_table(
        "idempotency_record",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.BigInteger(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("address", "key"),
    )
    # The API's hot reads on the indexer's read models (see models/service.py).
    op.create_index("ix_certificate_holder_token", "certificate", ["holder", "token_id"], unique=False)
    op.create_index("ix_certificate_holder_status", "certificate", ["holder", "status"], unique=False)
    op.create_index(
        "ix_financing_request_financier_status",
        "financing_request",
        ["financier", "status", "request_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_financing_request_financier_status", table_name="financing_request")
    op.drop_index("ix_certificate_holder_status", table_name="certificate")
    op.drop_index("ix_certificate_holder_token", table_name="certificate")
    op.drop_table("idempotency_record")
    op.drop_index("ix_document_file_slot_id", table_name="document_file")
    op.drop_index("ix_document_file_doc_hash", table_name="document_file")
    op.drop_index("ix_document_file_uploader", table_name="document_file")
    op.drop_table("document_file")
    op.drop_index("ix_api_key_address", table_name="api_key")
    op.drop_table("api_key")
    op.drop_index("ix_participant_directory_legal_id", table_name="participant_directory")
    op.drop_table("participant_directory")
