"""A company's people: staff sign-in (password and code), the approvals queue a checker releases, users."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from markupsafe import Markup

from tierflow.platform import i18n
from tierflow.platform.dashboard import actions, council, labels, queries, web
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard.session import (
    COOKIE_NAME,
    DEFAULT_STANDING_RATE_BPS,
    Viewer,
    decode_cookie,
    ensure_pre_session,
    staff_viewer,
)
from tierflow.platform.models.service import ApiKey
from tierflow.platform.models.staff import PendingApproval, StaffUser
from tierflow.platform.services import audit_trail, policy, throttle, users
from tierflow.platform.services.audit_trail import Actor
from tierflow.platform.services.errors import ServiceError
from tierflow.platform.services.policy import decode_args
from tierflow.platform.services.schemas.certificates import Page

router = web.page_router()


@router.get("/staff-sign-in", response_class=HTMLResponse)
def staff_sign_in_page(request: Request) -> Response:
    response = web.page(request, "team/sign_in.html", error=None)
    ensure_pre_session(request, response)  # the cookie the form's CSRF token derives from
    return response


@router.post("/staff-sign-in", response_class=HTMLResponse)
async def staff_sign_in(request: Request) -> Response:
    form = await request.form()
    login, password, code = (str(form.get(name, "")) for name in ("login", "password", "code"))
    with web.session(request) as db:
        try:
            session_id = users.sign_in(
                session=db, engine=web.engine(request), master_key=web.master_key(request), login=login,
                password=password, code=code, origin=web.origin_of(request), limits=web.limits(request),
            )  # fmt: skip
        except ServiceError as error:
            status = 429 if isinstance(error, throttle.TooManyAttempts) else 401
            return web.page(request, "team/sign_in.html", status_code=status, error=error.message)
        viewer = staff_viewer(db, session_id, DEFAULT_STANDING_RATE_BPS, int(time.time()))
    if viewer is None:
        return web.page(
            request, "team/sign_in.html", status_code=401, error=i18n.gettext("Sign-in failed; try again.")
        )
    response = RedirectResponse(viewer.home(), status_code=303)
    web.set_session(request, response, viewer)
    return response


def end_staff_session(request: Request) -> None:
    """Revoke the staff session of the request's cookie, if it carries one (sign-out)."""
    payload = decode_cookie(request.cookies.get(COOKIE_NAME) or "", web.master_key(request))
    if payload is None or not payload.get("s"):
        return
    with web.session(request) as db:
        users.revoke_session(
            session=db,
            engine=web.engine(request),
            session_id=str(payload["s"]),
            origin=web.origin_of(request),
        )


def _staff(viewer: Viewer) -> None:
    if viewer.user_id is None:
        raise web.Denied("your company's approvals (sign in as a person of your company)")


@router.get("/team", response_class=HTMLResponse)
def team(request: Request, viewer: web.SignedIn) -> Response:
    _staff(viewer)
    with web.session(request) as db:
        waiting = policy.pending(db, viewer.address)
        decided = policy.pending(db, viewer.address, status=None)[:20]
        people = users.list_users(db, viewer.address) if "admin" in viewer.staff_roles else []
        rules = {r.action: int(r.min_amount) for r in policy.rules(db, viewer.address)}
        expiry_hours = policy.expiry_seconds(db, viewer.address) // 3600
    return web.page(
        request, "team/page.html", waiting=waiting, decided=decided, people=people, rules=rules,
        expiry_hours=expiry_hours, staff_roles=users.STAFF_ROLES,
        policy_actions={action: labels.action(action) for action in policy.ACTION_LABELS},
    )  # fmt: skip


@router.get("/team/approvals/{approval_id}", response_class=HTMLResponse)
def approval_page(request: Request, viewer: web.SignedIn, approval_id: int) -> Response:
    """The checker sees the confirmation page the maker saw, with the approval's exact terms."""
    _staff(viewer)
    with web.session(request) as db:
        row = db.get(PendingApproval, approval_id)
        if row is None or row.address != viewer.address:
            raise web.Denied(i18n.gettext("approval %(id)s of another company", id=approval_id))
        names = queries.directory(db)
        if (row.contract, row.function) == ("Financing", "fund"):
            try:
                fin_request, token, payable = queries.open_request(db, int(decode_args(row.args)[0]))
            except LookupError:
                fin_request = None
            if fin_request is not None:
                return web.page(
                    request, "bank/confirm_fund.html", names=names, owner=viewer.address,
                    req=fin_request, token=token, payable=payable, approval=row,
                )  # fmt: skip
    return web.page(
        request, "team/approval.html", names=names, approval=row, described=_described(request, row)
    )


def _described(request: Request, row: PendingApproval) -> list[tuple[str, str]]:
    """A governance act awaiting a checker in words (dashboard/council.py); [] for any other write."""
    if row.contract != "GovernanceCouncil":
        return []
    with web.session(request) as db:
        return council.described(request, queries.directory(db), row.function, decode_args(row.args))


