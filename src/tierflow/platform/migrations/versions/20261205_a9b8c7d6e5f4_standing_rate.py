"""standing_rate: a financier's standing discount rate in the participant directory

Revision ID: a9b8c7d6e5f4
Revises: e8b2c4d6f1a3
Create Date: 2026-12-05 19:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a9b8c7d6e5f4"
down_revision: str | None = "e8b2c4d6f1a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participant_directory") as batch:
        batch.add_column(sa.Column("standing_rate_bps", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("participant_directory") as batch:
        batch.drop_column("standing_rate_bps")
