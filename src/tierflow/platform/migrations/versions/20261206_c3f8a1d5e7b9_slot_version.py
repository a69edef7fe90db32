"""slot_version: the data version of each payable's tree, so that a change to one payable does not
make every cached lineage tree cold (issue 17)

Revision ID: c3f8a1d5e7b9
Revises: c3e5a7b9d1f4
Create Date: 2026-12-06 04:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3f8a1d5e7b9"
down_revision: str | None = "c3e5a7b9d1f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty at first: a slot without a row is read under the checkpoint's data_version (models.indexer).
    op.create_table(
        "slot_version",
        sa.Column("slot_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("slot_id"),
    )


def downgrade() -> None:
    op.drop_table("slot_version")
