"""Sign-in for the dashboard: an API key checked once, then a signed HttpOnly session cookie.

The browser never keeps the API key: the cookie holds the participant's address, the id of the key
used to sign in (so that revoking the key ends the session on the next request), the id of the
server-side session (so that signing out ends it for every copy of the cookie) and the bank's
standing rate, signed with a key derived from the platform's master key. Every form carries a CSRF
token: derived from the session, or before sign-in from a random cookie (double submit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import Request, Response
from markupsafe import Markup
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tierflow.chain.vocabulary import Role
from tierflow.platform import i18n
from tierflow.platform.models.registry import Participant
from tierflow.platform.models.service import ApiKey, DashboardSession, DirectoryParticipant
from tierflow.platform.models.staff import PendingApproval, StaffUser
from tierflow.platform.security.crypto import api_key_matches, derive_key, parse_api_key
from tierflow.platform.services import throttle, users
from tierflow.platform.services.audit_trail import Origin

COOKIE_NAME = "tierflow_session"
# Before sign-in: a random value the sign-in form must repeat (login CSRF: another site must not be
# able to sign a visitor in as the attacker).
PRE_SESSION_COOKIE = "tierflow_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"  # htmx requests send it (hx-headers on <body>)
SESSION_SECONDS = 12 * 3600
DEFAULT_STANDING_RATE_BPS = 450
_COOKIE_LABEL = b"tierflow/dashboard-session/v1"
_CSRF_LABEL = b"tierflow/dashboard-csrf/v1"
SESSIONS = DashboardSession.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Viewer:
    """The signed-in participant and what its roles let the pages show."""

    address: str
    name: str
    roles: int
    is_operator: bool
    status: str
    key_id: str
    standing_rate_bps: int = DEFAULT_STANDING_RATE_BPS
    issued_at: int = field(default_factory=lambda: int(time.time()))
    session_id: str = ""
    # The person (staff user) behind the session, their roles in the company, the staff session id
    # when they signed in with password and code, and the approvals waiting for them (the badge).
    user_id: int | None = None
    user_name: str = ""
    staff_roles: frozenset[str] = frozenset()
    staff_session: str = ""
    pending_approvals: int = 0
    language: str | None = None  # the person's chosen dashboard language (staff_user.language)
    origin: Origin | None = None  # where this request came from (the audit trail's "from where")

    def has(self, role: Role) -> bool:
        return bool(self.roles & role)

    @property
    def is_financier(self) -> bool:
        return self.has(Role.FINANCIER)

    @property
    def is_supplier(self) -> bool:
        return self.has(Role.SUPPLIER)

    @property
    def is_core(self) -> bool:
        return self.has(Role.CORE_ENTERPRISE)

    @property
    def is_auditor(self) -> bool:
        return self.has(Role.AUDITOR)

    @property
    def sees_everything(self) -> bool:
        """Auditors (look-through supervision) and the operator read every page; they never act on others'."""
        return self.is_auditor or self.is_operator

    def home(self) -> str:
        if self.is_operator:
            return "/dashboard/operator"
        if self.is_financier:
            return f"/dashboard/bank/{self.address}"
        if self.is_core:
            return f"/dashboard/core/{self.address}"
        if self.is_supplier:
            return f"/dashboard/supplier/{self.address}"
        return "/dashboard/audit"

    def with_rate(self, rate_bps: int) -> Viewer:
        return replace(self, standing_rate_bps=rate_bps)


class SignInError(Exception):
    """The key was not accepted; the message tells the person what to do (translated: a literal message
    is extracted as SignInError's first argument)."""

    def __init__(self, message: str) -> None:
        super().__init__(i18n.translate(message))


def _signing_key(master_key: str) -> bytes:
    return derive_key(master_key, _COOKIE_LABEL)


