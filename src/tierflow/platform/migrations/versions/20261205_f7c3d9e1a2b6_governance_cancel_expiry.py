"""governance_cancel_expiry: a proposal's deadline, its cancel votes and who cancelled it (issue 15)

Revision ID: f7c3d9e1a2b6
Revises: c4e6a8b0d2f5
Create Date: 2026-12-05 21:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f7c3d9e1a2b6"
down_revision: str | None = "c4e6a8b0d2f5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("governance_proposal") as batch:
        batch.add_column(sa.Column("deadline", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("cancels", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("cancelled_by", sa.String(length=42), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("governance_proposal") as batch:
        batch.drop_column("cancelled_by")
        batch.drop_column("cancels")
        batch.drop_column("deadline")
