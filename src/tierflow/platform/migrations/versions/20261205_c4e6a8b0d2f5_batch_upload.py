"""batch_upload, batch_upload_file: staged batch uploads and their progress, for every API instance

Revision ID: c4e6a8b0d2f5
Revises: b8d2f4a6c1e3
Create Date: 2026-12-05 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4e6a8b0d2f5"
down_revision: str | None = "b8d2f4a6c1e3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "batch_upload",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("done", sa.BigInteger(), nullable=False),
        sa.Column("runner", sa.String(length=128), nullable=True),
        sa.Column("beat_at", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index(op.f("ix_batch_upload_address"), "batch_upload", ["address"], unique=False)
    op.create_table(
        "batch_upload_file",
        sa.Column("batch_key", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("batch_key", "filename"),
    )


def downgrade() -> None:
    op.drop_table("batch_upload_file")
    op.drop_index(op.f("ix_batch_upload_address"), table_name="batch_upload")
    op.drop_table("batch_upload")
