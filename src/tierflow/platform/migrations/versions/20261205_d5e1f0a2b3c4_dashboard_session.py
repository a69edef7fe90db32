"""dashboard_session: server-side dashboard sessions, ended at sign-out

Revision ID: d5e1f0a2b3c4
Revises: 4c1e9a7b2d30
Create Date: 2026-12-05 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d5e1f0a2b3c4"
down_revision: str | None = "4c1e9a7b2d30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_session",
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_index("ix_dashboard_session_address", "dashboard_session", ["address"])
    op.create_index("ix_dashboard_session_key_id", "dashboard_session", ["key_id"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_session_key_id", table_name="dashboard_session")
    op.drop_index("ix_dashboard_session_address", table_name="dashboard_session")
    op.drop_table("dashboard_session")
