"""staff users, sessions, approval policies and pending approvals, the audit trail; API keys per user

Every participant that has API keys today gets one admin user (roles admin, maker, checker) that owns
its keys, so existing API clients keep working unchanged.

Revision ID: d4e5f6a7b8c9
Revises: c3a9d4f1e7b2
Create Date: 2026-12-05 16:45:00
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tierflow.platform.db import Fen

revision: str = "d4e5f6a7b8c9"
down_revision: str | None = "c3a9d4f1e7b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_user",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("login", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("totp_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("failed_attempts", sa.BigInteger(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=True),
        sa.Column("disabled_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_index("ix_staff_user_address", "staff_user", ["address"], unique=False)
    op.create_index("ix_staff_user_login", "staff_user", ["login"], unique=True)
    op.create_table(
        "staff_session",
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_index("ix_staff_session_user_id", "staff_session", ["user_id"], unique=False)
    op.create_table(
        "approval_policy",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("min_amount", Fen(length=78), nullable=False),
        sa.PrimaryKeyConstraint("address", "action"),
    )
    op.create_table(
        "pending_approval",
        sa.Column("approval_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("contract", sa.String(length=64), nullable=False),
        sa.Column("function", sa.String(length=64), nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("amount", Fen(length=78), nullable=True),
        sa.Column("terms_hash", sa.String(length=64), nullable=False),
        sa.Column("maker_user_id", sa.BigInteger(), nullable=False),
        sa.Column("maker_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("checker_user_id", sa.BigInteger(), nullable=True),
        sa.Column("checker_name", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("approval_id"),
    )
    op.create_index("ix_pending_approval_address", "pending_approval", ["address"], unique=False)
    op.create_index("ix_pending_approval_status", "pending_approval", ["status"], unique=False)
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("company", sa.String(length=42), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_audit_entry_company", "audit_entry", ["company"], unique=False)
    with op.batch_alter_table("api_key") as batch:
        batch.add_column(sa.Column("user_id", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("scopes", sa.String(length=32), nullable=False, server_default="read,write")
        )
        batch.add_column(sa.Column("expires_at", sa.BigInteger(), nullable=True))
        batch.create_index("ix_api_key_user_id", ["user_id"], unique=False)
    _migrate_company_keys()


def _migrate_company_keys() -> None:
    """Each participant's existing keys now belong to one admin user of that participant."""
    conn = op.get_bind()
    keys = sa.table("api_key", sa.column("address", sa.String), sa.column("user_id", sa.BigInteger))
    users = sa.table(
        "staff_user",
        sa.column("user_id", sa.Integer),
        sa.column("address", sa.String),
        sa.column("login", sa.String),
        sa.column("name", sa.String),
        sa.column("roles", sa.String),
        sa.column("totp_enabled", sa.Boolean),
        sa.column("failed_attempts", sa.BigInteger),
        sa.column("created_at", sa.BigInteger),
    )
    now = int(time.time())
    for (address,) in conn.execute(sa.select(keys.c.address).distinct()).all():
        conn.execute(
            users.insert().values(
                address=address,
                login=f"admin@{address.lower()}",
                name="Company administrator",
                roles="admin,maker,checker",
                totp_enabled=False,
                failed_attempts=0,
                created_at=now,
            )
        )
        user_id = conn.execute(sa.select(users.c.user_id).where(users.c.address == address)).scalar_one()
        conn.execute(keys.update().where(keys.c.address == address).values(user_id=user_id))


def downgrade() -> None:
    with op.batch_alter_table("api_key") as batch:
        batch.drop_index("ix_api_key_user_id")
        batch.drop_column("expires_at")
        batch.drop_column("scopes")
        batch.drop_column("user_id")
    op.drop_table("audit_entry")
    op.drop_table("pending_approval")
    op.drop_table("approval_policy")
    op.drop_table("staff_session")
    op.drop_table("staff_user")
