"""governance_proposals: the governors' council's proposals and their steps (issue 15)

Revision ID: e9b4c2d1a0f7
Revises: e6a2b4c8d0f1
Create Date: 2026-12-05 19:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e9b4c2d1a0f7"
down_revision: str | None = "e6a2b4c8d0f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "governance_proposal",
        sa.Column("proposal_id", sa.BigInteger(), nullable=False),
        sa.Column("proposer", sa.String(length=42), nullable=False),
        sa.Column("target", sa.String(length=42), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("description_hash", sa.String(length=66), nullable=False),
        sa.Column("approvals", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("eta", sa.BigInteger(), nullable=True),
        sa.Column("executed_by", sa.String(length=42), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("proposal_id"),
    )
    op.create_index("ix_governance_proposal_proposer", "governance_proposal", ["proposer"])
    op.create_index("ix_governance_proposal_target", "governance_proposal", ["target"])
    op.create_index("ix_governance_proposal_block_number", "governance_proposal", ["block_number"])
    op.create_table(
        "governance_step",
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("proposal_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=42), nullable=True),
        sa.Column("approvals", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index"),
    )
    op.create_index("ix_governance_step_proposal_id", "governance_step", ["proposal_id"])


def downgrade() -> None:
    op.drop_index("ix_governance_step_proposal_id", table_name="governance_step")
    op.drop_table("governance_step")
    op.drop_index("ix_governance_proposal_block_number", table_name="governance_proposal")
    op.drop_index("ix_governance_proposal_target", table_name="governance_proposal")
    op.drop_index("ix_governance_proposal_proposer", table_name="governance_proposal")
    op.drop_table("governance_proposal")
