"""idempotency records name the block their answer's transaction was mined in (block_number)

An answered write whose block the chain later drops (a reorg, a node restarted from an older state) must
not be replayed as done: the indexer finds its record by block number and sets it back to `sent`.

Revision ID: e4b6d8f0a2c3
Revises: d2a4c6e8f0b1
Create Date: 2026-12-06 09:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e4b6d8f0a2c3"
down_revision: str | None = "d2a4c6e8f0b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_record") as batch:
        batch.add_column(sa.Column("block_number", sa.BigInteger(), nullable=True))
        batch.create_index("ix_idempotency_record_block_number", ["block_number"])


def downgrade() -> None:
    with op.batch_alter_table("idempotency_record") as batch:
        batch.drop_index("ix_idempotency_record_block_number")
        batch.drop_column("block_number")
