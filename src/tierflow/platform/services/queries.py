"""Reads over the indexer's read models, with the party checks of every actor.

A supplier sees only what it holds or is named on, a bank only the requests addressed to it and its
own positions, an obligor its payables (including their full lineage: it pays every holder), and
auditors and the operator everything.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlmodel import Session, col

from tierflow.platform.models import (
    Certificate,
    CertificateTransfer,
    CreditLine,
    FinancingRequest,
    Payable,
    Payout,
)
from tierflow.platform.models.service import StoredDocument
from tierflow.platform.services import access, lineage
from tierflow.platform.services.errors import NotFound
from tierflow.platform.services.participants import Caller
from tierflow.platform.services.schemas.certificates import (
    CertificatePublic,
    CreditLinePublic,
    DocumentPublic,
    FinancingDetail,
    FinancingPublic,
    LadderBucket,
    Lineage,
    Page,
    PayablePublic,
    PayoutPublic,
    Portfolio,
    TransferPublic,
)

LIVE_TOKEN = ("active", "locked")
OPEN_PAYABLE = ("Issued", "Accepted", "Defaulted")
PAYABLE = Payable.__table__  # type: ignore[attr-defined]


# -- conversions ----------------------------------------------------------------------------------
def payable_public(row: Payable) -> PayablePublic:
    return PayablePublic.model_validate(row, from_attributes=True)


def path_public(rows: list[dict[str, Any]], payable: Payable | None) -> list[CertificatePublic]:
    """lineage.path_to_root() rows as the API's certificates (the payable adds maturity and obligor)."""
    extra = {"maturity": payable.maturity, "obligor": payable.obligor} if payable else {}
    return [CertificatePublic(**{k: r[k] for k in CERT_FIELDS}, **extra) for r in rows]


def certificate_public(row: Certificate, payable: Payable | None = None) -> CertificatePublic:
    return CertificatePublic(
        token_id=row.token_id,
        slot_id=row.slot_id,
        holder=row.holder,
        value=row.value,
        initial_value=row.initial_value,
        status=row.status,
        locked=row.locked,
        lock_ref=row.lock_ref,
        parent_id=row.parent_id,
        root_id=row.root_id,
        depth=row.depth,
        maturity=payable.maturity if payable else None,
        obligor=payable.obligor if payable else None,
    )


def line_public(row: CreditLine) -> CreditLinePublic:
    return CreditLinePublic.model_validate(row, from_attributes=True)


def financing_public(row: FinancingRequest) -> FinancingPublic:
    return FinancingPublic.model_validate(row, from_attributes=True)


def document_public(row: StoredDocument) -> DocumentPublic:
    return DocumentPublic.model_validate(row, from_attributes=True)


def _page(session: Session, query: Any, convert: Any, limit: int, offset: int) -> Page[Any]:
    count = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.limit(limit).offset(offset)).scalars().all()
    return Page(data=[convert(r) for r in rows], count=count, limit=limit, offset=offset)


# -- lookups with party checks --------------------------------------------------------------------
Row = TypeVar("Row")


def get_or_404(session: Session, model: type[Row], key: int, what: str, code: str, *, indexed: bool) -> Row:
    """The row `key` of `model`, or NotFound naming it; `indexed` rows may simply not be indexed yet."""
    row = session.get(model, key)
    if row is None:
        hint = " (or is not indexed yet)" if indexed else ""
        raise NotFound(f"{what} {key} does not exist{hint}", code=code)
    return row


def payable(session: Session, slot_id: int) -> Payable:
    return get_or_404(session, Payable, slot_id, "payable", "payable_not_found", indexed=True)


def certificate(session: Session, token_id: int) -> Certificate:
    return get_or_404(session, Certificate, token_id, "certificate", "certificate_not_found", indexed=True)


def financing_request(session: Session, request_id: int) -> FinancingRequest:
    return get_or_404(
        session, FinancingRequest, request_id, "financing request", "request_not_found", indexed=False
    )


