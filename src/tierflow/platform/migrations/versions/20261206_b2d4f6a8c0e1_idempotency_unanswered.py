"""idempotency records without their answer are indexed on their own (a partial index)

The sweep at service start settles the batch rows a stopped run left unanswered
(services/batch_sweep.py); it reads only these, however many answers are stored.

Revision ID: b2d4f6a8c0e1
Revises: f7a9c1e3b5d8
Create Date: 2026-12-06 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b2d4f6a8c0e1"
down_revision: str | None = "f7a9c1e3b5d8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    unanswered = sa.text("state <> 'done'")
    op.create_index(
        "ix_idempotency_record_unanswered", "idempotency_record", ["created_at"],
        postgresql_where=unanswered, sqlite_where=unanswered,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_idempotency_record_unanswered", table_name="idempotency_record")
