"""recourse_debt: what each seller owes each financier on a recoursed request (owed, collected, remaining)

Revision ID: e6a2b4c8d0f1
Revises: a9b8c7d6e5f4
Create Date: 2026-12-05 19:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tierflow.platform.db

revision: str = "e6a2b4c8d0f1"
down_revision: str | None = "a9b8c7d6e5f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recourse_debt",
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("seller", sa.String(length=42), nullable=False),
        sa.Column("financier", sa.String(length=42), nullable=False),
        sa.Column("owed", tierflow.platform.db.Fen(length=78), nullable=False),
        sa.Column("collected", tierflow.platform.db.Fen(length=78), nullable=False),
        sa.Column("remaining", tierflow.platform.db.Fen(length=78), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    with op.batch_alter_table("recourse_debt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recourse_debt_token_id"), ["token_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_recourse_debt_seller"), ["seller"], unique=False)
        batch_op.create_index(batch_op.f("ix_recourse_debt_financier"), ["financier"], unique=False)
        batch_op.create_index(batch_op.f("ix_recourse_debt_block_number"), ["block_number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recourse_debt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recourse_debt_block_number"))
        batch_op.drop_index(batch_op.f("ix_recourse_debt_financier"))
        batch_op.drop_index(batch_op.f("ix_recourse_debt_seller"))
        batch_op.drop_index(batch_op.f("ix_recourse_debt_token_id"))
    op.drop_table("recourse_debt")
