"""A company's people and four-eyes controls: users, second factor, per-user keys, approvals, audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session

from tierflow.platform.api.deps import After, ContextDep, CurrentCaller, Limit, Offset, SessionDep, origin_of
from tierflow.platform.api.writing import READ_RESPONSES, WRITE_RESPONSES, run_write
from tierflow.platform.models.staff import StaffUser
from tierflow.platform.services import approvals, audit_trail, policy, users
from tierflow.platform.services.errors import Forbidden
from tierflow.platform.services.participants import Caller
from tierflow.platform.services.schemas.staff import (
    ApprovalDecision,
    ApprovalPublic,
    ApprovalRejection,
    AuditEntryPublic,
    AuditPage,
    PasswordSet,
    PolicyPublic,
    TotpConfirm,
    TotpEnrolment,
    UserCreate,
    UserKeyCreate,
    UserKeyCreated,
    UserPublic,
    UserRoles,
)

router = APIRouter(prefix="/v1/company", tags=["company"], responses=READ_RESPONSES)
UserId = Path(gt=0, lt=2**31, description="staff user id")  # INTEGER keys (SQLite autoincrement)
ApprovalId = Path(gt=0, lt=2**31, description="approval id")


async def admin_guard(caller: CurrentCaller) -> Caller:
    if "admin" not in caller.staff_roles or "write" not in caller.scopes:
        raise Forbidden(
            "only your company's admin (with a write key) manages users and the approval policy",
            code="not_an_admin",
        )
    return caller


AdminCaller = Annotated[Caller, Depends(admin_guard)]


def _me(session: SessionDep, caller: Caller) -> StaffUser:
    """The caller's own user; changing one's credentials needs a write key, never a read-only one."""
    if "write" not in caller.scopes:
        raise Forbidden("a read-only key cannot change your password or second factor", code="read_only_key")
    if caller.user_id is None:
        raise Forbidden("this key belongs to no staff user", code="staff_user_required")
    return users.get_user(session, company=caller.address, user_id=caller.user_id)


@router.get("/users", response_model=list[UserPublic], summary="Your company's users (admin)")
def list_users(session: SessionDep, caller: AdminCaller) -> list[UserPublic]:
    return [UserPublic.of(u) for u in users.list_users(session, caller.address)]


@router.post("/users", response_model=UserPublic, responses=WRITE_RESPONSES, summary="Invite a user (admin)")
def create_user(
    request: Request, ctx: ContextDep, session: SessionDep, caller: AdminCaller, data: UserCreate
) -> UserPublic:
    user = users.create_user(
        session=session, engine=ctx.engine, by=caller.actor, company=caller.address, login=data.login,
        name=data.name, roles=list(data.roles), password=data.password, origin=origin_of(request),
    )  # fmt: skip
    return UserPublic.of(user)


@router.post("/users/{user_id}/roles", response_model=UserPublic, responses=WRITE_RESPONSES)
def set_roles(
    request: Request, ctx: ContextDep, session: SessionDep, caller: AdminCaller, data: UserRoles,
    user_id: int = UserId,
) -> UserPublic:  # fmt: skip
    return UserPublic.of(
        users.set_roles(
            session=session, engine=ctx.engine, by=caller.actor, user_id=user_id, roles=list(data.roles),
            origin=origin_of(request),
        )
    )  # fmt: skip


@router.post("/users/{user_id}/reset-second-factor", response_model=UserPublic, responses=WRITE_RESPONSES)
def reset_second_factor(
    request: Request, ctx: ContextDep, session: SessionDep, caller: AdminCaller, user_id: int = UserId
) -> UserPublic:
    return UserPublic.of(
        users.reset_second_factor(
            session=session, engine=ctx.engine, by=caller.actor, user_id=user_id, origin=origin_of(request)
        )
    )


@router.post(
    "/users/{user_id}/api-keys", response_model=UserKeyCreated, responses=WRITE_RESPONSES,
    summary="An API key for one user, with scopes and an expiry (admin)",
)  # fmt: skip
def issue_key(
    request: Request, ctx: ContextDep, session: SessionDep, caller: AdminCaller, data: UserKeyCreate,
    user_id: int = UserId,
) -> UserKeyCreated:  # fmt: skip
    token, key = users.issue_user_key(
        session=session, engine=ctx.engine, by=caller.actor, user_id=user_id, scopes=list(data.scopes),
        days=data.days, label=data.label, origin=origin_of(request),
    )  # fmt: skip
    return UserKeyCreated(
        api_key=token, key_id=key.key_id, scopes=key.scopes.split(","), expires_at=int(key.expires_at or 0)
    )


# Last of the /users/{user_id}/... routes: its {change} segment would shadow the ones after it.
@router.post(
    "/users/{user_id}/{change}", response_model=UserPublic, responses=WRITE_RESPONSES,
    summary="Disable a user (their sessions and keys stop working on the next request), or enable again",
)  # fmt: skip
def disable_or_enable(
    request: Request, ctx: ContextDep, session: SessionDep, caller: AdminCaller,
    change: Annotated[str, Path(pattern="^(disable|enable)$")], user_id: int = UserId,
) -> UserPublic:  # fmt: skip
    return UserPublic.of(
        users.set_disabled(
            session=session, engine=ctx.engine, by=caller.actor, user_id=user_id,
            disabled=change == "disable", origin=origin_of(request),
        )
    )  # fmt: skip


@router.post("/me/password", status_code=204, summary="Set your own password (needs a write key)")
def set_password(
    request: Request, ctx: ContextDep, session: SessionDep, caller: CurrentCaller, data: PasswordSet
) -> Response:
    users.set_password(
        session=session, engine=ctx.engine, user=_me(session, caller), password=data.password,
        origin=origin_of(request),
    )  # fmt: skip
    return Response(status_code=204)


@router.post("/me/totp", response_model=TotpEnrolment, summary="Start second-factor enrolment (QR code)")
def start_totp(ctx: ContextDep, session: SessionDep, caller: CurrentCaller) -> TotpEnrolment:
    enrolment = users.start_enrolment(
        session=session, master_key=ctx.settings.master_key, user=_me(session, caller)
    )
    return TotpEnrolment(secret=enrolment.secret, otpauth_uri=enrolment.uri, qr_svg=enrolment.qr_svg)


@router.post("/me/totp/confirm", status_code=204, summary="Confirm enrolment with a first code")
def confirm_totp(
    request: Request, ctx: ContextDep, session: SessionDep, caller: CurrentCaller, data: TotpConfirm
) -> Response:
    users.confirm_enrolment(
        session=session, engine=ctx.engine, master_key=ctx.settings.master_key, user=_me(session, caller),
        code=data.code, origin=origin_of(request),
    )  # fmt: skip
    return Response(status_code=204)


@router.get("/approval-policy", response_model=PolicyPublic)
def get_policy(session: SessionDep, caller: CurrentCaller) -> PolicyPublic:
    return _policy_of(session, caller.address)


def _policy_of(session: Session, company: str) -> PolicyPublic:
    return PolicyPublic(
        rules={r.action: int(r.min_amount) for r in policy.rules(session, company)},
        expiry_hours=policy.expiry_seconds(session, company) // 3600,
    )


@router.put("/approval-policy", response_model=PolicyPublic, responses=WRITE_RESPONSES)
def put_policy(ctx: ContextDep, session: SessionDep, caller: AdminCaller, data: PolicyPublic) -> PolicyPublic:
    expiry = None if data.expiry_hours is None else data.expiry_hours * 3600
    policy.set_rules(ctx=ctx, session=session, caller=caller, new=data.rules, expiry=expiry)
    return _policy_of(session, caller.address)


@router.get("/approvals", response_model=list[ApprovalPublic], summary="Your company's approvals")
def list_approvals(
    session: SessionDep,
    caller: CurrentCaller,
    status: Annotated[
        str | None, Query(pattern="^(pending|approved|relayed|rejected|expired|failed)$")
    ] = "pending",
) -> list[ApprovalPublic]:
    return [ApprovalPublic.of(r) for r in policy.pending(session, caller.address, status)]


@router.get("/approvals/{approval_id}", response_model=ApprovalPublic)
def get_approval(session: SessionDep, caller: CurrentCaller, approval_id: int = ApprovalId) -> ApprovalPublic:
    return ApprovalPublic.of(approvals.get(session, caller, approval_id))


@router.post(
    "/approvals/{approval_id}/approve", responses=WRITE_RESPONSES,
    summary="Release a pending write (a checker other than its maker): it is signed and sent now",
)  # fmt: skip
def approve(
    request: Request, ctx: ContextDep, session: SessionDep, caller: CurrentCaller, data: ApprovalDecision,
    approval_id: int = ApprovalId,
) -> JSONResponse:  # fmt: skip
    return run_write(
        request, ctx, caller.address, None, data,
        lambda: approvals.approve(
            ctx=ctx, session=session, caller=caller, approval_id=approval_id, seen_terms=data.terms_hash
        ),
    )  # fmt: skip


@router.post("/approvals/{approval_id}/reject", response_model=ApprovalPublic, responses=WRITE_RESPONSES)
def reject(
    ctx: ContextDep, session: SessionDep, caller: CurrentCaller, data: ApprovalRejection,
    approval_id: int = ApprovalId,
) -> ApprovalPublic:  # fmt: skip
    return ApprovalPublic.of(
        approvals.reject(ctx=ctx, session=session, caller=caller, approval_id=approval_id, reason=data.reason)
    )


@router.get(
    "/audit-trail", response_model=AuditPage,
    summary="The audit trail: all of it for auditors and the operator, your company's for its admin",
)  # fmt: skip
def trail(
    ctx: ContextDep,
    caller: CurrentCaller,
    user: str | None = Query(default=None, max_length=200),
    action: str | None = Query(default=None, max_length=64),
    format: str = Query(default="json", pattern="^(json|csv)$"),
    limit: Limit = 100,
    offset: Offset = 0,
    after: After = None,
) -> Response:
    if caller.sees_everything:
        company = None
    elif "admin" in caller.staff_roles:
        company = caller.address
    else:
        raise Forbidden("the audit trail is for auditors and your company's admin", code="not_an_admin")
    rows, count, following = audit_trail.search(
        ctx.engine, company=company, user_name=user, action=action, limit=limit, offset=offset, after=after
    )
    if format == "csv":
        return Response(
            audit_trail.to_csv(rows), media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="audit-trail.csv"'},
        )  # fmt: skip
    page = AuditPage(data=[AuditEntryPublic(**r) for r in rows], count=count, next_after=following)
    return JSONResponse(page.model_dump(mode="json"))
