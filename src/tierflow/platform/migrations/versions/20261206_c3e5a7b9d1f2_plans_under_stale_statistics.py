"""indexes that keep hot reads on an index seek whatever PostgreSQL's statistics say

The payables with money paid in and not yet out, by (maturity, slot): the operator's payouts due read
these instead of every payable that ever matured (a partial index: its predicate is the query's own
condition, so neither a stale estimate nor a generic plan can turn it into a scan). A supplier's funded
financing requests by (funding block, request): its statement reads a page of them, newest first,
instead of sorting all it ever funded. Payables by (status, maturity): the operator's defaultable
payables (Accepted, matured past the grace period) without visiting every payable repaid before them;
it replaces the index of the status alone (its leading column serves those reads). An obligor's
payables of one status by id: the API's list of them and its count seek instead of reading every payable
of that status.

Revision ID: c3e5a7b9d1f2
Revises: b2d4f6a8c0e1
Create Date: 2026-12-06 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3e5a7b9d1f2"
down_revision: str | None = "b2d4f6a8c0e1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    unpaid = sa.text("paid_in > paid_out")
    op.create_index(
        "ix_payable_unpaid_maturity", "payable", ["maturity", "slot_id"],
        postgresql_where=unpaid, sqlite_where=unpaid,
    )  # fmt: skip
    funded = sa.text("funded_block IS NOT NULL")
    op.create_index(
        "ix_financing_request_seller_funded", "financing_request", ["seller", "funded_block", "request_id"],
        postgresql_where=funded, sqlite_where=funded,
    )  # fmt: skip
    op.create_index("ix_payable_status_maturity", "payable", ["status", "maturity"])
    op.drop_index("ix_payable_status", table_name="payable")
    op.create_index("ix_payable_obligor_status_slot", "payable", ["obligor", "status", "slot_id"])


def downgrade() -> None:
    op.drop_index("ix_payable_obligor_status_slot", table_name="payable")
    op.create_index("ix_payable_status", "payable", ["status"])
    op.drop_index("ix_payable_status_maturity", table_name="payable")
    op.drop_index("ix_financing_request_seller_funded", table_name="financing_request")
    op.drop_index("ix_payable_unpaid_maturity", table_name="payable")
