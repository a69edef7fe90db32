"""reads at scale: the indexer's data version (cache key of every cached read)

Revision ID: d7a3f0b9c412
Revises: c3a9d4f1e7b2
Create Date: 2026-12-05 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d7a3f0b9c412"
down_revision: str | None = "c3a9d4f1e7b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # 0 for an existing row: the first window with events moves it on (indexer.runner.next_version).
    with op.batch_alter_table("indexer_checkpoint") as batch:
        batch.add_column(sa.Column("data_version", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("indexer_checkpoint") as batch:
        batch.drop_column("data_version")
