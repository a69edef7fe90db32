"""Auditor (and operator): read everything — participants, payables, lineage, positions — and export CSV."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel
from sqlmodel import Session

from tierflow.chain.vocabulary import SlotStatusName
from tierflow.platform.api.deps import (
    After,
    AuditorCaller,
    ContextDep,
    KeyCursor,
    Limit,
    Offset,
    SessionDep,
    reads_through_run_read,
)
from tierflow.platform.api.writing import READ_RESPONSES, fast_json, json_bytes
from tierflow.platform.services import exports, participants, queries
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.schemas.certificates import (
    AddressStr,
    CertificatePublic,
    CursorPage,
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


@router.get("/participants", response_model=CursorPage[ParticipantPublic])
def all_participants(
    session: SessionDep, caller: AuditorCaller, limit: Limit = 50, offset: Offset = 0, after: KeyCursor = None
) -> CursorPage[ParticipantPublic]:
    return participants.listing(
        session=session, role=None, status=None, limit=limit, offset=offset, after=after
    )


# The two lists below read through ResponseCache.body (run_read on a miss: on SQLite a short page runs on
# the event loop, no thread hop). Their bodies are cached per data version like the holdings': an auditor
# sees every row, so a body depends only on the query, never on which auditor asks (the caller is still
# checked on every request, by AuditorCaller, before the cache is looked at).
@router.get("/payables", response_model=Page[PayablePublic])
@reads_through_run_read
async def all_payables(
    ctx: ContextDep,
    session: SessionDep,
    caller: AuditorCaller,
    obligor: AddressStr | None = None,
    supplier: AddressStr | None = None,
    status: SlotStatusName | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
) -> Response:
    return await _cached(ctx, session, ("audit-payables", obligor, supplier, status, limit, offset, after),
        lambda: queries.payable_rows(
            session=session, obligor=obligor, supplier=supplier, status=status, limit=limit, offset=offset,
            after=after,
        ), limit)  # fmt: skip


@router.get("/certificates", response_model=Page[CertificatePublic])
@reads_through_run_read
async def all_certificates(
    ctx: ContextDep,
    session: SessionDep,
    caller: AuditorCaller,
    holder: AddressStr | None = None,
    slot_id: Annotated[int | None, Query(gt=0, lt=2**63)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
) -> Response:
    return await _cached(ctx, session, ("audit-certificates", holder, slot_id, limit, offset, after),
        lambda: queries.certificates(
            session=session, holder=holder, slot_id=slot_id, status=None, limit=limit, offset=offset,
            after=after,
        ), limit)  # fmt: skip


async def _cached(
    ctx: ServiceContext, session: Session, query: Hashable, page: Callable[[], dict[str, Any]], limit: int
) -> Response:
    """The JSON of `page()` from the response cache (per data version), built on a miss."""
    body = await ctx.responses.body(session, query, lambda: json_bytes(page()), rows=limit)
    return Response(content=body, media_type="application/json")


@router.get("/financing-requests", response_model=Page[FinancingPublic])
def all_requests(
    session: SessionDep, caller: AuditorCaller, limit: Limit = 50, offset: Offset = 0, after: After = None
) -> Response:
    # Newest first: `after` pages to older requests.
    return fast_json(queries.financing_requests(session=session, limit=limit, offset=offset, after=after))


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
    ctx: ContextDep,
    caller: AuditorCaller,
    table: Literal["payables", "certificates", "financing-requests", "participants"],
) -> StreamingResponse:
    # Every row, however many, streamed with constant memory (services.exports).
    return StreamingResponse(
        exports.chunks(ctx.engine, exports.api_export(table)),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{table}.csv"'},
    )
