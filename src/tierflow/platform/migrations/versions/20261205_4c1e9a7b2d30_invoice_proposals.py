"""invoice proposals on payables and bill packages; verification state of stored documents; bill range depth

Revision ID: 4c1e9a7b2d30
Revises: d7a3f0b9c412
Create Date: 2026-12-05 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4c1e9a7b2d30"
down_revision: str | None = "d7a3f0b9c412"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows indexed before this revision get an empty list: reindexing from the deploy block fills them.
    for table in ("payable", "bill_package"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("invoice_hashes", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("document_file") as batch:
        batch.add_column(
            sa.Column("verification", sa.String(length=16), nullable=False, server_default="not_verified")
        )
    with op.batch_alter_table("bill_range") as batch:
        batch.add_column(sa.Column("depth", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("bill_range") as batch:
        batch.drop_column("depth")
    with op.batch_alter_table("document_file") as batch:
        batch.drop_column("verification")
    for table in ("payable", "bill_package"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("invoice_hashes")
