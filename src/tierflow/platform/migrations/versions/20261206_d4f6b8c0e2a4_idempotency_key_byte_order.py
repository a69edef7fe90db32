"""idempotency_record.key in byte order on PostgreSQL (collation "C")

A batch's rows are read by key prefix (`services/idempotency.py` `with_prefix`): in byte order the
primary key (address, key) serves the range; under a language collation LIKE read every record of the
company. SQLite compares bytes already: nothing to change there.

Revision ID: d4f6b8c0e2a4
Revises: a8d2f4b6c0e3
Create Date: 2026-12-06 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4f6b8c0e2a4"
down_revision: str | None = "a8d2f4b6c0e3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _collate(collation: str | None) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column(
        "idempotency_record", "key", type_=sa.String(128, collation=collation),
        existing_type=sa.String(128), existing_nullable=False,
    )  # fmt: skip


def upgrade() -> None:
    _collate("C")  # rebuilds the primary key's index in the new order


def downgrade() -> None:
    _collate("default")
