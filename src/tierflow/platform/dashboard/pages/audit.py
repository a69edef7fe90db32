"""The auditor's view: search anything, a participant's whole position, exact CSV exports of every table."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlmodel import Session, select

from tierflow.chain.vocabulary import Role, role_names
from tierflow.platform import i18n
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard import labels, queries, web
from tierflow.platform.models.credit import CreditLine
from tierflow.platform.models.financing import FinancingRequest
from tierflow.platform.models.indexer import RawEvent
from tierflow.platform.models.receivables import Certificate, CertificateTransfer, Payable, Payout, Repayment
from tierflow.platform.models.registry import Participant
from tierflow.platform.services import controls
from tierflow.platform.services.lineage import token_tiers

router = web.page_router("/audit")


@router.get("", response_class=HTMLResponse)
def audit_page(
    request: Request, viewer: web.SignedIn, q: str = "", holder: str = "", min: str = "", max: str = ""
) -> Response:
    web.supervising(viewer, "the auditor's view")
    refusal = None
    try:
        low = fmt.parse_yuan(min) if min.strip() else None
        high = fmt.parse_yuan(max) if max.strip() else None
    except ValueError as error:
        low = high = None
        refusal = i18n.gettext("Amount range: %(problem)s.", problem=error)
    finding = bool(holder or low is not None or high is not None)
    with web.session(request) as db:
        names = queries.directory(db)
        results = queries.search(db, q, names) if q else []
        certificates = (
            queries.find_certificates(db, holder=holder or None, min_fen=low, max_fen=high) if finding else []
        )
        counts = queries.overview_counts(db)
        latest = queries.latest_payables(db, 25)
        holds = controls.holds(session=db)
        indexed = queries.indexed(db)
    context: dict[str, Any] = dict(
        names=names,
        q=q,
        results=results,
        holder=holder,
        min=min,
        max=max,
        finding=finding,
        certificates=certificates,
        holders=sorted(names.names.items(), key=lambda item: item[1]),
        counts=counts,
        latest=latest,
        exports=[(name, labels.export_name(name)) for name in EXPORTS],
        holds=holds,
        **indexed,
    )
    if refusal:  # the form comes back with what was typed and the reason
        return web.refused_page(request, "audit/page.html", refusal, **context)
    return web.page(request, "audit/page.html", **context)


# What each role bit is called on screen (the participant page said "Roles: 2").
ROLE_LABELS = {
    "core_enterprise": i18n.N_("core enterprise"),
    "supplier": i18n.N_("supplier"),
    "financier": i18n.N_("bank / financier"),
    "settlement_bank": i18n.N_("settlement bank"),
    "auditor": i18n.N_("auditor"),
}


def role_labels(bits: int) -> list[str]:
    return [i18n.gettext(ROLE_LABELS.get(name, name)) for name in role_names(bits)]


@router.get("/participant/{address}", response_class=HTMLResponse)
def audit_participant(
    request: Request,
    viewer: web.SignedIn,
    address: str,
    after: Annotated[int | None, Query(gt=0, lt=2**63)] = None,
) -> Response:
    address = web.checksum(address)
    web.supervising(viewer, i18n.gettext("the auditor's view"))
    with web.session(request) as db:
        names = queries.directory(db)
        roles = names.roles.get(address, 0)
        # Every holding, a page at a time by cursor (`after`: the last certificate of the page before).
        view = queries.supplier_view(db, address, after=after)
        lines = queries.credit_lines_of(db, address)
    pages = [
        (i18n.gettext(label), f"/dashboard/{kind}/{address}")
        for role, kind, label in (
            (Role.FINANCIER, "bank", i18n.N_("Financing dashboard")),
            (Role.SUPPLIER, "supplier", i18n.N_("Supplier page")),
            (Role.CORE_ENTERPRISE, "core", i18n.N_("Core enterprise page")),
        )
        if roles & role
    ]
    return web.page(
        request,
        "audit/participant.html",
        names=names,
        address=address,
        view=view,
        lines=lines,
        pages=pages,
        roles=role_labels(roles),
    )


EXPORTS: dict[str, tuple[type[Any], list[str]]] = {
    "payables": (
        Payable,
        [
            "slot_id",
            "obligor",
            "supplier",
            "line_id",
            "face",
            "maturity",
            "issued_at",
            "status",
            "paid_in",
            "paid_out",
        ],
    ),
    "certificates": (
        Certificate,
        [
            "token_id",
            "slot_id",
            "holder",
            "initial_value",
            "value",
            "status",
            "parent_id",
            "root_id",
            "depth",
        ],
    ),
    "financing_requests": (
        FinancingRequest,
        [
            "request_id",
            "token_id",
            "seller",
            "financier",
            "amount",
            "with_recourse",
            "status",
            "rate_bps",
            "discount",
            "price",
        ],
    ),
    "transfers": (
        CertificateTransfer,
        [
            "block_number",
            "log_index",
            "tx_hash",
            "kind",
            "slot_id",
            "token_id",
            "new_token_id",
            "from_address",
            "to_address",
            "value",
        ],
    ),
    "repayments": (
        Repayment,
        ["block_number", "log_index", "tx_hash", "slot_id", "obligor", "amount", "paid_in"],
    ),
    "payouts": (Payout, ["block_number", "log_index", "tx_hash", "token_id", "slot_id", "holder", "amount"]),
    "participants": (Participant, ["address", "roles", "status", "block_number"]),
    "credit_lines": (CreditLine, ["line_id", "financier", "obligor", "limit", "used", "available", "expiry"]),
}
FEN_COLUMNS = {
    "face",
    "paid_in",
    "paid_out",
    "value",
    "initial_value",
    "amount",
    "discount",
    "price",
    "limit",
    "used",
    "available",
}


# Dates are ISO 8601 (`…_date`: YYYY-MM-DD; `…_unix` beside it for programs that want the chain's
# seconds); times of day ISO 8601 UTC; parties by address and name; roles by name.
DATE_COLUMNS = {"maturity", "expiry"}
TIME_COLUMNS = {"issued_at"}
ADDRESS_COLUMNS = {
    "obligor",
    "supplier",
    "holder",
    "seller",
    "financier",
    "from_address",
    "to_address",
    "address",
}


def _header(columns: list[str], events: bool) -> list[str]:
    header = []
    for column in columns:
        if column in FEN_COLUMNS:
            header.extend([f"{column}_fen", f"{column}_yuan"])
        elif column in DATE_COLUMNS:
            header.extend([f"{column}_date", f"{column}_unix"])
        else:
            header.append(column)
    # Added at the end, so that the columns before keep their places for existing readers.
    header.extend(f"{column}_name" for column in columns if column in ADDRESS_COLUMNS)
    if events:
        header.append("block_time")  # when the event happened (its block's timestamp, UTC)
    return header


def _cells(column: str, value: Any) -> list[Any]:
    if column in FEN_COLUMNS:
        return ["", ""] if value is None else [value, fmt.yuan(value)]
    if column in DATE_COLUMNS:
        return ["", ""] if value is None else [fmt.iso_date(value), value]
    if column in TIME_COLUMNS:
        return ["" if value is None else iso_utc(value)]
    if column == "roles":
        return ["|".join(role_names(int(value or 0)))]
    return [value]


def iso_utc(ts: int) -> str:
    """A unix time as ISO 8601 UTC (2026-12-05T18:40:32Z)."""
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@router.get("/export/{name}.csv")
def audit_export(request: Request, viewer: web.SignedIn, name: str) -> Response:
    web.supervising(viewer, i18n.gettext("CSV exports"))
    if name not in EXPORTS:
        message = i18n.gettext(
            "There is no export called %(name)s; choose one of %(names)s.",
            name=name,
            names=", ".join(EXPORTS),
        )
        return Response(message, status_code=404)
    model, columns = EXPORTS[name]
    events = "log_index" in columns
    engine = web.engine(request)

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        # Amounts as exact integer fen (…_fen) and as yuan text: spreadsheets never see a float.
        header = _header(columns, events)
        if model is Certificate:
            header.append("tier")  # supply-chain tier (docs/tiers.md); empty for a financier's piece
        writer.writerow([labels.csv_header(column) for column in header])
        block_times: dict[int, str] = {}
        with Session(engine) as db:
            names = queries.directory(db)
            for rows in db.exec(select(model).execution_options(yield_per=2000)).partitions():
                # The tier is read per payable: once per 2,000 certificates for the payables among them.
                tiers = token_tiers(db, {r.slot_id for r in rows}) if model is Certificate else {}
                for row in rows:
                    values: list[Any] = []
                    for column in columns:
                        values.extend(_cells(column, getattr(row, column)))
                    values.extend(
                        names.name(getattr(row, column)) if getattr(row, column) else ""
                        for column in columns
                        if column in ADDRESS_COLUMNS
                    )
                    if events:
                        values.append(_block_time(db, row.block_number, block_times))
                    if model is Certificate:
                        values.append(tiers.get(row.token_id))
                    writer.writerow(values)
                if buffer.tell() > 65536:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        rows(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="tierflow-{name}.csv"'},
    )


def _block_time(db: Session, block_number: int, cache: dict[int, str]) -> str:
    """The timestamp of an indexed block (from its raw events), ISO 8601 UTC; blank if unknown."""
    if block_number not in cache:
        found = db.exec(
            select(RawEvent.block_time).where(RawEvent.block_number == block_number).limit(1)
        ).first()
        cache[block_number] = iso_utc(found) if found else ""
    return cache[block_number]
