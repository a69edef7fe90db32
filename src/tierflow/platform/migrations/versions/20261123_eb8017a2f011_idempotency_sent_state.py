"""idempotency records remember a sent transaction whose outcome is unknown (state "sent", tx_hash)

Revision ID: eb8017a2f011
Revises: b1d15c0a7e01
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "eb8017a2f011"
down_revision: str | None = "b1d15c0a7e01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_record") as batch:
        batch.add_column(sa.Column("tx_hash", sa.String(length=66), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_record") as batch:
        batch.drop_column("tx_hash")