def credit_line(session: Session, line_id: int) -> CreditLine:
    return get_or_404(session, CreditLine, line_id, "credit line", "credit_line_not_found", indexed=False)


def held_token_of_slot(session: Session, holder: str, slot_id: int) -> int | None:
    """A token of payable `slot_id` that `holder` holds with value left (markDefaulted names it), or None."""
    row = session.execute(
        select(col(Certificate.token_id))
        .where(
            col(Certificate.slot_id) == slot_id,
            col(Certificate.holder) == holder,
            col(Certificate.value) > 0,
        )
        .order_by(col(Certificate.token_id))
        .limit(1)
    ).first()
    return None if row is None else int(row[0])


def get_payable(*, session: Session, caller: Caller, slot_id: int) -> PayablePublic:
    row = payable(session, slot_id)
    if not access.is_slot_party(session, caller, row):
        raise access.not_a_party(f"payable {slot_id}", caller)
    return payable_public(row)


def get_certificate(*, session: Session, caller: Caller, token_id: int) -> CertificatePublic:
    row = certificate(session, token_id)
    if not access.can_see_certificate(session, caller, row):
        raise access.not_a_party(f"certificate {token_id}", caller)
    return certificate_public(row, session.get(Payable, row.slot_id))


def slot_lineage(
    *, session: Session, caller: Caller, slot_id: int, limit: int, offset: int
) -> dict[str, Any]:
    """The whole tree of a payable (the shape of Lineage): visible to its obligor, auditors, the operator."""
    row = access.check_whole_tree(session, caller, slot_id)
    count = session.execute(
        select(func.count()).select_from(CERT).where(CERT.c.slot_id == slot_id)
    ).scalar_one()
    query = (
        select(*CERT_COLUMNS, PAYABLE.c.maturity, PAYABLE.c.obligor)
        .join(PAYABLE, PAYABLE.c.slot_id == CERT.c.slot_id)
        .where(CERT.c.slot_id == slot_id)
        .order_by(CERT.c.token_id)
        .limit(limit)
        .offset(offset)
    )
    return {
        "slot_id": slot_id,
        "root_token_id": row.root_token_id,
        "tokens": _certificate_rows(session, query),
        "count": count,
        # Over the whole tree, not only this page: the same totals the dashboard's lineage page shows.
        "tiers": tier_totals(lineage.tree_tiers(session, slot_id)),
    }


def certificate_lineage(*, session: Session, caller: Caller, token_id: int) -> Lineage:
    row = certificate(session, token_id)
    if not access.can_see_certificate(session, caller, row):
        raise access.not_a_party(f"certificate {token_id}", caller)
    # The holder's view of the tree is this path: its count is that of the path (access.py).
    path = lineage.path_to_root(session, token_id)
    live = [(t["depth"], t["holder"], t["value"]) for t in path if t["status"] in LIVE_TOKEN]
    return Lineage(
        slot_id=row.slot_id,
        root_token_id=row.root_id,
        tokens=path_public(path, session.get(Payable, row.slot_id)),
        count=len(path),
        tiers=tier_totals(lineage.tier_spread(live)),
    )


def tier_totals(tiers: Iterable[lineage.TierSpread]) -> list[dict[str, int]]:
    """Tier totals of the lineage module in the API's shape (TierTotal)."""
    return [{"tier": t.tier, "tokens": t.tokens, "holders": t.holders, "value": t.amount} for t in tiers]


# -- lists ----------------------------------------------------------------------------------------
def payables(
    *,
    session: Session,
    obligor: str | None = None,
    supplier: str | None = None,
    status: str | None = None,
    maturity_before: int | None = None,
    limit: int,
    offset: int,
) -> Page[PayablePublic]:
    query = select(Payable)
    if obligor is not None:
        query = query.where(col(Payable.obligor) == obligor)
    if supplier is not None:
        query = query.where(col(Payable.supplier) == supplier)
    if status is not None:
        query = query.where(col(Payable.status) == status)
    if maturity_before is not None:
        query = query.where(col(Payable.maturity) < maturity_before)
    return _page(session, query.order_by(col(Payable.slot_id)), payable_public, limit, offset)


