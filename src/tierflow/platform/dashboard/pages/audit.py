"""The auditor's view: search anything, a participant's whole position, exact CSV exports of every table."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlmodel import Session, select

from tierflow.chain.vocabulary import Role
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard import queries, web
from tierflow.platform.models.credit import CreditLine
from tierflow.platform.models.financing import FinancingRequest
from tierflow.platform.models.receivables import Certificate, CertificateTransfer, Payable, Payout, Repayment
from tierflow.platform.models.registry import Participant
from tierflow.platform.services import controls

router = web.page_router("/audit")


@router.get("", response_class=HTMLResponse)
def audit_page(request: Request, viewer: web.SignedIn, q: str = "") -> Response:
    web.supervising(viewer, "the auditor's view")
    with web.session(request) as db:
        names = queries.directory(db)
        results = queries.search(db, q, names) if q else []
        counts = queries.overview_counts(db)
        latest = queries.latest_payables(db, 25)
        holds = controls.holds(session=db)
        indexed = queries.indexed(db)
    return web.page(
        request,
        "audit/page.html",
        names=names,
        q=q,
        results=results,
        counts=counts,
        latest=latest,
        holds=holds,
        **indexed,
    )


@router.get("/participant/{address}", response_class=HTMLResponse)
def audit_participant(request: Request, viewer: web.SignedIn, address: str) -> Response:
    address = web.checksum(address)
    web.supervising(viewer, "the auditor's view")
    with web.session(request) as db:
        names = queries.directory(db)
        roles = names.roles.get(address, 0)
        view = queries.supplier_view(db, address, limit=200)
        lines = queries.credit_lines_of(db, address)
    pages = [
        (label, f"/dashboard/{kind}/{address}")
        for role, kind, label in (
            (Role.FINANCIER, "bank", "Financing dashboard"),
            (Role.SUPPLIER, "supplier", "Supplier page"),
            (Role.CORE_ENTERPRISE, "core", "Core enterprise page"),
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
        roles=roles,
    )


EXPORTS: dict[str, tuple[type[Any], list[str]]] = {
    "payables": (
        Payable,
        ["slot_id", "obligor", "supplier", "line_id", "face", "maturity", "status", "paid_in", "paid_out"],
    ),
    "certificates": (
        Certificate,
        ["token_id", "slot_id", "holder", "value", "status", "parent_id", "root_id", "depth"],
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
    "amount",
    "discount",
    "price",
    "limit",
    "used",
    "available",
}


@router.get("/export/{name}.csv")
def audit_export(request: Request, viewer: web.SignedIn, name: str) -> Response:
    web.supervising(viewer, "CSV exports")
    if name not in EXPORTS:
        return Response(f"unknown export {name}; choose one of {', '.join(EXPORTS)}", status_code=404)
    model, columns = EXPORTS[name]
    engine = web.engine(request)

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        # Amounts as exact integer fen (…_fen) and as yuan text: spreadsheets never see a float.
        header = []
        for column in columns:
            header.extend([f"{column}_fen", f"{column}_yuan"] if column in FEN_COLUMNS else [column])
        writer.writerow(header)
        with Session(engine) as db:
            for row in db.exec(select(model).execution_options(yield_per=2000)):
                values: list[Any] = []
                for column in columns:
                    value = getattr(row, column)
                    values.extend(
                        [value, fmt.yuan(value)]
                        if column in FEN_COLUMNS and value is not None
                        else [value]
                        if column not in FEN_COLUMNS
                        else ["", ""]
                    )
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