def encode_cookie(viewer: Viewer, master_key: str) -> str:
    payload = {"a": viewer.address, "k": viewer.key_id, "r": viewer.standing_rate_bps, "t": viewer.issued_at}
    if viewer.staff_session:
        payload["s"] = viewer.staff_session
    if viewer.session_id:  # the dashboard session (API-key sign-in), ended at sign-out
        payload["d"] = viewer.session_id
    # No "=" padding: a cookie value with "=" gets quoted, and quoted values round-trip unreliably.
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    mac = hmac.new(_signing_key(master_key), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def decode_cookie(value: str, master_key: str, now: int | None = None) -> dict[str, Any] | None:
    """The cookie's payload if its signature holds and it has not expired, else None."""
    body, _, mac = value.partition(".")
    expected = hmac.new(_signing_key(master_key), body.encode(), hashlib.sha256).hexdigest()
    if not mac or not hmac.compare_digest(mac, expected):
        return None
    try:
        payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    now = int(time.time()) if now is None else now
    if not isinstance(payload.get("t"), int) or now - payload["t"] > SESSION_SECONDS:
        return None
    return payload


def _viewer_for(
    db: Session, address: str, key_id: str, rate_bps: int, issued_at: int, session_id: str = ""
) -> Viewer | None:
    person = db.get(DirectoryParticipant, address)
    if person is None:
        return None
    # The chain is the authority on roles and status; the directory mirrors it and knows the operator.
    onchain = db.get(Participant, address)
    roles = onchain.roles if onchain is not None else person.roles
    status = onchain.status if onchain is not None else person.status
    return Viewer(
        address=address,
        name=person.legal_name,
        roles=roles,
        is_operator=person.is_operator,
        status=status,
        key_id=key_id,
        standing_rate_bps=rate_bps,
        issued_at=issued_at,
        session_id=session_id,
    )


def sign_in(
    db: Session,
    token: str,
    *,
    engine: Engine | None = None,
    origin: Origin | None = None,
    limits: throttle.Limits = throttle.DEFAULT_LIMITS,
) -> Viewer:
    """The participant an API key belongs to, or SignInError saying what to do.

    A refused key is recorded in the audit trail (with `engine`), and an address with too many refused
    attempts waits (the same limit as the API's)."""
    try:
        return _sign_in_with_key(db, token)
    except SignInError:
        if engine is None:
            raise
        db.close()  # the audit append takes its own connection
        try:
            throttle.refused_key(engine, origin, "dashboard_sign_in", limits)
        except throttle.TooManyAttempts as too_many:
            raise SignInError(too_many.message) from None
        raise


def _sign_in_with_key(db: Session, token: str) -> Viewer:
    parsed = parse_api_key(token)
    if parsed is None:
        raise SignInError(
            "That is not a Tierflow API key. Paste the whole key, which looks like tf_<id>_<secret>."
        )
    key_id, secret = parsed
    key = db.get(ApiKey, key_id)
    if key is None or not api_key_matches(secret, key.key_hash):
        raise SignInError(
            "This API key is not known. Check it was copied whole, or ask the operator for a new one."
        )
    if key.revoked_at is not None:
        raise SignInError("This API key was revoked. Ask the operator to issue a new key.")
    now = int(time.time())
    if key.expires_at is not None and key.expires_at <= now:
        raise SignInError("This API key has expired. Ask your company's admin for a new one.")
    session_id = secrets.token_hex(16)
    viewer = _viewer_for(db, key.address, key.key_id, DEFAULT_STANDING_RATE_BPS, now, session_id)
    if viewer is None:
        raise SignInError("This key's participant is not onboarded. Ask the operator to complete onboarding.")
    user = db.get(StaffUser, key.user_id) if key.user_id is not None else None
    if user is not None and user.disabled_at is not None:
        raise SignInError("The person this key belongs to is disabled. Ask your company's admin.")
    address, key_id = key.address, key.key_id
    # End the reads' transaction first: on SQLite (WAL) an insert in a transaction that has read is
    # refused at once ("database is locked", no busy wait) if the indexer committed since the read;
    # an insert that starts its own transaction waits its turn.
    db.commit()
    db.add(DashboardSession(session_id=session_id, address=address, key_id=key_id, created_at=now))
    db.commit()
    return with_person(db, viewer, user)


def with_person(db: Session, viewer: Viewer, user: StaffUser | None, staff_session: str = "") -> Viewer:
    """`viewer` with the staff user behind it and the count of approvals waiting for them."""
    if user is None:
        return viewer
    roles = frozenset(user.roles.split(","))
    waiting = 0
    if "checker" in roles:
        waiting = len(
            db.exec(
                select(PendingApproval.approval_id).where(
                    PendingApproval.address == user.address,
                    PendingApproval.status == "pending",
                    PendingApproval.maker_user_id != user.user_id,
                )
            ).all()
        )
    return replace(
        viewer,
        user_id=user.user_id,
        user_name=user.name,
        staff_roles=roles,
        staff_session=staff_session,
        pending_approvals=waiting,
        language=user.language,
    )


def staff_viewer(db: Session, session_id: str, rate_bps: int, issued_at: int) -> Viewer | None:
    """The viewer of a live staff session (password and code); None once revoked or the user disabled."""
    user = users.session_user(db, session_id)
    if user is None:
        return None
    viewer = _viewer_for(db, user.address, "", rate_bps, issued_at)
    return None if viewer is None else with_person(db, viewer, user, session_id)


def end_session(engine: Engine, value: str | None, master_key: str) -> None:
    """Sign-out: the session ends on the server, so a copy of the cookie no longer signs anyone in."""
    payload = decode_cookie(value or "", master_key)
    if payload is None or not payload.get("d"):
        return
    with engine.begin() as conn:
        conn.execute(
            update(SESSIONS)
            .where(SESSIONS.c.session_id == str(payload["d"]), SESSIONS.c.revoked_at.is_(None))
            .values(revoked_at=int(time.time()))
        )


def viewer_from_cookie(engine: Engine, value: str | None, master_key: str) -> Viewer | None:
    """The viewer of a request, re-checked against the key store so that revocation takes effect at once."""
    if not value:
        return None
    payload = decode_cookie(value, master_key)
    if payload is None:
        return None
    with Session(engine) as db:
        if payload.get("s"):
            return staff_viewer(db, str(payload["s"]), int(payload["r"]), int(payload["t"]))
        key = db.exec(select(ApiKey).where(ApiKey.key_id == payload["k"])).first()
        if key is None or key.revoked_at is not None or key.address != payload["a"]:
            return None
        if key.expires_at is not None and key.expires_at <= int(time.time()):
            return None  # an expired key's sessions end with it
        session = db.get(DashboardSession, str(payload.get("d") or ""))
        if session is None or session.revoked_at is not None or session.key_id != key.key_id:
            return None  # signed out (or a cookie from before server-side sessions)
        user = db.get(StaffUser, key.user_id) if key.user_id is not None else None
        if user is not None and user.disabled_at is not None:
            return None
        viewer = _viewer_for(
            db, payload["a"], payload["k"], int(payload["r"]), int(payload["t"]), session.session_id
        )
        return None if viewer is None else with_person(db, viewer, user)


# -- cookies' Secure flag and CSRF tokens ------------------------------------------------------------


def cookie_secure(request: Request) -> bool:
    """Secure cookies whenever the public URL is https, also behind a proxy that terminates TLS (where
    the request itself arrives over http); a forwarded scheme counts only from trusted proxies."""
    settings = getattr(request.app.state, "dashboard_settings", None)
    if settings is not None and str(settings.public_url).startswith("https://"):
        return True
    if settings is not None and settings.trust_proxy_headers:
        forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if forwarded == "https":
            return True
    return request.url.scheme == "https"


def _csrf(master_key: str, seed: str) -> str:
    return hmac.new(derive_key(master_key, _CSRF_LABEL), seed.encode(), hashlib.sha256).hexdigest()


def _csrf_seed(request: Request, master_key: str) -> str | None:
    """What the request's CSRF token derives from: its session, else its pre-session cookie."""
    payload = decode_cookie(request.cookies.get(COOKIE_NAME) or "", master_key)
    if payload is not None and payload.get("d"):  # a dashboard session (API-key sign-in)
        return f"session:{payload['d']}"
    if payload is not None and payload.get("s"):  # a staff session (password and code)
        return f"staff:{payload['s']}"
    pre = getattr(request.state, "pre_session", None) or request.cookies.get(PRE_SESSION_COOKIE)
    return f"pre:{pre}" if pre else None


def csrf_token(request: Request) -> str:
    """The token the request's forms must send back (empty before any cookie exists)."""
    master_key = str(request.app.state.dashboard_master_key)
    seed = _csrf_seed(request, master_key)
    return _csrf(master_key, seed) if seed else ""


def ensure_pre_session(request: Request, response: Response) -> None:
    """Give a visitor without a session the random cookie its sign-in form's token derives from."""
    if request.cookies.get(COOKIE_NAME) or request.cookies.get(PRE_SESSION_COOKIE):
        return
    value = getattr(request.state, "pre_session", None)
    if value is None:
        return
    response.set_cookie(
        PRE_SESSION_COOKIE, value, path="/dashboard", httponly=True, samesite="strict",
        secure=cookie_secure(request),
    )  # fmt: skip


def start_pre_session(request: Request) -> None:
    """Before rendering a sign-in form to a visitor with neither cookie: choose its pre-session value."""
    if not request.cookies.get(COOKIE_NAME) and not request.cookies.get(PRE_SESSION_COOKIE):
        request.state.pre_session = secrets.token_hex(16)


class CsrfError(Exception):
    """A form post without the token of its session: from another site, or a page from before sign-in."""


# The current request's token, for the templates' `csrf_field()` (set by `require_csrf`; the sync
# endpoints run in a worker thread with a copy of this context).
_TOKEN: ContextVar[str] = ContextVar("tierflow_dashboard_csrf", default="")


def csrf_field() -> Markup:
    """The hidden input every POST form of the dashboard carries."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, _TOKEN.get())


def current_csrf_token() -> str:
    return _TOKEN.get()


async def require_csrf(request: Request) -> None:
    """Dependency of every dashboard route: a POST must carry its session's CSRF token (form field or
    X-CSRF-Token header); every request makes its token available to the templates."""
    start_pre_session(request)
    expected = csrf_token(request)
    # Without a session a post can act as nobody (the page asks for the sign-in form), except the
    # sign-in itself, which the token protects from login CSRF.
    guarded = bool(request.cookies.get(COOKIE_NAME)) or request.url.path.endswith("sign-in")
    if request.method == "POST" and guarded:
        sent = request.headers.get(CSRF_HEADER)
        if not sent:
            form = await request.form()  # parsed once: the endpoint's Form fields read the same
            sent = str(form.get(CSRF_FIELD) or "")
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise CsrfError("the form's CSRF token is missing or does not match this session")
    _TOKEN.set(expected)
