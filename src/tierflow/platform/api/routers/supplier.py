"""Supplier: incoming certificates, accept/reject, split and transfer, request financing, payouts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from tierflow.chain.vocabulary import RequestStatusName
from tierflow.platform.api.deps import (
    After,
    ContextDep,
    FinancingRequestId,
    Limit,
    Offset,
    SessionDep,
    SlotId,
    SupplierCaller,
    WriteDep,
    reads_through_run_read,
)
from tierflow.platform.api.writing import READ_RESPONSES, WRITE_RESPONSES, fast_json, json_bytes
from tierflow.platform.services import estimates, queries, workflows
from tierflow.platform.services.schemas.certificates import (
    MAX_FEN,
    AcceptQuote,
    CertificatePublic,
    FinancingCreate,
    FinancingEstimates,
    FinancingPublic,
    Page,
    PayablePublic,
    RecourseDebtPublic,
    TxResultOf,
)
from tierflow.platform.services.schemas.results import FinancingRequestResult, NoResult

router = APIRouter(prefix="/v1/supplier", tags=["supplier"], responses=READ_RESPONSES)


@router.get(
    "/incoming", response_model=Page[PayablePublic], summary="Certificates issued to me, awaiting acceptance"
)
def incoming(
    session: SessionDep, caller: SupplierCaller, limit: Limit = 50, offset: Offset = 0, after: After = None
) -> Page[PayablePublic]:
    return queries.payables(
        session=session, supplier=caller.address, status="Issued", limit=limit, offset=offset, after=after
    )


@router.post("/payables/{slot_id}/accept", response_model=TxResultOf[NoResult], responses=WRITE_RESPONSES)
def accept(
    ctx: ContextDep,
    session: SessionDep,
    caller: SupplierCaller,
    slot_id: SlotId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, {"slot_id": slot_id},
        lambda: workflows.respond(ctx=ctx, session=session, caller=caller, slot_id=slot_id, accept=True),
    )  # fmt: skip


@router.post("/payables/{slot_id}/reject", response_model=TxResultOf[NoResult], responses=WRITE_RESPONSES)
def reject(
    ctx: ContextDep,
    session: SessionDep,
    caller: SupplierCaller,
    slot_id: SlotId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, {"slot_id": slot_id},
        lambda: workflows.respond(ctx=ctx, session=session, caller=caller, slot_id=slot_id, accept=False),
    )  # fmt: skip


@router.get("/holdings", response_model=Page[CertificatePublic], summary="Certificates I hold")
@reads_through_run_read
async def holdings(
    ctx: ContextDep,
    session: SessionDep,
    caller: SupplierCaller,
    slot_id: Annotated[int | None, Query(gt=0, lt=2**63)] = None,
    status: Literal["live", "active", "locked", "settled"] = "live",
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
) -> Response:
    statuses = queries.LIVE_TOKEN if status == "live" else (status,)
    # Keyed by the caller (the holder filter), so a body is only ever served to the holder it lists.
    body = await ctx.responses.body(
        session,
        ("holdings", caller.address, slot_id, statuses, limit, offset, after),
        lambda: json_bytes(queries.certificates(
            session=session, holder=caller.address, slot_id=slot_id, status=statuses, limit=limit,
            offset=offset, after=after,
        )),
        rows=limit,
    )  # fmt: skip
    return Response(content=body, media_type="application/json")


@router.post(
    "/financing-requests", response_model=TxResultOf[FinancingRequestResult], responses=WRITE_RESPONSES,
    summary="Ask a chosen bank to finance (part of) a certificate; the amount is locked",
)  # fmt: skip
def request_financing(
    ctx: ContextDep,
    session: SessionDep,
    caller: SupplierCaller,
    data: FinancingCreate,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, data,
        lambda: workflows.request_financing(ctx=ctx, session=session, caller=caller, data=data),
    )  # fmt: skip


@router.get(
    "/recourse-debts", response_model=Page[RecourseDebtPublic],
    summary="My recourse debts: owed, collected, remaining (collected oldest first from what I receive)",
)  # fmt: skip
def my_recourse_debts(
    session: SessionDep,
    caller: SupplierCaller,
    open_only: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
) -> Page[RecourseDebtPublic]:
    return queries.recourse_debts(
        session=session, seller=caller.address, open_only=open_only, limit=limit, offset=offset,
        after=after,
    )  # fmt: skip


@router.get("/financing-requests", response_model=Page[FinancingPublic], summary="My financing requests")
def my_requests(
    session: SessionDep,
    caller: SupplierCaller,
    status: RequestStatusName | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
) -> Response:
    return fast_json(
        queries.financing_requests(
            session=session, seller=caller.address, status=status, limit=limit, offset=offset, after=after
        )
    )


@router.post(
    "/financing-requests/{request_id}/accept-quote",
    response_model=TxResultOf[NoResult],
    responses=WRITE_RESPONSES,
)
def accept_quote(
    ctx: ContextDep,
    session: SessionDep,
    caller: SupplierCaller,
    data: AcceptQuote,
    request_id: FinancingRequestId,
    write: WriteDep,
) -> JSONResponse:
    """Accept the quote on the terms shown (rate, price, expiry); refused if it was re-quoted since."""
    return write(
        caller.address, {"request_id": request_id, **data.model_dump()},
        lambda: workflows.accept_quote(
            ctx=ctx, session=session, caller=caller, request_id=request_id, data=data
        ),
    )  # fmt: skip


@router.post(
    "/financing-requests/{request_id}/cancel", response_model=TxResultOf[NoResult], responses=WRITE_RESPONSES
)
def cancel_request(
    ctx: ContextDep,
    session: SessionDep,
    caller: SupplierCaller,
    request_id: FinancingRequestId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, {"request_id": request_id},
        lambda: workflows.cancel_request(ctx=ctx, session=session, caller=caller, request_id=request_id),
    )  # fmt: skip


@router.get(
    "/financing-estimate", response_model=FinancingEstimates,
    summary="Financing-cost estimate (融资测算): each bank's price at its standing rate, before asking",
)  # fmt: skip
def financing_estimate(
    session: SessionDep,
    caller: SupplierCaller,
    amount: Annotated[int, Query(gt=0, le=MAX_FEN, description="[fen] the face to sell")],
    token_id: Annotated[
        int | None, Query(gt=0, lt=2**63, description="a certificate you hold: its maturity is used")
    ] = None,
    maturity_date: Annotated[
        dt.date | None, Query(description="ISO date (YYYY-MM-DD) the certificate is due, instead of token_id")
    ] = None,
) -> FinancingEstimates:
    return estimates.for_supplier(
        session=session, caller=caller, amount=amount, token_id=token_id, maturity_date=maturity_date,
        now=queries.clock(session),
    )  # fmt: skip
