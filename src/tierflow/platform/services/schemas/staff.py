"""Schemas of staff users, approvals, the approval policy and the audit trail (API and dashboard)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tierflow.platform.models.staff import PendingApproval, StaffUser
from tierflow.platform.services.schemas.certificates import NEXT_AFTER
from tierflow.platform.services.schemas.times import Instant
from tierflow.platform.services.users import role_set

StaffRole = Literal["admin", "maker", "checker", "viewer"]


class UserCreate(BaseModel):
    login: str = Field(min_length=3, max_length=120, description="the person's e-mail address")
    name: str = Field(min_length=1, max_length=200)
    roles: list[StaffRole] = Field(min_length=1)
    password: str = Field(min_length=12, max_length=200, description="at least 12 characters")


class PasswordSet(BaseModel):
    password: str = Field(min_length=12, max_length=200, description="at least 12 characters")


class UserRoles(BaseModel):
    roles: list[StaffRole] = Field(min_length=1)


class UserPublic(BaseModel):
    user_id: int
    company: str
    login: str
    name: str
    roles: list[str]
    totp_enabled: bool
    disabled: bool
    locked_until: Instant | None

    @classmethod
    def of(cls, user: StaffUser) -> UserPublic:
        return cls(
            user_id=int(user.user_id or 0),
            company=user.address,
            login=user.login,
            name=user.name,
            roles=sorted(role_set(user.roles)),
            totp_enabled=user.totp_enabled,
            disabled=user.disabled_at is not None,
            locked_until=user.locked_until,
        )


class UserKeyCreate(BaseModel):
    scopes: list[Literal["read", "write"]] = Field(min_length=1)
    days: int = Field(ge=1, le=366, description="the key expires after this many days")
    label: str = Field(default="", max_length=64)


class UserKeyCreated(BaseModel):
    api_key: str = Field(description="shown once; store it now")
    key_id: str
    scopes: list[str]
    expires_at: Instant


class TotpEnrolment(BaseModel):
    secret: str
    otpauth_uri: str
    qr_svg: str = Field(description="the otpauth URI as a QR code (SVG), rendered on the platform")


class TotpConfirm(BaseModel):
    code: str = Field(min_length=6, max_length=8, pattern=r"^\d+$")


class SignIn(BaseModel):
    login: str = Field(max_length=120)
    password: str = Field(max_length=200)
    code: str = Field(default="", max_length=8)


class PolicyPublic(BaseModel):
    rules: dict[str, int] = Field(
        description="action → minimum amount in fen from which a checker must approve (0: every one)",
        examples=[{"fund": 0, "repay": 0, "transfer": 10_000_000}],
    )
    expiry_hours: int | None = Field(
        default=None,
        ge=1,
        le=168,
        description="hours a pending approval waits for a checker before it expires (1 to 168; default 24); "
        "omitted on a PUT: unchanged",
        examples=[24],
    )


class ApprovalPublic(BaseModel):
    approval_id: int
    company: str
    action: str
    call: str
    args: str
    amount: int | None = Field(description="[fen] the amount the policy judged (e.g. the price funded)")
    terms_hash: str = Field(description="send it back to approve: it binds exactly these terms")
    maker: str
    status: str
    checker: str | None
    reason: str | None
    tx_hash: str | None
    created_at: Instant
    expires_at: Instant

    @classmethod
    def of(cls, row: PendingApproval) -> ApprovalPublic:
        return cls(
            approval_id=int(row.approval_id or 0),
            company=row.address,
            action=row.action,
            call=f"{row.contract}.{row.function}",
            args=row.args,
            amount=None if row.amount is None else int(row.amount),
            terms_hash=row.terms_hash,
            maker=row.maker_name,
            status=row.status,
            checker=row.checker_name,
            reason=row.reason,
            tx_hash=row.tx_hash,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )


class ApprovalDecision(BaseModel):
    terms_hash: str = Field(
        min_length=64, max_length=64, description="the terms_hash of the approval you checked"
    )


class ApprovalRejection(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class AuditEntryPublic(BaseModel):
    seq: int
    at: Instant
    company: str | None
    user_id: int | None
    user_name: str
    action: str
    outcome: str
    detail: str
    ip: str
    user_agent: str
    request_id: str
    tx_hash: str | None
    prev_hash: str
    entry_hash: str


class AuditPage(BaseModel):
    data: list[AuditEntryPublic]
    count: int
    next_after: int | None = Field(default=None, description=NEXT_AFTER)
