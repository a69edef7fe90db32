"""idempotency records keep the forward request a batch row signed, stored before it is sent

A row whose process died between sending and storing its answer is settled from the chain by its
signer, forwarder nonce, request digest and deadline (services/batch_recovery.py).

Revision ID: f7a9c1e3b5d8
Revises: e4b6d8f0a2c3
Create Date: 2026-12-06 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f7a9c1e3b5d8"
down_revision: str | None = "e4b6d8f0a2c3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_record") as batch:
        batch.add_column(sa.Column("request_signer", sa.String(42), nullable=True))
        batch.add_column(sa.Column("forward_nonce", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("request_digest", sa.String(66), nullable=True))
        batch.add_column(sa.Column("request_deadline", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_record") as batch:
        batch.drop_column("request_deadline")
        batch.drop_column("request_digest")
        batch.drop_column("forward_nonce")
        batch.drop_column("request_signer")
