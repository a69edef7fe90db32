"""bill_pages: a holder's bill ranges and a bank's or holder's discount requests in id order, read a
keyset page at a time (issue 17)

Revision ID: c3e5a7b9d1f4
Revises: b7e1c3a5d9f2
Create Date: 2026-12-06 04:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "c3e5a7b9d1f4"
down_revision: str | None = "b7e1c3a5d9f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The page after a cursor stops after one page instead of sorting every range or request of the
    # holder or bank, on SQLite and PostgreSQL alike (models/service.py).
    op.create_index("ix_bill_range_holder_range", "bill_range", ["holder", "range_id"], unique=False)
    op.create_index(
        "ix_bill_discount_request_financier_request",
        "bill_discount_request",
        ["financier", "request_id"],
        unique=False,
    )
    op.create_index(
        "ix_bill_discount_request_seller_request",
        "bill_discount_request",
        ["seller", "request_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_bill_discount_request_seller_request", table_name="bill_discount_request")
    op.drop_index("ix_bill_discount_request_financier_request", table_name="bill_discount_request")
    op.drop_index("ix_bill_range_holder_range", table_name="bill_range")
