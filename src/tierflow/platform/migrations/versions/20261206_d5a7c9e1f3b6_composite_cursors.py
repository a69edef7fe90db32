"""composite_cursors: indexes shaped like the keyset pages by composite key: payouts due by (maturity,
slot), the participant directory by (created_at, address), an uploader's documents by (created_at, id),
a core's upcoming maturities by (obligor, maturity, slot) and its repayments by (obligor, block, log
index) (issue 17)

Revision ID: d5a7c9e1f3b6
Revises: c3f8a1d5e7b9
Create Date: 2026-12-06 06:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "d5a7c9e1f3b6"
down_revision: str | None = "c3f8a1d5e7b9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A page after a cursor stops after one page instead of sorting every row (models/service.py).
    op.create_index("ix_payable_maturity_slot", "payable", ["maturity", "slot_id"], unique=False)
    op.create_index(
        "ix_participant_directory_created_address",
        "participant_directory",
        ["created_at", "address"],
        unique=False,
    )
    op.create_index(
        "ix_document_file_uploader_created_id",
        "document_file",
        ["uploader", "created_at", "document_id"],
        unique=False,
    )
    op.create_index(
        "ix_payable_obligor_maturity_slot", "payable", ["obligor", "maturity", "slot_id"], unique=False
    )
    op.create_index(
        "ix_repayment_obligor_block_log", "repayment", ["obligor", "block_number", "log_index"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_repayment_obligor_block_log", table_name="repayment")
    op.drop_index("ix_payable_obligor_maturity_slot", table_name="payable")
    op.drop_index("ix_document_file_uploader_created_id", table_name="document_file")
    op.drop_index("ix_participant_directory_created_address", table_name="participant_directory")
    op.drop_index("ix_payable_maturity_slot", table_name="payable")