CERT = Certificate.__table__  # type: ignore[attr-defined]
REQUEST = FinancingRequest.__table__  # type: ignore[attr-defined]
CERT_FIELDS = [name for name in CertificatePublic.model_fields if name in CERT.c]
CERT_COLUMNS = [CERT.c[name] for name in CERT_FIELDS]
REQUEST_COLUMNS = [REQUEST.c[name] for name in FinancingPublic.model_fields]


def _certificate_rows(session: Session, query: Any) -> list[dict[str, Any]]:
    # Core rows as plain dicts: list endpoints return up to thousands of rows, and ORM identity-map
    # loading plus model validation of values the database already typed would dominate their latency.
    return _dicts(session, query)


def _dicts(session: Session, query: Any) -> list[dict[str, Any]]:
    result = session.execute(query)
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


def certificates(
    *,
    session: Session,
    holder: str | None = None,
    slot_id: int | None = None,
    status: Sequence[str] | None = LIVE_TOKEN,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """A page of certificates as JSON-ready dicts (the shape of Page[CertificatePublic])."""
    conditions = []
    if holder is not None:
        conditions.append(CERT.c.holder == holder)
    if slot_id is not None:
        conditions.append(CERT.c.slot_id == slot_id)
    if status:
        conditions.append(CERT.c.status.in_(list(status)))
    query = (
        select(*CERT_COLUMNS, PAYABLE.c.maturity, PAYABLE.c.obligor)
        .join(PAYABLE, PAYABLE.c.slot_id == CERT.c.slot_id)
        .where(*conditions)
        .order_by(CERT.c.token_id)
        .limit(limit)
        .offset(offset)
    )
    count = session.execute(select(func.count()).select_from(CERT).where(*conditions)).scalar_one()
    return {"data": _certificate_rows(session, query), "count": count, "limit": limit, "offset": offset}


def credit_lines(
    *, session: Session, financier: str | None = None, obligor: str | None = None, limit: int, offset: int
) -> Page[CreditLinePublic]:
    query = select(CreditLine)
    if financier is not None:
        query = query.where(col(CreditLine.financier) == financier)
    if obligor is not None:
        query = query.where(col(CreditLine.obligor) == obligor)
    return _page(session, query.order_by(col(CreditLine.line_id)), line_public, limit, offset)


def financing_requests(
    *,
    session: Session,
    financier: str | None = None,
    seller: str | None = None,
    status: str | None = None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """A page of financing requests as JSON-ready dicts (the shape of Page[FinancingPublic])."""
    conditions = []
    if financier is not None:
        conditions.append(REQUEST.c.financier == financier)
    if seller is not None:
        conditions.append(REQUEST.c.seller == seller)
    if status is not None:
        conditions.append(REQUEST.c.status == status)
    count = session.execute(select(func.count()).select_from(REQUEST).where(*conditions)).scalar_one()
    rows = _dicts(
        session,
        select(*REQUEST_COLUMNS)
        .where(*conditions)
        .order_by(REQUEST.c.request_id.desc())
        .limit(limit)
        .offset(offset),
    )
    return {"data": rows, "count": count, "limit": limit, "offset": offset}


def payouts(*, session: Session, holder: str | None, limit: int, offset: int) -> Page[PayoutPublic]:
    query = select(Payout)
    if holder is not None:
        query = query.where(col(Payout.holder) == holder)
    return _page(
        session,
        query.order_by(col(Payout.block_number).desc(), col(Payout.log_index).desc()),
        lambda r: PayoutPublic.model_validate(r, from_attributes=True),
        limit,
        offset,
    )


def transfers(*, session: Session, slot_id: int, limit: int, offset: int) -> Page[TransferPublic]:
    query = select(CertificateTransfer).where(col(CertificateTransfer.slot_id) == slot_id)
    return _page(
        session,
        query.order_by(col(CertificateTransfer.block_number), col(CertificateTransfer.log_index)),
        lambda r: TransferPublic.model_validate(r, from_attributes=True),
        limit,
        offset,
    )


def documents_of_slot(session: Session, slot_id: int) -> list[DocumentPublic]:
    rows = session.execute(
        select(StoredDocument)
        .where(col(StoredDocument.slot_id) == slot_id)
        .order_by(col(StoredDocument.created_at))
    ).scalars()
    return [document_public(r) for r in rows]


def obligor_exposure(session: Session, obligor: str) -> int:
    # Fen columns are zero-padded text on SQLite: sum exactly in Python.
    rows = session.execute(
        select(col(Payable.face), col(Payable.paid_in)).where(
            col(Payable.obligor) == obligor, col(Payable.status).in_(OPEN_PAYABLE)
        )
    ).all()
    return sum(int(face) - int(paid) for face, paid in rows)


def request_detail(*, session: Session, caller: Caller, request_id: int) -> FinancingDetail:
    row = financing_request(session, request_id)
    if not access.can_see_request(caller, row):
        raise access.not_a_party(f"financing request {request_id}", caller)
    cert = session.get(Certificate, row.token_id)
    slot = session.get(Payable, cert.slot_id) if cert is not None else None
    lines: Any = (
        session.execute(
            select(CreditLine)
            .where(col(CreditLine.obligor) == slot.obligor)
            .order_by(col(CreditLine.line_id))
        ).scalars()
        if slot is not None
        else []
    )
    return FinancingDetail(
        **financing_public(row).model_dump(),
        certificate=certificate_public(cert, slot) if cert is not None else None,
        payable=payable_public(slot) if slot is not None else None,
        lineage=path_public(lineage.path_to_root(session, row.token_id), slot),
        documents=documents_of_slot(session, slot.slot_id) if slot is not None else [],
        obligor_exposure=obligor_exposure(session, slot.obligor) if slot is not None else 0,
        obligor_credit_lines=[line_public(line) for line in lines],
    )


def portfolio(*, session: Session, caller: Caller, now: int) -> Portfolio:
    rows = session.execute(
        select(Certificate, Payable)
        .join(Payable, col(Payable.slot_id) == col(Certificate.slot_id))
        .where(col(Certificate.holder) == caller.address, col(Certificate.status).in_(LIVE_TOKEN))
        .order_by(col(Payable.maturity), col(Certificate.token_id))
    ).all()
    holdings = [certificate_public(c, p) for c, p in rows]
    buckets: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
    for c, p in rows:
        day = dt.datetime.fromtimestamp(p.maturity, dt.UTC).date()
        buckets[day][0] += c.value
        buckets[day][1] += 1
    funded = session.execute(
        select(
            col(FinancingRequest.price), col(FinancingRequest.discount), col(FinancingRequest.token_id)
        ).where(
            col(FinancingRequest.financier) == caller.address,
            col(FinancingRequest.status) == "Funded",
        )
    ).all()
    held = {c.token_id for c, _ in rows}
    return Portfolio(
        holdings=holdings,
        total_value=sum(c.value for c, _ in rows),
        ladder=[LadderBucket(maturity_date=d, value=v[0], tokens=v[1]) for d, v in sorted(buckets.items())],
        funded_price=sum(int(p or 0) for p, _, t in funded if t in held),
        funded_discount=sum(int(d or 0) for _, d, t in funded if t in held),
        overdue=[certificate_public(c, p) for c, p in rows if p.maturity <= now and p.status != "Repaid"],
        defaulted=[certificate_public(c, p) for c, p in rows if p.status == "Defaulted"],
    )
