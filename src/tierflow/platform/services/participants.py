"""Participant directory: onboarding after KYB, suspension, API keys and authentication."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NoReturn

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col
from web3 import Web3

from tierflow.chain.demo import entity_hash
from tierflow.chain.gateway import Call
from tierflow.chain.vocabulary import ROLE_BITS, role_names
from tierflow.errors import TransactionOutcomeUnknown
from tierflow.platform import i18n
from tierflow.platform.models.registry import Participant
from tierflow.platform.models.service import ApiKey, DirectoryParticipant
from tierflow.platform.models.staff import StaffUser
from tierflow.platform.security.crypto import (
    CUSTODY_LABEL,
    api_key_matches,
    derive_key,
    entity_salt,
    hash_api_key,
    new_api_key,
    normalise_legal_id,
    parse_api_key,
    seal,
    unseal,
)
from tierflow.platform.services import group_commit, keyset, readcache, throttle
from tierflow.platform.services.audit_trail import Actor, Origin
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthenticated
from tierflow.platform.services.schemas import times
from tierflow.platform.services.schemas.certificates import (
    ApiKeyCreated,
    ApiKeyPublic,
    CursorPage,
    ParticipantCreate,
    ParticipantCreated,
    ParticipantPublic,
    TxResult,
)
from tierflow.platform.services.users import check_new_login, first_admin


@dataclass(frozen=True)
class Caller:
    """The authenticated participant of a request."""

    address: str
    roles: int
    is_operator: bool
    custody: str
    status: str
    legal_name: str
    # The person inside the company (staff user), their roles there, and the key's scopes. Callers
    # built without a user (internal tools) act as a company admin with every staff role.
    user_id: int | None = None
    user_name: str = ""
    staff_roles: frozenset[str] = frozenset({"admin", "maker", "checker"})
    scopes: frozenset[str] = frozenset({"read", "write"})
    origin: Origin = field(default_factory=Origin)

    @property
    def actor(self) -> Actor:
        return Actor(company=self.address, user_id=self.user_id, user_name=self.user_name or self.legal_name)

    def has(self, bits: int) -> bool:
        return bool(self.roles & bits)

    @property
    def is_auditor(self) -> bool:
        return self.has(ROLE_BITS["auditor"])

    @property
    def sees_everything(self) -> bool:
        return self.is_auditor or self.is_operator


def public(row: DirectoryParticipant) -> ParticipantPublic:
    return ParticipantPublic(
        address=row.address,
        legal_name=row.legal_name,
        roles=(["operator"] if row.is_operator else []) + role_names(row.roles),
        contact=row.contact,
        status=row.status,
        custody=row.custody,
        is_operator=row.is_operator,
        entity_hash=row.entity_hash,
        created_at=row.created_at,
    )


# Statements of every authenticated request, built once: a statement object memoises its cache key,
# and building and keying one per request costs ~0.3 ms of SQLAlchemy work, ten times SQLite's.
PEOPLE = DirectoryParticipant.__table__  # type: ignore[attr-defined]
_KEYS = ApiKey.__table__  # type: ignore[attr-defined]
_USERS = StaffUser.__table__  # type: ignore[attr-defined]
_KEY_LOOKUP = (
    select(
        _KEYS.c.key_hash,
        _KEYS.c.revoked_at,
        _KEYS.c.scopes,
        _KEYS.c.expires_at,
        _USERS.c.user_id,
        _USERS.c.name.label("user_name"),
        _USERS.c.roles.label("staff_roles"),
        _USERS.c.disabled_at,
        PEOPLE.c.address,
        PEOPLE.c.roles,
        PEOPLE.c.is_operator,
        PEOPLE.c.custody,
        PEOPLE.c.status,
        PEOPLE.c.legal_name,
        # Read here for the response cache (readcache.note_version): one round trip for both.
        readcache.DATA_VERSION_COLUMN,
    )  # fmt: skip
    .join(PEOPLE, PEOPLE.c.address == _KEYS.c.address)
    .outerjoin(_USERS, _USERS.c.user_id == _KEYS.c.user_id)
    .where(_KEYS.c.key_id == bindparam("key_id"))
)


def _refuse(
    session: Session, origin: Origin | None, message: str, code: str, limits: throttle.Limits
) -> NoReturn:
    """Record the failed key attempt in the audit trail (429 once the address is over its limit)."""
    bind = session.get_bind()
    session.close()  # the audit append takes its own connection; hand this one back first
    throttle.refused_key(bind if isinstance(bind, Engine) else bind.engine, origin, code, limits)
    raise Unauthenticated(message, code=code)


def authenticate(
    *,
    session: Session,
    token: str | None,
    origin: Origin | None = None,
    limits: throttle.Limits = throttle.DEFAULT_LIMITS,
) -> Caller:
    if not token:
        raise Unauthenticated("send your API key in the X-API-Key header", code="missing_api_key")
    parsed = parse_api_key(token)
    if parsed is None:
        _refuse(session, origin, "the API key is malformed (tf_<id>_<secret>)", "invalid_api_key", limits)
    key_id, secret = parsed
    # One indexed lookup per request (key id → key and participant), then a constant-time compare.
    row = session.execute(_KEY_LOOKUP, {"key_id": key_id}).mappings().first()
    if row is None or not api_key_matches(secret, row["key_hash"]):
        _refuse(
            session,
            origin,
            "the API key is unknown; ask the operator for a new one",
            "invalid_api_key",
            limits,
        )
    if row["revoked_at"] is not None:
        _refuse(
            session,
            origin,
            "the API key was revoked; ask the operator for a new one",
            "revoked_api_key",
            limits,
        )
    if row["expires_at"] is not None and row["expires_at"] <= _now():
        _refuse(
            session,
            origin,
            "the API key has expired; ask your company's admin for a new one",
            "expired_api_key",
            limits,
        )
    if row["disabled_at"] is not None:
        _refuse(
            session, origin, "the user this API key belongs to is disabled; ask your company's admin",
            "user_disabled", limits,
        )  # fmt: skip
    readcache.note_version(row["data_version"])
    extra = {}
    if row["user_id"] is not None:
        extra = {
            "user_id": int(row["user_id"]),
            "user_name": str(row["user_name"]),
            "staff_roles": frozenset(str(row["staff_roles"]).split(",")),
        }
    return Caller(
        address=row["address"],
        roles=row["roles"],
        is_operator=row["is_operator"],
        custody=row["custody"],
        status=row["status"],
        legal_name=row["legal_name"],
        scopes=frozenset(str(row["scopes"] or "read,write").split(",")),
        origin=origin or Origin(),
        **extra,  # type: ignore[arg-type]
    )


def custodial_account(*, ctx: ServiceContext, session: Session, address: str) -> LocalAccount:
    """The signing account of a custodial participant, from its sealed key as the directory holds it now.

    The row is read on every write (a recovered or rotated key, or a switch to self custody, counts at
    once); the unsealed account is kept per sealed blob: deriving, decrypting and building the account
    again cost ~0.3 ms of CPU per write.
    """
    sealed = _SEALED_KEYS.get_for(
        session, address, lambda: session.execute(_SEALED_KEY, {"address": address}).scalar_one_or_none()
    )
    if sealed is None:
        raise Forbidden(
            i18n.gettext("%(address)s signs its own requests (self custody)", address=address),
            code="self_custody",
        )
    accounts: dict[tuple[str, bytes], LocalAccount] = ctx.extra.setdefault("custodial_accounts", {})
    account = accounts.get((address, bytes(sealed)))
    if account is None:
        key = unseal(derive_key(ctx.settings.master_key, CUSTODY_LABEL), sealed, address.encode())
        account = Account.from_key(key)
        if len(accounts) >= 4096:  # a directory rotating keys without end must not grow this forever
            accounts.clear()
        accounts[(address, bytes(sealed))] = account
    return account


_SEALED_KEY = select(PEOPLE.c.encrypted_key).where(PEOPLE.c.address == bindparam("address"))
_SEALED_KEYS_READ = select(PEOPLE.c.address, PEOPLE.c.encrypted_key).where(
    PEOPLE.c.address.in_(bindparam("addresses", expanding=True))
)


def _read_sealed_keys(conn: Connection, addresses: list[str]) -> dict[str, bytes]:
    rows = conn.execute(_SEALED_KEYS_READ, {"addresses": addresses})
    return {str(row.address): bytes(row.encrypted_key) for row in rows if row.encrypted_key is not None}


_SEALED_KEYS: group_commit.Lookups[str, bytes] = group_commit.Lookups(_read_sealed_keys)


def seal_key(*, ctx: ServiceContext, address: str, private_key: bytes) -> bytes:
    return seal(derive_key(ctx.settings.master_key, CUSTODY_LABEL), private_key, address.encode())


def issue_api_key(
    *,
    session: Session,
    address: str,
    label: str = "",
    token: str | None = None,
    admin: tuple[str, str] = ("", ""),
) -> str:
    """Create an API key for `address`; returns the token (shown once)."""
    if token is None:
        issued = new_api_key()
        key_id, secret, token = issued.key_id, issued.secret, issued.token
    else:
        parsed = parse_api_key(token)
        assert parsed is not None, "a fixed token must look like tf_<id>_<secret>"
        key_id, secret = parsed
    # Keys the operator issues belong to the company's first admin (created here at onboarding, with
    # the `admin` (name, login) the operator gave).
    owner = first_admin(session, address, name=admin[0], login=admin[1])
    session.add(
        ApiKey(
            key_id=key_id,
            address=address,
            key_hash=hash_api_key(secret),
            label=label,
            created_at=_now(),
            user_id=owner.user_id,
        )
    )
    return token


def onboard(*, ctx: ServiceContext, session: Session, data: ParticipantCreate) -> ParticipantCreated:
    """Register on chain (operator transaction), then record the directory entry and an API key."""
    legal_id = normalise_legal_id(data.legal_id)
    existing = session.execute(
        select(DirectoryParticipant).where(col(DirectoryParticipant.legal_id) == legal_id)
    ).scalar_one_or_none()
    if existing is not None:
        _refuse_duplicate(session=session, row=existing, legal_id=legal_id)
    check_new_login(session, data.admin_login)
    roles = 0
    for name in data.roles:
        roles |= ROLE_BITS[name]
    sealed: bytes | None = None
    if data.custody == "custodial":
        if data.address is not None:
            raise InvalidRequest("custodial participants get a platform-created key; omit `address`")
        account = Account.create()
        address = str(account.address)
        sealed = seal_key(ctx=ctx, address=address, private_key=bytes(account.key))
    else:
        if data.address is None:
            raise InvalidRequest("self-custody participants must give the `address` of their key")
        address = data.address
    existing = session.get(DirectoryParticipant, address)
    if existing is not None:
        _refuse_duplicate(session=session, row=existing, legal_id=None)
    digest = entity_hash(legal_id, entity_salt(ctx.settings.master_key, address))
    gateway = ctx.gateway()
    # End the read transaction: on SQLite (WAL) a transaction that read before another connection
    # committed cannot start writing (SQLITE_BUSY_SNAPSHOT); the writes below start a fresh one.
    session.commit()
    row = DirectoryParticipant(
        address=address,
        legal_name=data.legal_name,
        legal_id=legal_id,
        contact=data.contact,
        roles=roles,
        custody=data.custody,
        encrypted_key=sealed,
        entity_hash="0x" + digest.hex(),
        created_at=_now(),
    )
    session.add(row)
    try:
        # Constraint violations surface here, before anything goes on chain; the chain transaction
        # then runs inside the open DB transaction, so a revert rolls the directory entry back too.
        session.flush()
    except IntegrityError as error:
        session.rollback()
        raise Conflict("the participant was onboarded concurrently", code="duplicate_participant") from error
    try:
        outcome = gateway.send_direct(
            ctx.operator, Call("ParticipantRegistry", "register", (address, roles, digest))
        )
    except TransactionOutcomeUnknown:
        # The registration may still be mined: keep the entry (without an API key) as `pending`, so
        # that a retry neither sends it again nor loses the custodial key; see `onboarded`.
        row.status = "pending"
        session.commit()
        raise
    except BaseException:
        session.rollback()
        raise
    token = issue_api_key(
        session=session, address=address, label="onboarding", admin=(data.admin_name, data.admin_login)
    )
    session.commit()
    ctx.link.wait_for(outcome.block_number, ctx.index_timeout)
    session.refresh(row)
    return ParticipantCreated(participant=public(row), api_key=token, tx_hash=outcome.tx_hash)


def onboarded(*, session: Session, result: TxResult) -> ParticipantCreated:
    """The onboarding answer for a `register` transaction that a retry found mined (its receipt had
    timed out): the pending entry becomes active and gets its first API key, shown now."""
    address = next(
        (str(e.args["account"]) for e in result.events if e.event == "ParticipantRegistered"), None
    )
    row = None if address is None else session.get(DirectoryParticipant, address)
    if row is None:
        raise NotFound(
            i18n.gettext(
                "Transaction %(tx)s registered no participant of the directory: onboard the participant "
                "again with a new Idempotency-Key.",
                tx=result.tx_hash,
            ),
            code="participant_not_found",
        )
    has_key = session.execute(select(_KEYS.c.key_id).where(_KEYS.c.address == row.address)).first()
    if has_key is not None:
        raise Conflict(
            i18n.gettext(
                "%(name)s (%(address)s) is onboarded and already has an API key; issue a new one with "
                "POST /v1/operator/participants/%(address)s/api-keys.",
                name=row.legal_name,
                address=row.address,
            ),
            code="duplicate_address",
            details={"address": row.address, "tx_hash": result.tx_hash},
        )
    pending, target = row.status == "pending", row.address  # read before the commit (see set_status)
    session.commit()  # fresh transaction for the write (see onboard)
    if pending:
        row.status = "active"
        session.add(row)
    token = issue_api_key(session=session, address=target, label="onboarding")
    session.commit()
    session.refresh(row)
    return ParticipantCreated(participant=public(row), api_key=token, tx_hash=result.tx_hash)


def drop_pending(*, session: Session, data: ParticipantCreate) -> None:
    """Forget the pending entry of an onboarding whose registration never reached the node (so that
    the same request may run again); an entry whose registration is on chain stays."""
    legal_id = normalise_legal_id(data.legal_id)
    row = session.execute(
        select(DirectoryParticipant).where(col(DirectoryParticipant.legal_id) == legal_id)
    ).scalar_one_or_none()
    if row is not None and row.status == "pending" and session.get(Participant, row.address) is None:
        session.delete(row)
    session.commit()


def _refuse_duplicate(*, session: Session, row: DirectoryParticipant, legal_id: str | None) -> NoReturn:
    """409 for an onboarding request whose participant is in the directory, pending ones included: by
    its legal id (`legal_id`), else by its address."""
    known = {"legal_id": legal_id, "name": row.legal_name, "address": row.address}
    if row.status == "pending" and session.get(Participant, row.address) is not None:
        # Its registration was mined after the receipt timed out and the indexer has it.
        session.commit()
        row.status = "active"
        session.add(row)
        session.commit()
    if row.status == "pending":
        raise Conflict(
            i18n.gettext(
                "A participant with legal id %(legal_id)s is being onboarded as %(name)s (%(address)s): its "
                "registration was sent but its outcome is not known yet. Do not onboard it again; retry "
                "with the first request's Idempotency-Key to get its API key, or retry later.",
                **known,
            )
            if legal_id
            else i18n.gettext(
                "Address %(address)s is being onboarded as %(name)s: its registration was sent but its "
                "outcome is not known yet. Do not onboard it again; retry with the first request's "
                "Idempotency-Key to get its API key, or retry later.",
                **known,
            ),
            code="onboarding_pending",
            details={"address": row.address},
        )
    code = "duplicate_legal_id" if legal_id else "duplicate_address"
    raise Conflict(
        i18n.gettext(
            "A participant with legal id %(legal_id)s is already onboarded as %(name)s (%(address)s); if "
            "it has no API key yet, issue one with POST /v1/operator/participants/%(address)s/api-keys.",
            **known,
        )
        if legal_id
        else i18n.gettext(
            "Address %(address)s is already onboarded as %(name)s; if it has no API key yet, issue one "
            "with POST /v1/operator/participants/%(address)s/api-keys.",
            **known,
        ),
        code=code,
        details={"address": row.address},
    )


_PROFILE = select(
    PEOPLE.c.address,
    PEOPLE.c.legal_name,
    PEOPLE.c.roles,
    PEOPLE.c.contact,
    PEOPLE.c.status,
    PEOPLE.c.custody,
    PEOPLE.c.is_operator,
    PEOPLE.c.entity_hash,
    PEOPLE.c.created_at,
).where(PEOPLE.c.address == bindparam("address"))  # built once, as _KEY_LOOKUP


def profile(*, session: Session, address: str) -> dict[str, object]:
    """`public()` of a participant as plain JSON-ready data (the shape of ParticipantPublic).

    GET /v1/me is the cheapest authenticated call; loading the row through the ORM (identity map,
    the sealed key column) and validating a model cost more than the request's SQL. One Core row.
    """
    row = session.execute(_PROFILE, {"address": _address(address)}).first()
    if row is None:
        raise NotFound(
            i18n.gettext("participant %(address)s is not in the directory", address=address),
            code="participant_not_found",
        )
    # Same keys, order and values as ParticipantPublic (tests/api compares the two).
    return {
        "address": row.address,
        "legal_name": row.legal_name,
        "roles": (["operator"] if row.is_operator else []) + role_names(row.roles),
        "contact": row.contact,
        "status": row.status,
        "custody": row.custody,
        "is_operator": bool(row.is_operator),
        "entity_hash": row.entity_hash,
        "created_at": times.iso_instant(int(row.created_at)),
    }


def get(*, session: Session, address: str) -> DirectoryParticipant:
    row = session.get(DirectoryParticipant, _address(address))
    if row is None:
        raise NotFound(
            i18n.gettext("participant %(address)s is not in the directory", address=address),
            code="participant_not_found",
        )
    return row


ADDRESS_PATTERN = r"0x[0-9a-fA-F]{40}"  # an address as the directory stores it (a cursor's second part)


def listing(
    *,
    session: Session,
    role: str | None,
    status: str | None,
    limit: int,
    offset: int,
    after: str | None = None,
) -> CursorPage[ParticipantPublic]:
    """A keyset page of the directory in onboarding order, (created_at, address), after the opaque cursor
    `after` (services.keyset), through ix_participant_directory_created_address."""
    start = keyset.decode_cursor(after, (int, str), pattern=ADDRESS_PATTERN)
    query = select(DirectoryParticipant)
    if role is not None:
        if role == "operator":
            query = query.where(col(DirectoryParticipant.is_operator).is_(True))
        else:
            query = query.where(col(DirectoryParticipant.roles).op("&")(ROLE_BITS[role]) != 0)
    if status is not None:
        query = query.where(col(DirectoryParticipant.status) == status)
    keys = (col(DirectoryParticipant.created_at), col(DirectoryParticipant.address))
    rows, count, following = keyset.composite_rows(
        session, query, keys, after=start, limit=limit, offset=offset
    )
    return CursorPage(
        data=[public(r) for r in rows], count=count, limit=limit, offset=offset, next_after=following
    )


def set_status(*, ctx: ServiceContext, session: Session, address: str, suspend: bool) -> ParticipantPublic:
    row = get(session=session, address=address)
    if row.is_operator:
        raise Forbidden("the operator cannot be suspended", code="operator_immutable")
    target = row.address  # read now: after the commit `row` is expired, and reading it begins a transaction
    # End the read transaction before the chain call (see onboard). Reading the expired `row` for the
    # call began a new one, held across the block the call waits for; once the indexer committed that
    # block, SQLite refused this transaction's write at once (SQLITE_BUSY_SNAPSHOT): a 503 "database is
    # locked" for a suspension that was on chain.
    session.commit()
    outcome = ctx.gateway().send_direct(
        ctx.operator, Call("ParticipantRegistry", "suspend" if suspend else "reinstate", (target,))
    )
    row.status = "suspended" if suspend else "active"
    session.add(row)
    session.commit()
    ctx.link.wait_for(outcome.block_number, ctx.index_timeout)
    session.refresh(row)
    return public(row)


def rotate_key(*, session: Session, address: str, label: str) -> ApiKeyCreated:
    target = get(session=session, address=address).address
    session.commit()  # fresh transaction for the write (see onboard and set_status)
    token = issue_api_key(session=session, address=target, label=label)
    session.commit()
    parsed = parse_api_key(token)
    assert parsed is not None
    return ApiKeyCreated(key_id=parsed[0], api_key=token)


def revoke_key(*, session: Session, address: str, key_id: str) -> ApiKeyPublic:
    key = session.get(ApiKey, key_id)
    if key is None or key.address != _address(address):
        raise NotFound(
            i18n.gettext("API key %(key_id)s of %(address)s does not exist", key_id=key_id, address=address),
            code="api_key_not_found",
        )
    if key.revoked_at is None:
        session.commit()  # fresh transaction for the write (see onboard)
        key.revoked_at = _now()
        session.add(key)
        session.commit()
    return ApiKeyPublic(
        key_id=key.key_id, label=key.label, created_at=key.created_at, revoked_at=key.revoked_at
    )


def keys_of(*, session: Session, address: str) -> list[ApiKeyPublic]:
    row = get(session=session, address=address)
    keys = session.execute(
        select(ApiKey).where(col(ApiKey.address) == row.address).order_by(col(ApiKey.created_at))
    ).scalars()
    return [
        ApiKeyPublic(key_id=k.key_id, label=k.label, created_at=k.created_at, revoked_at=k.revoked_at)
        for k in keys
    ]


def ensure_directory_entry(
    *,
    ctx: ServiceContext,
    session: Session,
    account: LocalAccount,
    legal_name: str,
    legal_id: str,
    roles: int,
    is_operator: bool = False,
    api_key: str | None = None,
    entity: bytes | None = None,
) -> None:
    """Add an already-registered participant (dev seeding, the operator) to the directory, idempotently."""
    address = str(account.address)
    if session.get(DirectoryParticipant, address) is None:
        session.add(
            DirectoryParticipant(
                address=address,
                legal_name=legal_name,
                legal_id=normalise_legal_id(legal_id),
                roles=roles,
                is_operator=is_operator,
                custody="custodial",
                encrypted_key=seal_key(ctx=ctx, address=address, private_key=bytes(account.key)),
                entity_hash="0x" + (entity or bytes(32)).hex(),
                created_at=_now(),
            )
        )
    if api_key is not None:
        parsed = parse_api_key(api_key)
        if parsed is not None and session.get(ApiKey, parsed[0]) is None:
            issue_api_key(session=session, address=address, label="dev", token=api_key)
    session.commit()


def _address(value: str) -> str:
    if not Web3.is_address(value):
        raise NotFound(i18n.gettext("%(value)s is not an address", value=value), code="participant_not_found")
    return str(Web3.to_checksum_address(value))


def _now() -> int:
    return int(time.time())
