"""Sign-in for the dashboard: an API key checked once, then a signed HttpOnly session cookie.

The browser never keeps the API key: the cookie holds the participant's address, the id of the key
used to sign in (so that revoking the key ends the session on the next request) and the bank's
standing rate, signed with a key derived from the platform's master key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tierflow.chain.vocabulary import Role
from tierflow.platform.models.registry import Participant
from tierflow.platform.models.service import ApiKey, DirectoryParticipant
from tierflow.platform.models.staff import PendingApproval, StaffUser
from tierflow.platform.security.crypto import api_key_matches, derive_key, parse_api_key
from tierflow.platform.services import users
from tierflow.platform.services.audit_trail import Origin

COOKIE_NAME = "tierflow_session"
SESSION_SECONDS = 12 * 3600
DEFAULT_STANDING_RATE_BPS = 450
_COOKIE_LABEL = b"tierflow/dashboard-session/v1"


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
    # The person (staff user) behind the session, their roles in the company, the staff session id
    # when they signed in with password and code, and the approvals waiting for them (the badge).
    user_id: int | None = None
    user_name: str = ""
    staff_roles: frozenset[str] = frozenset()
    staff_session: str = ""
    pending_approvals: int = 0
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
    """The key was not accepted; the message tells the person what to do."""


def _signing_key(master_key: str) -> bytes:
    return derive_key(master_key, _COOKIE_LABEL)


def encode_cookie(viewer: Viewer, master_key: str) -> str:
    payload = {"a": viewer.address, "k": viewer.key_id, "r": viewer.standing_rate_bps, "t": viewer.issued_at}
    if viewer.staff_session:
        payload["s"] = viewer.staff_session
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


def _viewer_for(db: Session, address: str, key_id: str, rate_bps: int, issued_at: int) -> Viewer | None:
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
    )


def sign_in(db: Session, token: str) -> Viewer:
    """The participant an API key belongs to, or SignInError saying what to do."""
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
    viewer = _viewer_for(db, key.address, key.key_id, DEFAULT_STANDING_RATE_BPS, int(time.time()))
    if viewer is None:
        raise SignInError("This key's participant is not onboarded. Ask the operator to complete onboarding.")
    user = db.get(StaffUser, key.user_id) if key.user_id is not None else None
    if user is not None and user.disabled_at is not None:
        raise SignInError("The person this key belongs to is disabled. Ask your company's admin.")
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
    )


def staff_viewer(db: Session, session_id: str, rate_bps: int, issued_at: int) -> Viewer | None:
    """The viewer of a live staff session (password and code); None once revoked or the user disabled."""
    user = users.session_user(db, session_id)
    if user is None:
        return None
    viewer = _viewer_for(db, user.address, "", rate_bps, issued_at)
    return None if viewer is None else with_person(db, viewer, user, session_id)


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
        user = db.get(StaffUser, key.user_id) if key.user_id is not None else None
        if user is not None and user.disabled_at is not None:
            return None
        viewer = _viewer_for(db, payload["a"], payload["k"], int(payload["r"]), int(payload["t"]))
        return None if viewer is None else with_person(db, viewer, user)
