"""Auditor (and operator): read everything — participants, payables, lineage, positions — and export CSV."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from tierflow.chain.vocabulary import SlotStatusName
from tierflow.platform.api.deps import AuditorCaller, Limit, Offset, SessionDep
from tierflow.platform.api.writing import READ_RESPONSES, fast_json
from tierflow.platform.services import participants, queries
from tierflow.platform.services.schemas.certificates import (
    AddressStr,
    CertificatePublic,
    FinancingPublic,
    Page,
    ParticipantPublic,
    PayablePublic,
)

router = APIRouter(prefix="/v1/audit", tags=["auditor"], responses=READ_RESPONSES)


class Positions(BaseModel):
    participant: ParticipantPublic
    holdings: Page[CertificatePublic]
    payables: Page[PayablePublic]
    financing_as_seller: Page[FinancingPublic]
    financing_as_financier: Page[FinancingPublic]


@router.get("/participants", response_model=Page[ParticipantPublic])
def all_participants(
    session: SessionDep, caller: AuditorCaller, limit: Limit = 50, offset: Offset = 0
) -> Page[ParticipantPublic]:
    return participants.listing(session=session, role=None, status=None, limit=limit, offset=offset)


@router.get("/payables", response_model=Page[PayablePublic])
def all_payables(
    session: SessionDep,
    caller: AuditorCaller,
    obligor: AddressStr | None = None,
    supplier: AddressStr | None = None,
    status: SlotStatusName | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[PayablePublic]:
    return queries.payables(
        session=session, obligor=obligor, supplier=supplier, status=status, limit=limit, offset=offset
    )  # fmt: skip


@router.get("/certificates", response_model=Page[CertificatePublic])
def all_certificates(
    session: SessionDep,
    caller: AuditorCaller,
    holder: AddressStr | None = None,
    slot_id: Annotated[int | None, Query(gt=0, lt=2**63)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    return fast_json(queries.certificates(
        session=session, holder=holder, slot_id=slot_id, status=None, limit=limit, offset=offset
    ))  # fmt: skip


@router.get("/financing-requests", response_model=Page[FinancingPublic])
def all_requests(
    session: SessionDep, caller: AuditorCaller, limit: Limit = 50, offset: Offset = 0
) -> Response:
    return fast_json(queries.financing_requests(session=session, limit=limit, offset=offset))


@router.get(
    "/positions/{address}", response_model=Positions, summary="Everything one participant holds or owes"
)
def positions(session: SessionDep, caller: AuditorCaller, address: str) -> Positions:
    row = participants.get(session=session, address=address)
    a = row.address
    return Positions.model_validate(
        {
            "participant": participants.public(row),
            "holdings": queries.certificates(session=session, holder=a, limit=1000, offset=0),
            "payables": queries.payables(session=session, obligor=a, limit=1000, offset=0),
            "financing_as_seller": queries.financing_requests(
                session=session, seller=a, limit=1000, offset=0
            ),
            "financing_as_financier": queries.financing_requests(
                session=session, financier=a, limit=1000, offset=0
            ),
        }
    )


EXPORTS = ("payables", "certificates", "financing-requests", "participants")


@router.get(
    "/export/{table}.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV with a header row"}},
    summary="Export a table as CSV",
)
def export(
    session: SessionDep,
    caller: AuditorCaller,
    table: Literal["payables", "certificates", "financing-requests", "participants"],
) -> Response:
    batch = 100_000
    rows: list[dict[str, Any]]
    if table == "payables":
        rows = [p.model_dump() for p in queries.payables(session=session, limit=batch, offset=0).data]
    elif table == "certificates":
        rows = queries.certificates(session=session, status=None, limit=batch, offset=0)["data"]
    elif table == "financing-requests":
        rows = queries.financing_requests(session=session, limit=batch, offset=0)["data"]
    else:
        listing = participants.listing(session=session, role=None, status=None, limit=batch, offset=0)
        rows = [p.model_dump() for p in listing.data]
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for item in rows:
            writer.writerow({k: "|".join(map(str, v)) if isinstance(v, list) else v for k, v in item.items()})
    return Response(
        content=out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{table}.csv"'},
    )
