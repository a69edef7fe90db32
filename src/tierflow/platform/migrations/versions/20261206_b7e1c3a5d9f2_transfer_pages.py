"""transfer_pages: a payable's movements in chain order, a holder's payouts and a supplier's financing
requests newest first, read a keyset page at a time (issue 17)

Revision ID: b7e1c3a5d9f2
Revises: b7e1c3d5f9a2
Create Date: 2026-12-06 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "b7e1c3a5d9f2"
down_revision: str | None = "b7e1c3d5f9a2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The page after a cursor stops after one page of the payable's movements instead of sorting all of
    # them (a 10,000-token tree has over 10,000), on SQLite and PostgreSQL alike (models/service.py).
    op.create_index(
        "ix_certificate_transfer_slot_block_log",
        "certificate_transfer",
        ["slot_id", "block_number", "log_index"],
        unique=False,
    )
    op.create_index(
        "ix_financing_request_seller_request", "financing_request", ["seller", "request_id"], unique=False
    )
    op.create_index(
        "ix_payout_holder_block_log", "payout", ["holder", "block_number", "log_index"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_payout_holder_block_log", table_name="payout")
    op.drop_index("ix_financing_request_seller_request", table_name="financing_request")
    op.drop_index("ix_certificate_transfer_slot_block_log", table_name="certificate_transfer")
