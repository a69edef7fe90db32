"""reads at scale: the indexer's data version (cache key of every cached read), keyset-page indexes,
summary tables (positions, funded requests by rate)

Revision ID: d7a3f0b9c412
Revises: d4e5f6a7b8c9
Create Date: 2026-12-05 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tierflow.platform.db import Fen

revision: str = "d7a3f0b9c412"
down_revision: str | None = "d4e5f6a7b8c9"
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
    op.create_table(
        "position",
        sa.Column("holder", sa.String(length=42), nullable=False),
        sa.Column("slot_id", sa.BigInteger(), nullable=False),
        sa.Column("depth", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("value", Fen(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("holder", "slot_id", "depth"),
    )
    op.create_index("ix_position_slot_id", "position", ["slot_id"])
    op.create_index("ix_position_block_number", "position", ["block_number"])
    op.create_table(
        "funded_summary",
        sa.Column("financier", sa.String(length=42), nullable=False),
        sa.Column("rate_bps", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("amount", Fen(), nullable=False),
        sa.Column("price", Fen(), nullable=False),
        sa.Column("discount", Fen(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("financier", "rate_bps"),
    )
    op.create_index("ix_funded_summary_block_number", "funded_summary", ["block_number"])
    _backfill()


def _backfill() -> None:
    """Sum the rows already indexed into the new summary tables (block 0: older than any rollback)."""
    from tierflow.platform.indexer import summary

    summary.rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_table("funded_summary")
    op.drop_table("position")
    op.create_index("ix_certificate_holder_token", "certificate", ["holder", "token_id"])
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("indexer_checkpoint") as batch:
        batch.drop_column("data_version")
