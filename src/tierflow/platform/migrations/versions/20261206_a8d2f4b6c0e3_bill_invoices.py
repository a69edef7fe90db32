"""bill_invoice: the invoices proposed on each bill package, readable by invoice hash

An issue (payable or bill) is refused while its invoice awaits a bill's receipt by the same issuer
(services/documents.py); bill_package.invoice_hashes can be read only package by package. The packages
indexed before this revision are filled from their invoice_hashes.

Revision ID: a8d2f4b6c0e3
Revises: c3e5a7b9d1f2
Create Date: 2026-12-06 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a8d2f4b6c0e3"
down_revision: str | None = "c3e5a7b9d1f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PACKAGES = sa.table(
    "bill_package",
    sa.column("package_id", sa.BigInteger()),
    sa.column("invoice_hashes", sa.JSON()),
    sa.column("block_number", sa.BigInteger()),
)


def upgrade() -> None:
    invoices = op.create_table(
        "bill_invoice",
        sa.Column("doc_hash", sa.String(length=66), nullable=False),
        sa.Column("package_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("doc_hash", "package_id"),
    )
    op.create_index(op.f("ix_bill_invoice_block_number"), "bill_invoice", ["block_number"], unique=False)
    conn = op.get_bind()
    rows: list[dict[str, object]] = []
    # as the indexer writes them (handlers/bills.py): once per hash of a package, in its block
    for package in conn.execute(sa.select(_PACKAGES).order_by(_PACKAGES.c.package_id)).all():
        for doc_hash in dict.fromkeys(package.invoice_hashes or []):
            rows.append(
                {"doc_hash": doc_hash, "package_id": package.package_id, "block_number": package.block_number}
            )
        if len(rows) >= 1000:
            op.bulk_insert(invoices, rows)
            rows = []
    if rows:
        op.bulk_insert(invoices, rows)


def downgrade() -> None:
    op.drop_index(op.f("ix_bill_invoice_block_number"), table_name="bill_invoice")
    op.drop_table("bill_invoice")
