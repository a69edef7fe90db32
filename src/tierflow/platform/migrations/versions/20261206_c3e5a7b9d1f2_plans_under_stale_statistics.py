"""indexes that keep hot reads on an index seek whatever PostgreSQL's statistics say

The payables with money paid in and not yet out, by (maturity, slot): the operator's payouts due read
these instead of every payable that ever matured (a partial index: its predicate is the query's own
condition, so neither a stale estimate nor a generic plan can turn it into a scan). A supplier's funded
financing requests by (funding block, request): its statement reads a page of them, newest first,
instead of sorting all it ever funded. Accepted payables by maturity (partial): the operator's
defaultable payables (matured past the grace period) without visiting every payable repaid before them.
A party's payables of one status by id, (obligor | supplier, status, slot_id), in place of the index of
the status alone: statistics from before a bulk upload made PostgreSQL start a party's list from every
payable of the status they did not know (awaiting acceptance) and sort them.

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
    accepted = sa.text("status = 'Accepted'")
    op.create_index(
        "ix_payable_accepted_maturity",
        "payable",
        ["maturity"],
        postgresql_where=accepted,
        sqlite_where=accepted,
    )
    op.create_index("ix_payable_obligor_status_slot", "payable", ["obligor", "status", "slot_id"])
    op.create_index("ix_payable_supplier_status_slot", "payable", ["supplier", "status", "slot_id"])
    op.drop_index("ix_payable_status", table_name="payable")


def downgrade() -> None:
    op.create_index("ix_payable_status", "payable", ["status"])
    op.drop_index("ix_payable_supplier_status_slot", table_name="payable")
    op.drop_index("ix_payable_obligor_status_slot", table_name="payable")
    op.drop_index("ix_payable_accepted_maturity", table_name="payable")
    op.drop_index("ix_financing_request_seller_funded", table_name="financing_request")
    op.drop_index("ix_payable_unpaid_maturity", table_name="payable")
