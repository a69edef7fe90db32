"""idempotency records name their forward request inside a batch transaction (request_nonce)

A signer's queued writes go out in one executeOrVoidBatch transaction, so several keys' "sent" records
share a tx_hash; the forwarder nonce tells which request in it was each key's.

Revision ID: b7e1c3d5f9a2
Revises: a4d2e6b8c0f1
Create Date: 2026-12-06 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e1c3d5f9a2"
down_revision: str | None = "a4d2e6b8c0f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_record") as batch:
        batch.add_column(sa.Column("request_nonce", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_record") as batch:
        batch.drop_column("request_nonce")
