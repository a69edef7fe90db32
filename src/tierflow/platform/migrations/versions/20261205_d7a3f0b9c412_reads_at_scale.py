"""reads at scale: the indexer's data version (cache key of every cached read), keyset-page indexes

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

# Shaped like the keyset pages of services.queries (see models.service.API_INDEXES); the new holder
# index replaces ix_certificate_holder_token (holder, token_id), a prefix of it.
INDEXES = [
    ("ix_certificate_holder_token_status", "certificate", ["holder", "token_id", "status"]),
    ("ix_certificate_slot_token", "certificate", ["slot_id", "token_id"]),
    ("ix_payable_obligor_slot", "payable", ["obligor", "slot_id"]),
]


def upgrade() -> None:
    # 0 for an existing row: the first window with events moves it on (indexer.runner.next_version).
    with op.batch_alter_table("indexer_checkpoint") as batch:
        batch.add_column(sa.Column("data_version", sa.BigInteger(), nullable=False, server_default="0"))
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    op.drop_index("ix_certificate_holder_token", table_name="certificate")


def downgrade() -> None:
    op.create_index("ix_certificate_holder_token", "certificate", ["holder", "token_id"])
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("indexer_checkpoint") as batch:
        batch.drop_column("data_version")
