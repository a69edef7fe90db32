"""certificate.tier: each certificate's supplier tier, kept by the indexer with the events that change it,
so that lineage reads no longer walk a tree (issue 17); filled here by the same walk for existing rows

Revision ID: d2a4c6e8f0b1
Revises: d5a7c9e1f3b6
Create Date: 2026-12-06 06:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tierflow.platform.indexer import tiers

revision: str = "d2a4c6e8f0b1"
down_revision: str | None = "d5a7c9e1f3b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("certificate", sa.Column("tier", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_certificate_transfer_token_kind", "certificate_transfer", ["token_id", "kind", "new_token_id"]
    )
    # The walk the readers did (indexer.tiers.walk), once per payable, in this transaction.
    tiers.fill(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_certificate_transfer_token_kind", table_name="certificate_transfer")
    with op.batch_alter_table("certificate", schema=None) as batch_op:  # SQLite drops by copying
        batch_op.drop_column("tier")
