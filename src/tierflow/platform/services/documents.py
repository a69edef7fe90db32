"""Backing documents: AES-GCM encrypted at rest, invoice hashes deterministic platform-wide, party reads."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Container, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, bindparam, delete, literal_column, select, union_all, update
from sqlalchemy.engine import Connection
from sqlmodel import Session, col

from tierflow.platform import i18n
from tierflow.platform.models.bills import BillInvoice, BillPackage
from tierflow.platform.models.documents import Document
from tierflow.platform.models.receivables import Payable
from tierflow.platform.models.service import DirectoryParticipant, StoredDocument
from tierflow.platform.security.crypto import DOCUMENT_LABEL, derive_key, invoice_hash, seal, unseal
from tierflow.platform.security.invoice_keys import InvoiceKeyError, canonical_invoice
from tierflow.platform.services import (
    access,
    audit_trail,
    group_commit,
    invoice_files,
    keyset,
    names,
    queries,
)
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.errors import Conflict, Forbidden, InvalidRequest, NotFound, ServiceError
from tierflow.platform.services.group_commit import Alike
from tierflow.platform.services.participants import Caller
from tierflow.platform.services.schemas.certificates import CursorPage, DocumentPublic

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
DOCUMENT_KINDS = ("invoice", "contract", "delivery", "other")


def upload(
    *,
    ctx: ServiceContext,
    session: Session,
    caller: Caller,
    content: bytes,
    filename: str,
    content_type: str,
    kind: str,
    seller: str,
    invoice_number: str | None,
    invoice_code: str | None = None,
    invoice_amount: int | None = None,
) -> DocumentPublic:
    """Store an encrypted document; an invoice gets the on-chain key of (seller's legal id, code ‖ number).

    The number is stored in canonical form (the digits of code ‖ number): every way of typing one
    invoice gives one key, so it can back one asset only.
    """
    _check_size(content)
    supplier = session.get(DirectoryParticipant, seller)
    if supplier is None:
        raise NotFound(
            i18n.gettext("seller %(seller)s is not a participant", seller=seller),
            code="participant_not_found",
        )
    row = StoredDocument(
        **_sealed(
            ctx=ctx, caller=caller, supplier=supplier, content=content, filename=filename,
            content_type=content_type, kind=kind, invoice_number=invoice_number, invoice_code=invoice_code,
            invoice_amount=invoice_amount,
        )
    )  # fmt: skip
    if not (session.new or session.dirty or session.deleted):
        # End the read snapshot first (nothing of ours is pending): on SQLite a snapshot that another
        # writer (the indexer) overtook during the reads and the file check above cannot write at all
        # (SQLITE_BUSY_SNAPSHOT, no busy wait: the issue answered 503); a fresh write waits its turn.
        session.commit()
    # The answer from the row as written (every column is set here): reading it back after the commit
    # cost a SELECT per upload, one per row of a batch.
    public = queries.document_public(row)
    session.add(row)
    session.commit()
    return public


def _sealed(
    *,
    ctx: ServiceContext,
    caller: Caller,
    supplier: DirectoryParticipant,
    content: bytes,
    filename: str,
    content_type: str,
    kind: str,
    invoice_number: str | None,
    invoice_code: str | None = None,
    invoice_amount: int | None = None,
) -> dict[str, Any]:
    """The columns of an upload's row: checked, hashed and encrypted, nothing written yet."""
    _check_size(content)
    file_digest = hashlib.sha256(content).hexdigest()
    if kind == "invoice":
        if not invoice_number or not invoice_number.strip():
            raise InvalidRequest(
                "an invoice needs its invoice_number (发票号码)", code="invoice_number_missing"
            )
        try:
            claimed = canonical_invoice(invoice_number, invoice_code)
        except InvoiceKeyError as error:
            raise InvalidRequest(str(error), code="invalid_invoice_number") from None
        canonical = invoice_number = claimed.digits
        # A readable e-invoice must be the invoice it is filed as (422 otherwise); a scan is flagged.
        verification = invoice_files.verify(
            content, claimed=claimed, seller_legal_id=supplier.legal_id, amount=invoice_amount
        )
        doc_hash = invoice_hash(
            ctx.settings.master_key, seller_legal_id=supplier.legal_id, invoice_number=canonical
        )
    else:
        # Other documents never go on chain; their hash is only a content fingerprint.
        doc_hash = hashlib.sha256(b"document:" + content).digest()
        verification = invoice_files.NOT_VERIFIED
    document_id = secrets.token_hex(16)
    return {
        "document_id": document_id,
        "uploader": caller.address,
        "kind": kind,
        "invoice_number": invoice_number.strip() if invoice_number else None,
        "seller": supplier.address,
        "filename": filename[:200] or "document",
        "content_type": content_type[:100] or "application/octet-stream",
        "size": len(content),
        "sha256": file_digest,
        "doc_hash": "0x" + doc_hash.hex(),
        "verification": verification,
        "slot_id": None,
        "ciphertext": seal(_document_key(ctx), content, document_id.encode()),
        "created_at": int(time.time()),
    }


def _check_size(content: bytes) -> None:
    if not content:
        raise InvalidRequest("the file is empty", code="empty_document")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise InvalidRequest(
            i18n.gettext("documents are limited to %(bytes)s bytes", bytes=MAX_DOCUMENT_BYTES),
            code="document_too_large",
        )


def _document_key(ctx: ServiceContext) -> bytes:
    return derive_key(ctx.settings.master_key, DOCUMENT_LABEL)


@dataclass(frozen=True)
class NewDocument:
    """One file of `store_many`: what `upload` takes, for an invoice."""

    seller: str
    content: bytes
    filename: str
    content_type: str
    invoice_number: str


def store_many(
    *, ctx: ServiceContext, caller: Caller, documents: Sequence[Sequence[NewDocument]]
) -> list[list[str] | ServiceError]:
    """Store the invoices of many issues at once (a batch's rows): per group, its document ids in order,
    or the error `upload` would have raised for its first bad file (that group stores nothing).

    The same checks, hashes and encryption as `upload`, in one transaction for all: a batch row uploading
    its own files cost two commits and a directory read per invoice, the largest share of its CPU.
    """
    sellers = {d.seller for group in documents for d in group}
    table = StoredDocument.__table__  # type: ignore[attr-defined]
    with Session(ctx.engine) as session:
        people = {
            p.address: p
            for p in session.execute(
                select(DirectoryParticipant).where(col(DirectoryParticipant.address).in_(sellers))
            ).scalars()
        }
    answers: list[list[str] | ServiceError] = []
    rows: list[dict[str, Any]] = []
    for group in documents:
        try:
            sealed = []
            for d in group:
                supplier = people.get(d.seller)
                if supplier is None:
                    raise NotFound(
                        i18n.gettext("seller %(seller)s is not a participant", seller=d.seller),
                        code="participant_not_found",
                    )
                sealed.append(
                    _sealed(
                        ctx=ctx, caller=caller, supplier=supplier, content=d.content, filename=d.filename,
                        content_type=d.content_type, kind="invoice", invoice_number=d.invoice_number,
                    )
                )  # fmt: skip
        except ServiceError as error:
            answers.append(error)
            continue
        rows += sealed
        answers.append([row["document_id"] for row in sealed])
    for start in range(0, len(rows), 500):
        with ctx.engine.begin() as conn:
            conn.execute(table.insert(), rows[start : start + 500])
    return answers


def _document(session: Session, document_id: str) -> StoredDocument:
    row = session.get(StoredDocument, document_id)
    if row is None:
        raise NotFound(
            i18n.gettext("document %(document_id)s does not exist", document_id=document_id),
            code="document_not_found",
        )
    return row


def read(
    *, ctx: ServiceContext, session: Session, caller: Caller, document_id: str
) -> tuple[StoredDocument, bytes]:
    row = _document(session, document_id)
    allowed = access.can_read_document(session, caller, row)
    # Every read of a document, refused ones too, is on the audit trail (look-through supervision).
    audit_trail.record(
        ctx.engine, actor=caller.actor, action="document.read", outcome="ok" if allowed else "refused",
        detail=f"document {document_id} ({row.kind} {row.filename})"[:500], origin=caller.origin,
    )  # fmt: skip
    if not allowed:
        raise Forbidden(
            "documents are readable by the certificate's parties, financiers asked to fund it and auditors",
            code="not_a_party",
        )
    key = derive_key(ctx.settings.master_key, DOCUMENT_LABEL)
    return row, unseal(key, row.ciphertext, row.document_id.encode())


def meta(*, session: Session, caller: Caller, document_id: str) -> DocumentPublic:
    row = _document(session, document_id)
    if not access.can_read_document(session, caller, row):
        raise Forbidden("not a party to this document", code="not_a_party")
    return queries.document_public(row)


def mine(
    *, session: Session, caller: Caller, limit: int, offset: int, after: str | None = None
) -> CursorPage[DocumentPublic]:
    """A keyset page of the caller's uploads, oldest first by (created_at, id), after the opaque cursor
    `after` (services.keyset), through ix_document_file_uploader_created_id."""
    start = keyset.decode_cursor(after, (int, str), pattern=r"[0-9a-f]{32}")
    query = select(StoredDocument).where(col(StoredDocument.uploader) == caller.address)
    keys = (col(StoredDocument.created_at), col(StoredDocument.document_id))
    rows, count, following = keyset.composite_rows(
        session, query, keys, after=start, limit=limit, offset=offset
    )
    data = [queries.document_public(row) for row in rows]
    return CursorPage(data=data, count=count, limit=limit, offset=offset, next_after=following)


_FILES = StoredDocument.__table__  # type: ignore[attr-defined]
# Built once: an issue's check runs on every batch row, and building the select with its IN list cost more
# than running it (~0.1 ms of CPU a row).
_FOR_ISSUE = select(
    _FILES.c.document_id, _FILES.c.uploader, _FILES.c.kind, _FILES.c.slot_id, _FILES.c.seller,
    _FILES.c.doc_hash, _FILES.c.invoice_number,
).where(_FILES.c.document_id.in_(bindparam("ids", expanding=True)))  # fmt: skip


def _read_for_issues(conn: Connection, keys: list[tuple[str, ...]]) -> dict[tuple[str, ...], dict[str, Any]]:
    """`_FOR_ISSUE` of several issues at once: per issue (its document ids), its documents found."""
    ids = sorted({document_id for key in keys for document_id in key})
    rows = {row.document_id: row for row in conn.execute(_FOR_ISSUE, {"ids": ids})}
    return {key: {i: rows[i] for i in key if i in rows} for key in keys}


_FOR_ISSUES: group_commit.Lookups[tuple[str, ...], dict[str, Any]] = group_commit.Lookups(_read_for_issues)


def invoices_for_issue(
    *, session: Session, caller: Caller, document_ids: list[str], supplier: str
) -> list[bytes]:
    """The on-chain hashes of the invoices an issue names, after checking they may back it."""
    hashes: list[bytes] = []
    wanted = list(dict.fromkeys(document_ids))

    def alone() -> dict[str, Any]:
        return {row.document_id: row for row in session.execute(_FOR_ISSUE, {"ids": wanted})}

    # One read of the columns checked, not an ORM row (with its encrypted file) per document; a batch
    # row's is shared with the rows asking at once (group_commit.Lookups).
    found = (_FOR_ISSUES.get_for(session, tuple(wanted), alone) or {}) if wanted else {}
    for document_id in wanted:
        row = found.get(document_id)
        if row is None:
            _document(session, document_id)  # raises the one NotFound wording
            raise AssertionError("unreachable: the document was found on the second read")
        if row.uploader != caller.address:
            raise Forbidden(
                i18n.gettext(
                    "document %(document_id)s was uploaded by someone else", document_id=document_id
                ),
                code="not_a_party",
            )
        if row.kind != "invoice":
            raise InvalidRequest(
                i18n.gettext("document %(id)s is a %(kind)s, not an invoice", id=document_id, kind=row.kind),
                code="not_an_invoice",
            )
        if row.slot_id is not None:
            raise InvalidRequest(
                i18n.gettext(
                    "document %(id)s already backs payable %(payable)s; upload it again if that "
                    "payable was rejected or cancelled",
                    id=document_id,
                    payable=row.slot_id,
                ),
                code="document_bound",
            )
        if row.seller != supplier:
            raise InvalidRequest(
                i18n.gettext(
                    "Invoice %(id)s was issued by %(seller)s, not by the supplier %(supplier)s: attach an "
                    "invoice of the supplier you issue to.",
                    id=document_id,
                    seller=names.name(session, row.seller or ""),
                    supplier=names.name(session, supplier),
                ),
                code="invoice_seller_mismatch",
            )
        hashes.append(bytes.fromhex(row.doc_hash[2:]))
    # Proposed only (the chain binds an invoice at its seller's consent: the supplier accepting a payable,
    # the payee signing for a bill): a second asset of this issuer awaiting that consent on the same
    # invoice (the same key: typed otherwise, uploaded again), a payable or a bill, would stand for the
    # same sale (a payable draws its credit line meanwhile), and only one of the two could ever bind.
    # Bound invoices the chain refuses itself (DocumentAlreadyUsed). Two issues at the same instant both
    # pass this read: the chain's acceptance stops the second (tests/api/test_workflows.py).
    keys = [row.doc_hash for row in found.values()]
    # a batch row's read shared with the rows asking at once, as the documents' above
    proposed = (
        _PROPOSED.get_for(
            session,
            (caller.address, tuple(keys)),
            lambda: invoices_in_use(session, keys, issuer=caller.address, bound=False),
        )
        or {}
    )
    _refuse_awaiting(proposed, (found[document_id] for document_id in wanted))
    return hashes


@dataclass(frozen=True)
class Backing:
    """An asset an invoice backs or was proposed for: payable P`asset_id` or bill B`asset_id`; `bound`: on
    chain, else proposed and awaiting its seller's consent."""

    kind: str  # payable | bill
    asset_id: int
    bound: bool = False


def _refuse_awaiting(proposed: dict[str, Backing], uploads: Iterable[Any]) -> None:
    """Refuse the issue at the first of its `uploads` (rows with document_id, doc_hash, invoice_number) whose
    invoice `proposed` names: an asset of the same issuer awaits its seller's consent on it."""
    for upload in uploads:
        asset = proposed.get(upload.doc_hash)
        if asset is not None:
            raise _awaiting_consent(upload.document_id, upload.invoice_number, asset)


def _awaiting_consent(document_id: str, number: str | None, asset: Backing) -> Conflict:
    """The refusal of an issue naming an invoice that `asset` of the same issuer awaits its seller on."""
    if asset.kind == "bill":
        message = i18n.gettext(
            "Invoice %(number)s already backs bill B%(package)s, which awaits its payee's receipt: one "
            "invoice backs one asset. Withdraw B%(package)s (possible until it is accepted), or wait "
            "until its acceptor refuses it or its payee rejects it, before issuing on this invoice "
            "again. Nothing was sent.",
            number=number,
            package=asset.asset_id,
        )
        named = {"package_id": asset.asset_id}
    else:
        message = i18n.gettext(
            "Invoice %(number)s already backs payable P%(slot)s, which awaits its supplier's "
            "acceptance: one invoice backs one payable. Cancel P%(slot)s, or wait until its supplier "
            "rejects it, before issuing on this invoice again. Nothing was sent.",
            number=number,
            slot=asset.asset_id,
        )
        named = {"slot_id": asset.asset_id}
    details = {"document_id": document_id, **named}
    return Conflict(message, code="invoice_awaiting_acceptance", details=details)


def invoices_in_use(
    session: Session, keys: list[str], *, issuer: str, bound: bool = True
) -> dict[str, Backing]:
    """The asset each of `keys` (invoice hashes) already backs: proposed by `issuer` for a payable still
    awaiting its supplier's acceptance or a bill still awaiting its payee's receipt, or (`bound`) bound on
    chain to any asset. The one check of a single issue and of a batch file. Another issuer's proposal
    does not count: it would let anyone block a seller's invoice by proposing it first (the seller's
    consent decides between them, on chain). Two reads by key per 1,000 invoices; `bound` one more, and two
    more when some are bound (which asset holds them)."""
    used = _issuers(_proposed(session.execute, keys, _AWAITING), issuer)
    if bound:
        for start in range(0, len(keys), 1000):
            part = {"keys": keys[start : start + 1000]}
            found = {str(row.doc_hash): int(row.asset_id) for row in session.execute(_BOUND, part)}
            # Bound to a bill when that bill proposed it and was received (a binding is never undone, so a
            # payable of the same number cannot hold it): read only for the few invoices bound.
            bills = {(h, a.asset_id) for h, a, _ in _proposed(session.execute, list(found), _RECEIVED)}
            used.update(
                {
                    h: Backing("bill" if (h, a) in bills else "payable", a, bound=True)
                    for h, a in found.items()
                }
            )
    return used


# The states in which an asset's invoices are proposed and not bound yet: a payable awaiting its supplier's
# acceptance; a bill awaiting its acceptor (Issued) and then its payee's receipt (Accepted).
_AWAITING: dict[str, tuple[str, ...]] = {"payable": ("Issued",), "bill": ("Issued", "Accepted")}
_RECEIVED: dict[str, tuple[str, ...]] = {"bill": ("Received",)}  # a bill whose invoices bound at its receipt


def _proposed(
    execute: Callable[..., Any], keys: list[str], states: dict[str, tuple[str, ...]]
) -> list[tuple[str, Backing, str]]:
    """(invoice hash, the asset, its issuer) of each payable and bill in one of `states` (by kind) that one
    of `keys` was proposed for, whoever proposed it, payables first: `execute` is a session's or a
    connection's."""
    found: list[tuple[str, Backing, str]] = []
    for start in range(0, len(keys), 1000):
        proposals = [
            (str(row.doc_hash), Backing(str(row.kind), int(row.asset_id)))
            for row in execute(_PROPOSALS, {"keys": keys[start : start + 1000]})
            if row.asset_id is not None
        ]
        if not proposals:
            continue
        ids = {
            kind: sorted({a.asset_id for _, a in proposals if a.kind == kind and kind in states})
            for kind in ("payable", "bill")
        }
        if not ids["payable"] and not ids["bill"]:
            continue
        issuers = {
            Backing(str(row.kind), int(row.asset_id)): str(row.issuer)
            for row in execute(_PROPOSED_ASSETS, {"slots": ids["payable"], "packages": ids["bill"]})
            if row.status in states[str(row.kind)]
        }
        found += sorted(
            ((doc_hash, asset, issuers[asset]) for doc_hash, asset in proposals if asset in issuers),
            key=lambda each: (each[1].kind != "payable", each[1].asset_id),
        )
    return found


def _read_proposed(
    conn: Connection, keys: list[tuple[str, tuple[str, ...]]]
) -> dict[tuple[str, tuple[str, ...]], dict[str, Backing]]:
    """`invoices_in_use(bound=False)` of several issues at once, keyed (issuer, invoice hashes)."""
    found = _proposed(
        conn.execute, sorted({doc_hash for _, hashes in keys for doc_hash in hashes}), _AWAITING
    )
    return {(issuer, hashes): _issuers(found, issuer, hashes) for issuer, hashes in keys}


def _issuers(
    found: list[tuple[str, Backing, str]], issuer: str, hashes: Container[str] | None = None
) -> dict[str, Backing]:
    """Of `_proposed`'s answer, the asset `issuer` proposed each invoice for (of `hashes`, when given),
    the first found (payables first)."""
    mine: dict[str, Backing] = {}
    for doc_hash, asset, by in found:
        if by == issuer and (hashes is None or doc_hash in hashes):
            mine.setdefault(doc_hash, asset)
    return mine


_PROPOSED: group_commit.Lookups[tuple[str, tuple[str, ...]], dict[str, Backing]] = group_commit.Lookups(
    _read_proposed
)


# Which argument names the invoices' seller in each issuing call a participant may relay.
_ISSUE_SELLER = {"Receivables": "supplier", "Bills": "payee"}


def check_relayed_issue(*, session: Session, caller: Caller, contract: str, args: dict[str, Any]) -> None:
    """A self-custody issuer may propose only invoice keys the platform derived from its own uploads.

    The custodial path proposes only hashes of uploaded invoices (`invoices_for_issue`); a request the
    participant signed itself carries whatever bytes it chose, so the relay checks the same rule: each
    hash is the key of an invoice this caller uploaded naming the seller the asset goes to. Without
    it a client could propose a hash it computed or copied from the chain, never checked by anyone.
    Then the rule of one invoice, one asset awaiting consent (409 `invoice_awaiting_acceptance`).
    """
    seller = str(args[_ISSUE_SELLER[contract]])
    uploads: dict[str, StoredDocument] = {}
    for raw in args["invoiceHashes"]:
        doc_hash = "0x" + bytes(raw).hex()
        row = session.execute(
            select(StoredDocument)
            .where(col(StoredDocument.doc_hash) == doc_hash)
            .where(col(StoredDocument.uploader) == caller.address)
            .where(col(StoredDocument.kind) == "invoice")
            .where(col(StoredDocument.seller) == seller)
            .limit(1)
        ).scalar_one_or_none()
        if row is None:
            raise Forbidden(
                i18n.gettext(
                    "Invoice key %(key)s was not derived by the platform from an invoice you uploaded "
                    "naming %(seller)s as its seller: upload the invoice (POST /v1/core/documents or "
                    "/v1/bills/documents) and issue with its document id.",
                    key=doc_hash,
                    seller=names.name(session, seller),
                ),
                code="invoice_not_derived",
            )
        uploads.setdefault(doc_hash, row)
    # ... and, as every issue the platform prepares, not one its signer already proposed on an asset still
    # awaiting its seller's consent (`invoices_for_issue`): signing the request itself must not let an
    # issuer draw its credit line twice for one sale.
    proposed = invoices_in_use(session, list(uploads), issuer=caller.address, bound=False)
    _refuse_awaiting(proposed, uploads.values())


# Set by a batch row around its issue: the statements binding its invoices, committed with the row's
# answer and audit line (one transaction shared by the rows answered meanwhile) instead of two commits of
# their own per row. Unset (None) everywhere else: `bind` commits at once.
DEFERRED_BINDS: ContextVar[list[Executable | Alike] | None] = ContextVar("deferred_binds", default=None)


def bind(
    *,
    session: Session,
    obligor: str,
    slot_id: int,
    doc_hashes: list[str],
    document_ids: list[str] | None = None,
) -> None:
    """Link one unbound upload of each invoice hash to the payable just issued: the one the issue named
    (`document_ids`, the custodial path), else the latest (a relayed issue names hashes only).

    One file per invoice: an issue that failed may have left an earlier upload of the same invoice
    behind (same hash, never bound); binding every one of them showed the bank the invoice once per
    attempt.
    """
    # One UPDATE per hash with the choice as its subquery, never a read then a write: this runs right
    # after the transaction was mined, while the indexer writes its block, and on SQLite a read snapshot
    # that a write overtakes cannot become a write (SQLITE_BUSY_SNAPSHOT: the issue answered 503).
    named = list(document_ids or ())
    statement = _bind_statement(len(named))
    statements = [
        Alike(
            statement,
            {"b_obligor": obligor, "b_hash": doc_hash, "b_slot": slot_id}
            | {f"b_id{n}": document_id for n, document_id in enumerate(named)},
        )
        for doc_hash in dict.fromkeys(doc_hashes)
    ]
    deferred = DEFERRED_BINDS.get()
    if deferred is not None:
        deferred += statements
        return
    session.commit()
    for each in statements:
        session.execute(each.statement, each.params)
    session.commit()


_BIND_STATEMENTS: dict[int, Executable] = {}


def _bind_statement(named: int) -> Executable:
    """`bind`'s UPDATE for an issue that named `named` documents (0: a relayed issue, hashes only): one
    statement object per count, so the binds of a batch's rows answered together run as one executemany
    (group_commit.execute_all)."""
    statement = _BIND_STATEMENTS.get(named)
    if statement is None:
        table = StoredDocument.__table__  # type: ignore[attr-defined]
        query = select(table.c.document_id).where(
            table.c.uploader == bindparam("b_obligor"),
            table.c.slot_id.is_(None),
            table.c.doc_hash == bindparam("b_hash"),
        )
        if named:
            query = query.where(table.c.document_id.in_([bindparam(f"b_id{n}") for n in range(named)]))
        latest = query.order_by(table.c.created_at.desc(), table.c.document_id.desc()).limit(1)
        built = update(table).where(table.c.document_id == latest.scalar_subquery())
        statement = _BIND_STATEMENTS.setdefault(named, built.values(slot_id=bindparam("b_slot")))
    return statement


def discard(*, session: Session, caller: Caller, document_ids: list[str]) -> int:
    """Delete the caller's own uploads that back nothing (an issue that failed after uploading them);
    the count deleted. A bound document, or someone else's, is never touched."""
    if not document_ids:
        return 0
    table = StoredDocument.__table__  # type: ignore[attr-defined]
    deleted = session.execute(
        delete(table).where(
            table.c.document_id.in_(document_ids),
            table.c.uploader == caller.address,
            table.c.slot_id.is_(None),
        )
    )
    session.commit()
    return int(getattr(deleted, "rowcount", 0) or 0)


_PAYABLES = Payable.__table__  # type: ignore[attr-defined]
_PACKAGES = BillPackage.__table__  # type: ignore[attr-defined]
_BILL_INVOICES = BillInvoice.__table__  # type: ignore[attr-defined]
_REGISTRY = Document.__table__  # type: ignore[attr-defined]
# The payables and bills the named invoices were proposed for, read in two steps by key, and the assets
# they are bound to. Not one join: the planner may then start from the obligor's payables awaiting
# acceptance (its statistics lag a bulk upload: 6,000 such payables estimated as 11) and visit every one of
# them per call: 21 ms a call, 42 s of PostgreSQL CPU for the rows of a 2,000-row upload after a first
# one. Each part below reads by one indexed column only (document_file.doc_hash and bill_invoice's
# primary key, then the payables' and packages' primary keys), so no estimate can turn it into a scan; the
# issuer and the status are checked on the few rows found. The two kinds of asset share each round trip.
_PROPOSALS = union_all(
    select(
        _FILES.c.doc_hash, _FILES.c.slot_id.label("asset_id"), literal_column("'payable'").label("kind")
    ).where(_FILES.c.doc_hash.in_(bindparam("keys", expanding=True))),
    select(_BILL_INVOICES.c.doc_hash, _BILL_INVOICES.c.package_id, literal_column("'bill'")).where(
        _BILL_INVOICES.c.doc_hash.in_(bindparam("keys", expanding=True))
    ),
)
_PROPOSED_ASSETS = union_all(
    select(
        literal_column("'payable'").label("kind"), _PAYABLES.c.slot_id.label("asset_id"),
        _PAYABLES.c.obligor.label("issuer"), _PAYABLES.c.status,
    ).where(_PAYABLES.c.slot_id.in_(bindparam("slots", expanding=True))),
    select(literal_column("'bill'"), _PACKAGES.c.package_id, _PACKAGES.c.drawer, _PACKAGES.c.status).where(
        _PACKAGES.c.package_id.in_(bindparam("packages", expanding=True))
    ),
)  # fmt: skip
_BOUND = select(_REGISTRY.c.doc_hash, _REGISTRY.c.asset_id).where(
    _REGISTRY.c.doc_hash.in_(bindparam("keys", expanding=True)), _REGISTRY.c.status == "bound"
)
