"""asset-level controls (issue 15): judicial holds on certificates and bill ranges, and the history of
every control (freeze, release, escrow, forced transfer, key recovery)

Revision ID: f3a1c5e7b9d2
Revises: e9b4c2d1a0f7
Create Date: 2026-12-05 19:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tierflow.platform.db import Fen

revision: str = "f3a1c5e7b9d2"
down_revision: str | None = "e9b4c2d1a0f7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "asset_hold",
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("asset_id", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=False),
        sa.Column("value", Fen(), nullable=False),
        sa.Column("reason_hash", sa.String(length=66), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("escrowed", Fen(), nullable=False),
        sa.Column("released", Fen(), nullable=False),
        sa.Column("release_hash", sa.String(length=66), nullable=True),
        sa.Column("frozen_block", sa.BigInteger(), nullable=False),
        sa.Column("frozen_at", sa.BigInteger(), nullable=True),
        sa.Column("released_block", sa.BigInteger(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("asset", "asset_id"),
    )
    op.create_index("ix_asset_hold_holder", "asset_hold", ["holder"])
    op.create_index("ix_asset_hold_status", "asset_hold", ["status"])
    op.create_index("ix_asset_hold_block_number", "asset_hold", ["block_number"])
    op.create_table(
        "asset_control",
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("asset_id", sa.BigInteger(), nullable=True),
        sa.Column("new_asset_id", sa.BigInteger(), nullable=True),
        sa.Column("from_address", sa.String(length=42), nullable=True),
        sa.Column("to_address", sa.String(length=42), nullable=True),
        sa.Column("value", Fen(), nullable=True),
        sa.Column("reason_hash", sa.String(length=66), nullable=True),
        sa.Column("actor", sa.String(length=42), nullable=True),
        sa.PrimaryKeyConstraint("block_number", "log_index"),
    )
    op.create_index("ix_asset_control_kind", "asset_control", ["kind"])
    op.create_index("ix_asset_control_asset_id", "asset_control", ["asset_id"])
    op.create_index("ix_asset_control_from_address", "asset_control", ["from_address"])
    op.create_index("ix_asset_control_to_address", "asset_control", ["to_address"])


def downgrade() -> None:
    op.drop_table("asset_control")
    op.drop_table("asset_hold")
