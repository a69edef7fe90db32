"""bill discount requests: the banks' bill discount queue (off chain)

Revision ID: b1d15c0a7e01
Revises: 5e7a1c0de4a1
Create Date: 2026-11-22 23:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tierflow.platform.db

revision: str = "b1d15c0a7e01"
down_revision: str | None = "5e7a1c0de4a1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bill_discount_request",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("range_id", sa.BigInteger(), nullable=False),
        sa.Column("package_id", sa.BigInteger(), nullable=False),
        sa.Column("seller", sa.String(length=42), nullable=False),
        sa.Column("financier", sa.String(length=42), nullable=False),
        sa.Column("start", tierflow.platform.db.Fen(length=78), nullable=False),
        sa.Column("end", tierflow.platform.db.Fen(length=78), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("quote_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_index("ix_bill_discount_request_range_id", "bill_discount_request", ["range_id"])
    op.create_index("ix_bill_discount_request_seller", "bill_discount_request", ["seller"])
    op.create_index("ix_bill_discount_request_financier", "bill_discount_request", ["financier"])


def downgrade() -> None:
    op.drop_table("bill_discount_request")
