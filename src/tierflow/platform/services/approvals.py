"""Maker-checker: a checker of the same company releases (signs and relays) or rejects a pending write.

The approval binds the exact call the maker submitted: its stored terms must still hash to what was
submitted, the amount the policy judged must be unchanged on chain (a re-quote after submission
voids it), the checker confirms the terms hash they saw, and a row leaves `pending` exactly once.
"""

from __future__ import annotations

import time

from sqlalchemy import update
from sqlmodel import Session, col

from tierflow.chain.gateway import Call
from tierflow.platform import i18n
from tierflow.platform.models.staff import PendingApproval
from tierflow.platform.services import audit_trail, governance
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.errors import Conflict, Forbidden, NotFound
from tierflow.platform.services.participants import Caller
from tierflow.platform.services.policy import amount_of, decode_args, terms_hash
from tierflow.platform.services.schemas.certificates import SignatureRequired, TxResult
from tierflow.platform.services.writes import execute


def get(session: Session, caller: Caller, approval_id: int) -> PendingApproval:
    row = session.get(PendingApproval, approval_id)
    if row is None or row.address != caller.address:
        raise NotFound(
            i18n.gettext("no approval %(approval_id)s in your company", approval_id=approval_id),
            code="unknown_approval",
        )
    return row


def _may_check(caller: Caller, row: PendingApproval) -> None:
    if "checker" not in caller.staff_roles or "write" not in caller.scopes:
        raise Forbidden(
            i18n.gettext(
                "%(user)s has no checker role (or this key is read-only); "
                "a checker of your company must decide",
                user=caller.user_name or i18n.gettext("this user"),
            ),
            code="not_a_checker",
        )
    if caller.user_id is None or caller.user_id == row.maker_user_id:
        raise Forbidden(
            i18n.gettext(
                "%(maker)s submitted approval %(id)s; a different checker must decide it",
                maker=row.maker_name,
                id=row.approval_id,
            ),
            code="own_approval",
        )


def _claim(session: Session, row: PendingApproval, caller: Caller, status: str, reason: str | None) -> None:
    """Move the row out of `pending` once: a replayed or concurrent decision finds it taken."""
    now = int(time.time())
    claimed = session.execute(
        update(PendingApproval)
        .where(col(PendingApproval.approval_id) == row.approval_id, col(PendingApproval.status) == "pending")
        .values(status=status, checker_user_id=caller.user_id, checker_name=caller.user_name,
                reason=reason, decided_at=now)
    )  # fmt: skip
    session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(row)
        raise Conflict(
            i18n.gettext(
                "approval %(id)s was already %(status)s; nothing was done again",
                id=row.approval_id,
                status=row.status,
            ),
            code="approval_decided",
        )


def _still_pending(session: Session, row: PendingApproval, now: int) -> None:
    if row.status != "pending":
        raise Conflict(
            i18n.gettext(
                "approval %(id)s was already %(status)s; nothing was done again",
                id=row.approval_id,
                status=row.status,
            ),
            code="approval_decided",
        )
    if row.expires_at <= now:
        session.execute(
            update(PendingApproval)
            .where(
                col(PendingApproval.approval_id) == row.approval_id, col(PendingApproval.status) == "pending"
            )
            .values(status="expired", decided_at=now)
        )
        session.commit()
        raise Conflict(
            i18n.gettext(
                "approval %(id)s expired; the maker must submit the write again", id=row.approval_id
            ),
            code="approval_expired",
        )


def approve(
    *, ctx: ServiceContext, session: Session, caller: Caller, approval_id: int, seen_terms: str
) -> TxResult | SignatureRequired:
    """Release the maker's exact call, signed for the company as any write is."""
    row = get(session, caller, approval_id)
    _may_check(caller, row)
    now = int(time.time())
    _still_pending(session, row, now)
    call = Call(row.contract, row.function, decode_args(row.args))
    stored = terms_hash(
        company=row.address, contract=row.contract, function=row.function, args=row.args, amount=row.amount
    )
    problem = None
    if stored != row.terms_hash:
        problem = "its stored terms were altered after submission"
    elif seen_terms != row.terms_hash:
        problem = "the terms you confirmed are not the terms submitted; reload and check them again"
    elif row.amount is not None and amount_of(session, call) != int(row.amount):
        problem = (
            "the amount on chain changed since it was submitted (e.g. a new quote); the maker must resubmit"
        )
    if problem is not None:
        audit_trail.record(
            ctx.engine, actor=caller.actor, action=f"approval.approve.{row.action}", outcome="terms_changed",
            detail=f"approval {approval_id}: {problem}", origin=caller.origin,
        )  # fmt: skip
        raise Conflict(
            i18n.gettext(
                "approval %(approval_id)s cannot be released: %(problem)s",
                approval_id=approval_id,
                problem=problem,
            ),
            code="terms_changed",
        )
    # The session is closed while the chain works (writes.execute): keep what the audit lines need.
    action, maker = row.action, row.maker_name
    _claim(session, row, caller, "approved", None)
    try:
        if call.contract == governance.COUNCIL:  # the council checks msg.sender: sent directly, not relayed
            result: TxResult | SignatureRequired = governance.release(
                ctx=ctx, session=session, caller=caller, call=call
            )
        else:
            result = execute(ctx=ctx, session=session, caller=caller, call=call, released=True)
    except Exception as error:
        with Session(ctx.engine) as fresh:
            fresh.execute(
                update(PendingApproval)
                .where(col(PendingApproval.approval_id) == approval_id)
                .values(status="failed", reason=str(error)[:500])
            )
            fresh.commit()
        audit_trail.record(
            ctx.engine, actor=caller.actor, action=f"approval.approve.{action}", outcome="failed",
            detail=f"approval {approval_id} by {maker}: {error}"[:2000], origin=caller.origin,
        )  # fmt: skip
        raise
    tx_hash = result.tx_hash if isinstance(result, TxResult) else None
    with Session(ctx.engine) as fresh:
        fresh.execute(
            update(PendingApproval)
            .where(col(PendingApproval.approval_id) == approval_id)
            .values(tx_hash=tx_hash)
        )
        fresh.commit()
    audit_trail.record(
        ctx.engine, actor=caller.actor, action=f"approval.approve.{action}", outcome="executed",
        detail=f"approval {approval_id} submitted by {maker}", origin=caller.origin, tx_hash=tx_hash,
    )  # fmt: skip
    return result


def reject(
    *, ctx: ServiceContext, session: Session, caller: Caller, approval_id: int, reason: str
) -> PendingApproval:
    row = get(session, caller, approval_id)
    _may_check(caller, row)
    _still_pending(session, row, int(time.time()))
    _claim(session, row, caller, "rejected", reason[:500])
    session.refresh(row)
    audit_trail.record(
        ctx.engine, actor=caller.actor, action=f"approval.reject.{row.action}", outcome="rejected",
        detail=f"approval {approval_id} by {row.maker_name}: {reason}"[:2000], origin=caller.origin,
    )  # fmt: skip
    return row
