"""Service tables of the people inside each participant: staff users, sessions, approvals, the audit trail.

A participant (a company) acts through its staff: each user holds roles inside the company (admin,
maker, checker, viewer), signs in with a password and a second factor, and owns API keys. A write the
company's approval policy covers waits in `pending_approval` until a different user, a checker,
releases it. Every action lands in `audit_entry`, an append-only hash chain.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from tierflow.platform.models._fields import addr, big, fen, text


class StaffUser(SQLModel, table=True):
    """A person of a participant; `roles` is a comma-separated subset of admin, maker, checker, viewer."""

    __tablename__ = "staff_user"

    user_id: int | None = Field(default=None, primary_key=True)  # INTEGER: SQLite autoincrements only that
    address: str = addr(index=True)  # the company (participant) the person works for
    login: str = Field(sa_type=String(120), unique=True, index=True)
    name: str = text(200)
    roles: str = text(64)
    # argon2id hash; None until the person sets a password (migrated admins sign in with their API key).
    password_hash: str | None = Field(default=None, sa_type=String(200), nullable=True)
    # AES-GCM sealed TOTP secret (associated data: the login); enabled once a first code was confirmed.
    totp_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    totp_enabled: bool = False
    totp_last_step: int | None = big(nullable=True)  # [30 s] the last code used to sign in: never again
    failed_attempts: int = big(default=0)
    locked_until: int | None = big(nullable=True)  # [unix s]
    disabled_at: int | None = big(nullable=True)  # [unix s]; a disabled user's sessions and keys stop
    created_at: int = big()  # [unix s]


class StaffSession(SQLModel, table=True):
    """A signed-in session of a user (dashboard); revocable, and dead once the user is disabled."""

    __tablename__ = "staff_session"

    session_id: str = Field(sa_type=String(32), primary_key=True)
    user_id: int = big(index=True)
    created_at: int = big()
    expires_at: int = big()
    revoked_at: int | None = big(nullable=True)
    ip: str = text(64, default="")
    user_agent: str = text(200, default="")


class ApprovalPolicy(SQLModel, table=True):
    """A company's rule: `action` (fund, repay, transfer, ...) needs a checker from `min_amount` [fen] on."""

    __tablename__ = "approval_policy"

    address: str = addr(primary_key=True)
    action: str = Field(sa_type=String(32), primary_key=True)
    min_amount: int = fen()  # [fen]; 0 = every such write


class ApprovalSettings(SQLModel, table=True):
    """A company's approval settings beside its rules: how long a pending approval waits for a checker."""

    __tablename__ = "approval_settings"

    address: str = addr(primary_key=True)
    expiry_seconds: int = big()  # [s] from submission; within policy.EXPIRY_BOUNDS


class PendingApproval(SQLModel, table=True):
    """A maker's covered write, waiting for a checker; it binds the exact contract call and its terms."""

    __tablename__ = "pending_approval"

    approval_id: int | None = Field(default=None, primary_key=True)
    address: str = addr(index=True)
    action: str = text(32)
    contract: str = text(64)
    function: str = text(64)
    args: str = Field(sa_column=Column(Text, nullable=False))  # JSON of the call's arguments
    amount: int | None = fen(nullable=True)  # [fen] the amount the policy judged (e.g. the price funded)
    terms_hash: str = Field(sa_type=String(64))  # SHA-256 of (company, call, amount)
    maker_user_id: int = big()
    maker_name: str = text(200)
    # pending, then approved | rejected | expired | failed; relayed: (self custody) approved and relayed
    status: str = text(16, index=True)
    checker_user_id: int | None = big(nullable=True)
    checker_name: str | None = Field(default=None, sa_type=String(200), nullable=True)
    reason: str | None = Field(default=None, sa_type=String(500), nullable=True)
    tx_hash: str | None = Field(default=None, sa_type=String(66), nullable=True)
    created_at: int = big()
    expires_at: int = big()
    decided_at: int | None = big(nullable=True)


class AuditEntry(SQLModel, table=True):
    """One line of the audit trail; `entry_hash` = SHA-256(prev_hash ‖ canonical fields): a chain."""

    __tablename__ = "audit_entry"
    # The per-address limit of failed sign-ins counts an address's recent entries (services/throttle.py).
    __table_args__ = (Index("ix_audit_entry_ip_at", "ip", "at"),)

    seq: int = big(primary_key=True)  # 1, 2, 3 ... assigned by the writer under a lock, never reused
    at: int = big()  # [unix s]
    company: str | None = addr(nullable=True, index=True)
    user_id: int | None = big(nullable=True)
    user_name: str = text(200, default="")
    action: str = text(200)
    outcome: str = text(32)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    ip: str = text(64, default="")
    user_agent: str = text(200, default="")
    request_id: str = text(64, default="")
    tx_hash: str | None = Field(default=None, sa_type=String(66), nullable=True)
    prev_hash: str = Field(sa_type=String(64))
    entry_hash: str = Field(sa_type=String(64))


STAFF_TABLES = [StaffUser, StaffSession, ApprovalPolicy, ApprovalSettings, PendingApproval, AuditEntry]