@router.post("/team/approvals/{approval_id}/approve")
async def approve(request: Request, viewer: web.SignedIn, approval_id: int) -> Response:
    _staff(viewer)
    form = await request.form()
    return await web.act(
        request, viewer, "/dashboard/team",
        i18n.gettext("Approved %(id)s: it was signed and sent.", id=approval_id),
        actions.approve, approval_id=approval_id, terms_hash=str(form.get("terms_hash", "")),
    )  # fmt: skip


@router.post("/team/approvals/{approval_id}/reject")
async def reject(request: Request, viewer: web.SignedIn, approval_id: int) -> Response:
    _staff(viewer)
    form = await request.form()
    reason = str(form.get("reason", "")).strip()
    if not reason:
        return web.redirect(
            "/dashboard/team", message=i18n.gettext("Give a reason for the rejection."), kind="error"
        )
    return await web.act(
        request, viewer, "/dashboard/team", i18n.gettext("Rejected %(id)s.", id=approval_id),
        actions.reject, approval_id=approval_id, reason=reason[:500],
    )  # fmt: skip


def _trail_scope(viewer: Viewer) -> str | None:
    """Whose trail the viewer reads: everyone's (auditors, the operator) or their company's (its admin)."""
    if viewer.sees_everything:
        return None
    if "admin" in viewer.staff_roles:
        return viewer.address
    raise web.Denied("the audit trail (auditors, the operator and your company's admin read it)")


@router.get("/team/trail", response_class=HTMLResponse)
def trail(
    request: Request,
    viewer: web.SignedIn,
    user: str = "",
    action: str = "",
    after: Annotated[int | None, Query(gt=0, lt=2**63)] = None,
) -> Response:
    # 200 entries a page, newest first; `after` (a seq) pages to older ones, so every entry can be read.
    rows, count, following = audit_trail.search(
        web.engine(request), company=_trail_scope(viewer), user_name=user[:200] or None,
        action=action[:64] or None, limit=200, after=after,
    )  # fmt: skip
    page = Page[dict[str, Any]](data=rows, count=count, limit=200, offset=0, next_after=following)
    with web.session(request) as db:  # companies by name, not by address
        names = queries.directory(db)
    return web.page(
        request, "team/trail.html", rows=rows, count=count, user=user, action=action, names=names,
        pages={"after": (after, page)},
    )  # fmt: skip


@router.get("/team/trail.csv")
def trail_csv(request: Request, viewer: web.SignedIn, user: str = "", action: str = "") -> Response:
    # Every matching entry, streamed page by page (it stopped at 100,000 rows without saying so).
    entries = audit_trail.walk(
        web.engine(request), company=_trail_scope(viewer), user_name=user[:200] or None,
        action=action[:64] or None,
    )  # fmt: skip
    # The header in the reader's language, times as ISO 8601 UTC; the hashes stay exact (they chain), so
    # the stored keys stay as they are and the last three columns say the same in the reader's words
    # (the company's name, the action and the outcome as the trail page shows them).
    header = [i18n.gettext(TRAIL_HEADERS[column]) for column in audit_trail.CSV_COLUMNS]
    header += [i18n.gettext(label) for label in TRAIL_WORDS_HEADERS]
    at = audit_trail.CSV_COLUMNS.index("at")
    with web.session(request) as db:
        names = queries.directory(db)

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        for n, row in enumerate(entries, start=1):
            cells = [row.get(column) for column in audit_trail.CSV_COLUMNS]
            cells[at] = fmt.iso_datetime(int(row["at"])) if row.get("at") else ""
            company = row.get("company")
            cells += [
                names.name(company) if company else "",
                " ".join(part for part in labels.trail_action(row.get("action") or "") if part),
                labels.trail_outcome(row.get("outcome") or ""),
            ]
            writer.writerow(cells)
            if n % 1_000 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        lines(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-trail.csv"'},
    )  # fmt: skip


TRAIL_HEADERS = {
    "seq": i18n.N_("Entry no."),
    "at": i18n.N_("Time (UTC)"),
    "company": i18n.N_("Company address"),
    "user_id": i18n.N_("Person no."),
    "user_name": i18n.N_("Person"),
    "action": i18n.N_("Action"),
    "outcome": i18n.N_("Outcome"),
    "detail": i18n.N_("Detail"),
    "ip": i18n.N_("Network address"),
    "user_agent": i18n.N_("Browser or program"),
    "request_id": i18n.N_("Request trace no."),
    "tx_hash": i18n.N_("Transaction hash"),
    "prev_hash": i18n.N_("Previous entry's hash"),
    "entry_hash": i18n.N_("Entry hash"),
}
TRAIL_WORDS_HEADERS = (i18n.N_("Company"), i18n.N_("Action (in words)"), i18n.N_("Outcome (in words)"))


def _admin(viewer: Viewer) -> Actor:
    if "admin" not in viewer.staff_roles or viewer.user_id is None:
        raise web.Denied("your company's people (its admin manages them)")
    return Actor(company=viewer.address, user_id=viewer.user_id, user_name=viewer.user_name)


