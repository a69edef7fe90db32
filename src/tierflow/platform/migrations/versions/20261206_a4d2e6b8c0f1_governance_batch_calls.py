"""governance_batch_calls: the calls of a batch proposal, run all or none in one execution (issue 15)

Revision ID: a4d2e6b8c0f1
Revises: f7c3d9e1a2b6
Create Date: 2026-12-06 00:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a4d2e6b8c0f1"
down_revision: str | None = "f7c3d9e1a2b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("governance_proposal") as batch:
        batch.add_column(sa.Column("calls", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("governance_proposal") as batch:
        batch.drop_column("calls")
