"""Staff users inside a participant: roles, password + TOTP sign-in with lockout, sessions, per-user keys.

A company acts through people. The operator creates each company's first admin at onboarding (the
admin that owns the company's API key); the admin invites, disables and re-roles its own users. A
disabled user's sessions and keys stop working on the next request: both are checked on every request.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tierflow.platform import i18n
from tierflow.platform.models.service import ApiKey
from tierflow.platform.models.staff import StaffSession, StaffUser
from tierflow.platform.security.crypto import derive_key, hash_api_key, new_api_key, seal, unseal
from tierflow.platform.services import audit_trail, throttle
from tierflow.platform.services.audit_trail import Actor, Origin
from tierflow.platform.services.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthenticated

STAFF_ROLES = ("admin", "maker", "checker", "viewer")
FIRST_ADMIN_ROLES = "admin,maker,checker"
MAX_FAILURES = 5  # wrong passwords or codes in a row before the account locks
LOCK_SECONDS = 15 * 60
SESSION_SECONDS = 12 * 3600
_TOTP_LABEL = b"tierflow/staff-totp/v1"
# argon2id with the library's RFC 9106 "low memory" profile: ~50 ms per check here, which caps an
# online guesser far below the lockout anyway, and does not starve two shared cores under tests.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


# The dashboard's languages (tierflow.platform.i18n.LOCALES), a person's remembered choice.
LANGUAGES = ("zh_CN", "en")


def parse_roles(roles: list[str] | str) -> str:
    names = [r.strip() for r in (roles.split(",") if isinstance(roles, str) else roles) if r.strip()]
    unknown = [r for r in names if r not in STAFF_ROLES]
    if unknown or not names:
        raise InvalidRequest(
            i18n.gettext(
                "roles must be a non-empty subset of %(roles)s (got %(got)s)",
                roles=", ".join(STAFF_ROLES),
                got=", ".join(names) or i18n.gettext("none"),
            ),
            code="invalid_roles",
        )
    return ",".join(r for r in STAFF_ROLES if r in names)


def role_set(roles: str) -> frozenset[str]:
    return frozenset(r for r in roles.split(",") if r)


def actor_of(user: StaffUser) -> Actor:
    return Actor(company=user.address, user_id=user.user_id, user_name=user.name)


def _now() -> int:
    return int(time.time())


# -- directory of people -----------------------------------------------------------------------------
# The first admin's name when the operator gave none (also what migration d4e5f6a7b8c9 stored): a
# placeholder in English, shown to each reader in their language (dashboard.labels.person).
DEFAULT_ADMIN_NAME = "Company administrator"


def first_admin(session: Session, address: str, *, name: str = "", login: str = "") -> StaffUser:
    """The company's first admin (created at onboarding; it owns the keys issued by the operator), named
    and with the login the operator gave, else a placeholder the admin can change."""
    user = session.exec(
        select(StaffUser).where(StaffUser.address == address).order_by(col(StaffUser.user_id))
    ).first()
    if user is None:
        user = StaffUser(
            address=address,
            login=login.strip().lower() or f"admin@{address.lower()}",
            name=name.strip()[:200] or DEFAULT_ADMIN_NAME,
            roles=FIRST_ADMIN_ROLES,
            created_at=_now(),
        )
        session.add(user)
        session.flush()
    return user


def check_new_login(session: Session, login: str) -> None:
    """Conflict (or InvalidRequest) unless `login` can be given to a new user: checked before an
    onboarding goes on chain, so that a taken login never leaves a registration half done."""
    login = login.strip().lower()
    if len(login) > 120 or (login and "@" not in login):
        raise InvalidRequest("the first admin's login is an e-mail address of at most 120 characters",
                             code="invalid_login")  # fmt: skip
    if login and session.exec(select(StaffUser).where(StaffUser.login == login)).first() is not None:
        raise Conflict(
            i18n.gettext("The login %(login)s is taken; choose another.", login=login), code="login_taken"
        )


def create_user(
    *, session: Session, engine: Engine, by: Actor, company: str, login: str, name: str,
    roles: list[str] | str, password: str, origin: Origin | None = None,
) -> StaffUser:  # fmt: skip
    """Invite a user into `company` (by its admin, or the operator for the first admin)."""
    if len(password) < 12:
        raise InvalidRequest("choose a password of at least 12 characters", code="weak_password")
    login = login.strip().lower()
    if not login or len(login) > 120:
        raise InvalidRequest(
            "give a login (an e-mail address) of at most 120 characters", code="invalid_login"
        )
    roles_text = parse_roles(roles)
    # Hashed before the login is looked up: the slow hash (argon2) must not sit between this
    # transaction's read and its write (SQLite: a write that lands meanwhile voids the read snapshot).
    password_hash = _hasher.hash(password)
    if session.exec(select(StaffUser).where(StaffUser.login == login)).first() is not None:
        raise Conflict(
            i18n.gettext("the login %(login)s is taken; choose another", login=login), code="login_taken"
        )
    user = StaffUser(
        address=company,
        login=login,
        name=name.strip()[:200] or login,
        roles=roles_text,
        password_hash=password_hash,
        created_at=_now(),
    )
    session.add(user)
    session.commit()
    session.refresh(user)
    audit_trail.record(
        engine, actor=by, action="user.create", outcome="ok",
        detail=f"user {user.user_id} {user.login} ({user.name}) roles {user.roles}", origin=origin,
    )  # fmt: skip
    return user


def get_user(session: Session, *, company: str | None, user_id: int) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None or (company is not None and user.address != company):
        raise NotFound(
            i18n.gettext("no user %(user_id)s in your company", user_id=user_id), code="unknown_user"
        )
    return user


def list_users(session: Session, company: str) -> list[StaffUser]:
    return list(
        session.exec(select(StaffUser).where(StaffUser.address == company).order_by(col(StaffUser.user_id)))
    )


def set_roles(
    *,
    session: Session,
    engine: Engine,
    by: Actor,
    user_id: int,
    roles: list[str],
    origin: Origin | None = None,
) -> StaffUser:
    user = get_user(session, company=by.company, user_id=user_id)
    new = parse_roles(roles)
    if user.user_id == by.user_id and "admin" not in role_set(new):
        raise Conflict("you cannot remove your own admin role; ask another admin", code="self_demotion")
    old, user.roles = user.roles, new
    session.add(user)
    session.commit()
    audit_trail.record(
        engine, actor=by, action="user.roles", outcome="ok",
        detail=f"user {user_id} {user.login}: {old} -> {new}", origin=origin,
    )  # fmt: skip
    return user


def set_disabled(
    *, session: Session, engine: Engine, by: Actor, user_id: int, disabled: bool, origin: Origin | None = None
) -> StaffUser:
    user = get_user(session, company=by.company, user_id=user_id)
    if user.user_id == by.user_id and disabled:
        raise Conflict("you cannot disable yourself; ask another admin", code="self_disable")
    user.disabled_at = _now() if disabled else None
    if not disabled:
        user.failed_attempts, user.locked_until = 0, None
    session.add(user)
    if disabled:  # sessions end now; keys are refused because the user is disabled
        session.execute(
            update(StaffSession)
            .where(col(StaffSession.user_id) == user_id, col(StaffSession.revoked_at).is_(None))
            .values(revoked_at=_now())
        )
    session.commit()
    audit_trail.record(
        engine, actor=by, action="user.disable" if disabled else "user.enable", outcome="ok",
        detail=f"user {user_id} {user.login}", origin=origin,
    )  # fmt: skip
    return user


def set_language(session: Session, *, user_id: int, language: str) -> None:
    """Remember the dashboard language a person chose (zh_CN | en), on every device they sign in from."""
    if language not in LANGUAGES:
        raise InvalidRequest(
            i18n.gettext(
                "Language %(language)s is not offered; choose one of %(offered)s.",
                language=language,
                offered=i18n.translate(", ").join(LANGUAGES),
            )
        )
    session.exec(update(StaffUser).where(col(StaffUser.user_id) == user_id).values(language=language))
    session.commit()


def set_password(
    *, session: Session, engine: Engine, user: StaffUser, password: str, origin: Origin | None = None
) -> None:
    """A person sets their own password (the first admin, created at onboarding, has none)."""
    if len(password) < 12:
        raise InvalidRequest("choose a password of at least 12 characters", code="weak_password")
    hashed = _hasher.hash(password)  # slow on purpose (argon2): never inside an open transaction
    # End the read snapshot the user was loaded in: on SQLite (WAL) a snapshot older than a write that
    # landed during the hash cannot be upgraded to write (SQLITE_BUSY_SNAPSHOT, no busy wait).
    session.commit()
    user.password_hash = hashed
    session.add(user)
    session.commit()
    audit_trail.record(engine, actor=actor_of(user), action="user.password", outcome="ok", origin=origin)


# -- second factor -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg: str  # rendered here (segno), never by a third-party service: the secret stays on the platform


def _totp_key(master_key: str) -> bytes:
    return derive_key(master_key, _TOTP_LABEL)


def start_enrolment(*, session: Session, master_key: str, user: StaffUser) -> Enrolment:
    """A new TOTP secret for `user`; it takes effect once `confirm_enrolment` sees a valid code."""
    if user.totp_enabled:
        # Re-enrolling would replace a working factor with one whoever holds this key controls.
        raise Conflict(
            "a second factor is enrolled already; ask your company's admin to reset it first",
            code="totp_enrolled",
        )
    secret = pyotp.random_base32()
    user.totp_sealed = seal(_totp_key(master_key), secret.encode(), user.login.encode())
    user.totp_enabled = False
    session.add(user)
    session.commit()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.login, issuer_name="Tierflow")
    qr = segno.make(uri, error="m")
    return Enrolment(secret=secret, uri=uri, qr_svg=qr.svg_inline(scale=4))


def _totp_secret(master_key: str, user: StaffUser) -> str | None:
    if user.totp_sealed is None:
        return None
    return unseal(_totp_key(master_key), user.totp_sealed, user.login.encode()).decode()


def confirm_enrolment(
    *,
    session: Session,
    engine: Engine,
    master_key: str,
    user: StaffUser,
    code: str,
    origin: Origin | None = None,
) -> None:
    secret = _totp_secret(master_key, user)
    if secret is None:
        raise Conflict("start the enrolment first (POST /v1/me/totp)", code="totp_not_started")
    if not pyotp.TOTP(secret).verify(code.strip(), valid_window=1):
        raise InvalidRequest("that code is not valid; type the current 6-digit code", code="invalid_totp")
    user.totp_enabled = True
    session.add(user)
    session.commit()
    audit_trail.record(engine, actor=actor_of(user), action="user.totp_enrolled", outcome="ok", origin=origin)


def reset_second_factor(
    *, session: Session, engine: Engine, by: Actor, user_id: int, origin: Origin | None = None
) -> StaffUser:
    user = get_user(session, company=by.company, user_id=user_id)
    user.totp_sealed, user.totp_enabled = None, False
    session.add(user)
    session.commit()
    audit_trail.record(
        engine,
        actor=by,
        action="user.totp_reset",
        outcome="ok",
        detail=f"user {user_id} {user.login}",
        origin=origin,
    )
    return user


# -- sign-in and sessions ----------------------------------------------------------------------------
def sign_in(
    *, session: Session, engine: Engine, master_key: str, login: str, password: str, code: str,
    origin: Origin | None = None, now: int | None = None, limits: throttle.Limits = throttle.DEFAULT_LIMITS,
) -> str:  # fmt: skip
    """Password, then the TOTP code, give a new session's id; MAX_FAILURES wrong answers lock the account,
    and `limits` failed attempts from one address make it wait (TooManyAttempts)."""
    now = _now() if now is None else now
    # End any read transaction first: on SQLite (WAL) a snapshot older than the audit trail's last
    # append cannot be upgraded to write the failure counter (SQLITE_BUSY_SNAPSHOT).
    session.commit()
    # Before any password is hashed: a flood of guesses from one address costs it a wait, not us CPU.
    throttle.check(engine, origin, limits, now)
    login = login.strip().lower()
    user = session.exec(select(StaffUser).where(StaffUser.login == login)).first()
    unknown = Unauthenticated("wrong login, password or code", code="invalid_credentials")
    if user is None:
        _hasher.hash(password)  # same work as a known login: timing does not reveal which logins exist
        audit_trail.record(
            engine, actor=Actor(), action="signin", outcome="unknown_login", detail=login[:120], origin=origin
        )
        raise unknown
    actor = actor_of(user)
    if user.disabled_at is not None:
        audit_trail.record(engine, actor=actor, action="signin", outcome="disabled", origin=origin)
        raise Forbidden("this user is disabled; ask your company's admin", code="user_disabled")
    if user.locked_until is not None and user.locked_until > now:
        audit_trail.record(engine, actor=actor, action="signin", outcome="locked", origin=origin)
        raise Forbidden(
            i18n.gettext(
                "too many failed sign-ins; try again after %(seconds)s s or ask your admin",
                seconds=user.locked_until - now,
            ),
            code="account_locked",
        )
    good = user.password_hash is not None and _password_ok(user.password_hash, password)
    secret = _totp_secret(master_key, user) if user.totp_enabled else None
    step = _code_step(secret, code, now) if good and secret is not None else None
    if secret is not None and (step is None or step <= (user.totp_last_step or -1)):
        good = False  # a wrong code, or one already used to sign in (an overheard code is spent)
    if not good:
        user.failed_attempts += 1
        if user.failed_attempts >= MAX_FAILURES:
            user.locked_until, user.failed_attempts = now + LOCK_SECONDS, 0
        session.add(user)
        session.commit()
        audit_trail.record(
            engine, actor=actor, action="signin", origin=origin,
            outcome="locked_now" if user.locked_until and user.locked_until > now else "failed",
        )  # fmt: skip
        raise unknown
    if secret is None:
        # A password alone is not enough: the person must enrol a second factor first.
        audit_trail.record(engine, actor=actor, action="signin", outcome="needs_totp", origin=origin)
        raise Forbidden(
            "enrol a second factor first: ask your admin for an enrolment, or sign in with your API key "
            "and POST /v1/me/totp",
            code="totp_required",
        )
    user.failed_attempts, user.locked_until, user.totp_last_step = 0, None, step
    origin = origin or Origin()
    staff_session = StaffSession(
        session_id=secrets.token_hex(16),
        user_id=int(user.user_id or 0),
        created_at=now,
        expires_at=now + SESSION_SECONDS,
        ip=origin.ip[:64],
        user_agent=origin.user_agent[:200],
    )
    session_id = staff_session.session_id
    session.add(user)
    session.add(staff_session)
    session.commit()
    audit_trail.record(engine, actor=actor, action="signin", outcome="ok", origin=origin)
    return session_id


def _code_step(secret: str, code: str, now: int) -> int | None:
    """The 30-second step `code` belongs to (this one, the one before or after), or None."""
    totp = pyotp.TOTP(secret)
    for step in (now // 30, now // 30 - 1, now // 30 + 1):
        if secrets.compare_digest(totp.at(step * 30), code.strip()):
            return step
    return None


def _password_ok(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def enrolment_code(master_key: str, user: StaffUser) -> str:
    """The current TOTP code of `user` (tests and the demo seed; a person reads it from their app)."""
    secret = _totp_secret(master_key, user)
    if secret is None:
        raise Conflict("no second factor enrolled", code="totp_not_started")
    return pyotp.TOTP(secret).now()


def session_user(session: Session, session_id: str, now: int | None = None) -> StaffUser | None:
    """The user of a live session; None once it expired, was revoked, or the user was disabled."""
    now = _now() if now is None else now
    row = session.get(StaffSession, session_id)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(StaffUser, row.user_id)
    if user is None or user.disabled_at is not None:
        return None
    return user


def revoke_session(
    *, session: Session, engine: Engine, session_id: str, origin: Origin | None = None
) -> None:
    row = session.get(StaffSession, session_id)
    if row is None or row.revoked_at is not None:
        return
    row.revoked_at = _now()
    session.add(row)
    session.commit()
    user = session.get(StaffUser, row.user_id)
    if user is not None:
        audit_trail.record(engine, actor=actor_of(user), action="signout", outcome="ok", origin=origin)


# -- API keys per user -------------------------------------------------------------------------------
def issue_user_key(
    *, session: Session, engine: Engine, by: Actor, user_id: int, scopes: list[str], days: int,
    label: str = "", origin: Origin | None = None,
) -> tuple[str, ApiKey]:  # fmt: skip
    """A key for one user with `scopes` (read, or read and write) expiring in `days`; shown once."""
    user = get_user(session, company=by.company, user_id=user_id)
    wanted = {s.strip() for s in scopes}
    if not wanted or not wanted <= {"read", "write"}:
        raise InvalidRequest("scopes must be read, or read and write", code="invalid_scopes")
    if not 1 <= days <= 366:
        raise InvalidRequest(
            "a key lives 1 to 366 days; issue a new one before it expires", code="invalid_expiry"
        )
    issued = new_api_key()
    key = ApiKey(
        key_id=issued.key_id,
        address=user.address,
        key_hash=hash_api_key(issued.secret),
        label=label[:64],
        created_at=_now(),
        user_id=user.user_id,
        scopes=",".join(s for s in ("read", "write") if s in wanted | {"read"}),
        expires_at=_now() + days * 86_400,
    )
    session.add(key)
    session.commit()
    audit_trail.record(
        engine, actor=by, action="apikey.issue", outcome="ok",
        detail=f"key {key.key_id} for user {user_id} scopes {key.scopes} expires {key.expires_at}",
        origin=origin,
    )  # fmt: skip
    return issued.token, key


def svg_data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
