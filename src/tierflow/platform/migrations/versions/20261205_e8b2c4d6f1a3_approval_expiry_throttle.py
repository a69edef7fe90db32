"""approval_settings (how long a company's approvals wait) and the audit trail's (ip, at) index for the
per-address limit of failed sign-ins

Revision ID: e8b2c4d6f1a3
Revises: d5e1f0a2b3c4
Create Date: 2026-12-05 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e8b2c4d6f1a3"
down_revision: str | None = "d5e1f0a2b3c4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "approval_settings",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("expiry_seconds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_index("ix_audit_entry_ip_at", "audit_entry", ["ip", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_entry_ip_at", table_name="audit_entry")
    op.drop_table("approval_settings")