@router.post("/team/policy")
async def set_policy(request: Request, viewer: web.SignedIn) -> Response:
    """The admin's approval policy: which actions wait for a checker, from what amount, for how long."""
    _admin(viewer)
    form = await request.form()
    rules: dict[str, int] = {}
    try:
        for action in policy.POLICY_ACTIONS:
            if form.get(f"need_{action}"):
                label = labels.action(action)
                text = str(form.get(f"from_{action}", "")).strip()
                rules[action] = web.form_yuan(form, f"from_{action}", label) if text else 0
        hours = web.form_int(form, "expiry_hours", "Approvals wait (hours)")
    except actions.ActionError as error:
        return web.redirect("/dashboard/team", message=str(error), kind="error")
    return await web.act(
        request, viewer, "/dashboard/team", i18n.gettext("Approval policy saved."), actions.set_policy,
        rules=rules, expiry_hours=hours,
    )  # fmt: skip


@router.post("/team/users")
async def invite(request: Request, viewer: web.SignedIn) -> Response:
    by = _admin(viewer)
    form = await request.form()
    roles = [str(r) for r in form.getlist("roles")]
    with web.session(request) as db:
        try:
            user = users.create_user(
                session=db, engine=web.engine(request), by=by, company=viewer.address,
                login=str(form.get("login", "")), name=str(form.get("name", "")), roles=roles,
                password=str(form.get("password", "")), origin=web.origin_of(request),
            )  # fmt: skip
        except ServiceError as error:
            return web.redirect("/dashboard/team", message=error.message, kind="error")
        return web.redirect(
            "/dashboard/team",
            message=i18n.gettext(
                "Invited %(name)s (%(roles)s).",
                name=labels.person(user.name),
                roles=i18n.gettext(", ").join(labels.role(role) for role in user.roles.split(",") if role),
            ),
        )


@router.post("/team/users/{user_id}/{change}")
async def change_user(request: Request, viewer: web.SignedIn, user_id: int, change: str) -> Response:
    by = _admin(viewer)
    form = await request.form()
    with web.session(request) as db:
        try:
            if change in ("disable", "enable"):
                user = users.set_disabled(
                    session=db, engine=web.engine(request), by=by, user_id=user_id,
                    disabled=change == "disable", origin=web.origin_of(request),
                )  # fmt: skip
            elif change == "roles":
                user = users.set_roles(
                    session=db, engine=web.engine(request), by=by, user_id=user_id,
                    roles=[str(r) for r in form.getlist("roles")], origin=web.origin_of(request),
                )  # fmt: skip
            elif change == "reset-second-factor":
                user = users.reset_second_factor(
                    session=db,
                    engine=web.engine(request),
                    by=by,
                    user_id=user_id,
                    origin=web.origin_of(request),
                )
            else:
                return Response(status_code=404)
        except ServiceError as error:
            return web.redirect("/dashboard/team", message=error.message, kind="error")
        done = i18n.gettext(
            "%(name)s: %(change)s done.", name=labels.person(user.name), change=labels.user_change(change)
        )
        return web.redirect("/dashboard/team", message=done)


def _own_user(request: Request, viewer: Viewer) -> StaffUser:
    """The viewer's own user, if they may change its credentials (a write key or a staff session)."""
    _staff(viewer)
    with web.session(request) as db:
        key = db.get(ApiKey, viewer.key_id) if viewer.key_id else None
        if key is not None and "write" not in key.scopes.split(","):
            raise web.Denied("your second factor (a read-only key cannot change credentials)")
        user = db.get(StaffUser, viewer.user_id)
        if user is None:
            raise web.Denied("your second factor")
        db.expunge(user)
        return user


@router.get("/team/second-factor", response_class=HTMLResponse)
def second_factor(request: Request, viewer: web.SignedIn) -> Response:
    """Enrolment: a new secret as a QR code rendered here (the secret never goes to a third party)."""
    user = _own_user(request, viewer)
    if user.totp_enabled:
        return web.page(request, "team/second_factor.html", enrolment=None)
    with web.session(request) as db:
        enrolment = users.start_enrolment(session=db, master_key=web.master_key(request), user=db.merge(user))
    return web.page(request, "team/second_factor.html", enrolment=enrolment, qr=Markup(enrolment.qr_svg))


@router.post("/team/second-factor")
async def confirm_second_factor(request: Request, viewer: web.SignedIn) -> Response:
    user = _own_user(request, viewer)
    form = await request.form()
    with web.session(request) as db:
        try:
            users.confirm_enrolment(
                session=db, engine=web.engine(request), master_key=web.master_key(request),
                user=db.merge(user), code=str(form.get("code", "")), origin=web.origin_of(request),
            )  # fmt: skip
        except ServiceError as error:
            return web.redirect("/dashboard/team/second-factor", message=error.message, kind="error")
    return web.redirect(
        "/dashboard/team", message=i18n.gettext("Second factor enrolled: sign in with password and code.")
    )
