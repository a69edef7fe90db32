"""Financier (bank): credit lines, the request queue, quote/fund/decline, portfolio, recourse; minting."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from tierflow.chain.vocabulary import RequestStatusName
from tierflow.platform.api.deps import (
    After,
    BatchKey,
    ContextDep,
    FinancierCaller,
    FinancingRequestId,
    Limit,
    LineId,
    Offset,
    SessionDep,
    SettlementBankCaller,
    WriteDep,
    reads_through_run_read,
)
from tierflow.platform.api.writing import READ_RESPONSES, WRITE_RESPONSES, json_bytes
from tierflow.platform.services import batch_fund, batch_sweep, estimates, queries, workflows
from tierflow.platform.services.schemas.certificates import (
    AddressStr,
    Burn,
    CreditLineAdjust,
    CreditLineCreate,
    CreditLinePublic,
    FinancingDetail,
    FinancingPublic,
    Mint,
    Page,
    Portfolio,
    Quote,
    RecourseDebtPublic,
    TxResultOf,
)
from tierflow.platform.services.schemas.results import (
    CreditLineResult,
    FundResult,
    NoResult,
    QuoteResult,
    RecourseResult,
)

router = APIRouter(prefix="/v1/financier", tags=["financier"], responses=READ_RESPONSES)


class StandingRate(BaseModel):
    rate_bps: int = Field(
        strict=True, gt=0, le=estimates.MAX_RATE_BPS,
        description="[bps] annual discount rate (100 bps = 1%), 1 to 10,000",
    )  # fmt: skip


@router.put(
    "/standing-rate", response_model=StandingRate,
    summary="Set this bank's standing rate: what suppliers' financing-cost estimates price at",
)  # fmt: skip
def standing_rate(session: SessionDep, caller: FinancierCaller, data: StandingRate) -> StandingRate:
    return StandingRate(
        rate_bps=estimates.set_standing_rate(session=session, caller=caller, rate_bps=data.rate_bps)
    )


@router.post(
    "/credit-lines",
    response_model=TxResultOf[CreditLineResult],
    responses=WRITE_RESPONSES,
    summary="Grant a credit line",
)
def grant(
    ctx: ContextDep,
    session: SessionDep,
    caller: FinancierCaller,
    data: CreditLineCreate,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, data,
        lambda: workflows.grant_line(ctx=ctx, session=session, caller=caller, data=data),
    )  # fmt: skip


@router.post(
    "/credit-lines/{line_id}/adjust", response_model=TxResultOf[CreditLineResult], responses=WRITE_RESPONSES,
    summary="Extend or change a credit line (limit ≥ used)",
)  # fmt: skip
def adjust(
    ctx: ContextDep,
    session: SessionDep,
    caller: FinancierCaller,
    data: CreditLineAdjust,
    line_id: LineId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, data,
        lambda: workflows.adjust_line(ctx=ctx, session=session, caller=caller, line_id=line_id, data=data),
    )  # fmt: skip


@router.post(
    "/credit-lines/{line_id}/freeze", response_model=TxResultOf[CreditLineResult], responses=WRITE_RESPONSES,
    summary="Freeze a credit line: its limit comes down to what is drawn, so nothing new is issued on it",
    description="The chain has no freeze flag: the line's limit is adjusted to its used amount (its "
    "expiry unchanged). Repayments still restore it; reopen it with /adjust and a higher limit.",
)  # fmt: skip
def freeze(
    ctx: ContextDep,
    session: SessionDep,
    caller: FinancierCaller,
    line_id: LineId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, {"line_id": line_id, "freeze": True},
        lambda: workflows.freeze_line(ctx=ctx, session=session, caller=caller, line_id=line_id),
    )  # fmt: skip


@router.get("/credit-lines", response_model=Page[CreditLinePublic], summary="Lines this financier granted")
def lines(
    session: SessionDep,
    caller: FinancierCaller,
    obligor: AddressStr | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
) -> Page[CreditLinePublic]:
    return queries.credit_lines(
        session=session, financier=caller.address, obligor=obligor, limit=limit, offset=offset, after=after
    )


@router.get(
    "/requests", response_model=Page[FinancingPublic], summary="Financing requests addressed to this bank"
)
@reads_through_run_read
async def queue(
    ctx: ContextDep,
    session: SessionDep,
    caller: FinancierCaller,
    status: RequestStatusName | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
) -> Response:
    # Keyed by the caller (the financier filter): a bank's cached queue is only ever served to it.
    # Newest first: `after` pages to older requests.
    body = await ctx.responses.body(
        session,
        ("financier_requests", caller.address, status, limit, offset, after),
        lambda: json_bytes(queries.financing_requests(
            session=session, financier=caller.address, status=status, limit=limit, offset=offset, after=after
        )),
        rows=limit,
    )  # fmt: skip
    return Response(content=body, media_type="application/json")


@router.get(
    "/requests/{request_id}",
    response_model=FinancingDetail,
    summary="One request with lineage, obligor, maturity, documents and the obligor's exposure",
)
def detail(session: SessionDep, caller: FinancierCaller, request_id: FinancingRequestId) -> FinancingDetail:
    return queries.request_detail(session=session, caller=caller, request_id=request_id)


@router.post(
    "/requests/{request_id}/quote", response_model=TxResultOf[QuoteResult], responses=WRITE_RESPONSES
)
def quote(
    ctx: ContextDep,
    session: SessionDep,
    caller: FinancierCaller,
    data: Quote,
    request_id: FinancingRequestId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, data,
        lambda: workflows.quote(ctx=ctx, session=session, caller=caller, request_id=request_id, data=data),
    )  # fmt: skip


@router.post(
    "/requests/{request_id}/fund", response_model=TxResultOf[FundResult], responses=WRITE_RESPONSES,
    summary="Pay the price and receive the certificate atomically (DvP)",
)  # fmt: skip
def fund(
    ctx: ContextDep,
    session: SessionDep,
    caller: FinancierCaller,
    request_id: FinancingRequestId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, {"request_id": request_id},
        lambda: workflows.fund(ctx=ctx, session=session, caller=caller, request_id=request_id),
    )  # fmt: skip


@router.post(
    "/requests/fund-batch",
    response_model=batch_fund.FundBatchResult,
    responses=WRITE_RESPONSES,
    summary="Fund many accepted requests in one action",
    description="Every request is checked first (addressed to you, quote accepted, the balance pays for "
    "all): any problem answers 422 with `details.rows` (row = request id) and nothing is sent. Then "
    "they are funded concurrently through the normal write path; one outcome per request. Idempotent "
    "as a whole: the same list again (whatever Idempotency-Key, through the API or the dashboard) sends "
    "nothing twice; an Idempotency-Key reused with another list answers 422 `idempotency_key_reused`. "
    "The answer's `batch_key` reads the outcomes again, without sending anything: GET "
    "/v1/financier/requests/fund-batch/{batch_key}.",
)
def fund_batch(
    ctx: ContextDep,
    session: SessionDep,
    caller: FinancierCaller,
    data: batch_fund.FundBatch,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> batch_fund.FundBatchResult:
    return batch_fund.fund(
        ctx=ctx, session=session, caller=caller, data=data, idempotency_key=idempotency_key
    )


@router.get(
    "/requests/fund-batch/{batch_key}", response_model=batch_sweep.BatchStatus,
    summary="A batch funding's outcomes, without sending its requests again",
)  # fmt: skip
def fund_batch_status(
    ctx: ContextDep, caller: FinancierCaller, batch_key: BatchKey
) -> batch_sweep.BatchStatus:
    return batch_fund.status(ctx, caller.address, batch_key)


@router.post("/requests/{request_id}/decline", response_model=TxResultOf[NoResult], responses=WRITE_RESPONSES)
def decline(
    ctx: ContextDep,
    session: SessionDep,
    caller: FinancierCaller,
    request_id: FinancingRequestId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, {"request_id": request_id},
        lambda: workflows.decline(ctx=ctx, session=session, caller=caller, request_id=request_id),
    )  # fmt: skip


@router.post(
    "/requests/{request_id}/recourse", response_model=TxResultOf[RecourseResult], responses=WRITE_RESPONSES,
    summary="Hand a defaulted with-recourse certificate back to the seller against its value",
)  # fmt: skip
def recourse(
    ctx: ContextDep,
    session: SessionDep,
    caller: FinancierCaller,
    request_id: FinancingRequestId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, {"request_id": request_id},
        lambda: workflows.recourse(ctx=ctx, session=session, caller=caller, request_id=request_id),
    )  # fmt: skip


@router.get(
    "/portfolio",
    response_model=Portfolio,
    summary="Held certificates, maturity ladder, yield, overdue, defaulted",
)
def portfolio(ctx: ContextDep, session: SessionDep, caller: FinancierCaller) -> Portfolio:
    return queries.portfolio(session=session, caller=caller, now=ctx.gateway().chain_time())


@router.get(
    "/recourse-debts", response_model=Page[RecourseDebtPublic],
    summary="Recourse debts sellers owe this bank: owed, collected, remaining (oldest first)",
)  # fmt: skip
def recourse_debts(
    session: SessionDep,
    caller: FinancierCaller,
    open_only: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
) -> Page[RecourseDebtPublic]:
    return queries.recourse_debts(
        session=session, financier=caller.address, open_only=open_only, limit=limit, offset=offset,
        after=after,
    )  # fmt: skip


settlement = APIRouter(prefix="/v1/settlement", tags=["settlement"], responses=READ_RESPONSES)


@settlement.post(
    "/mint", response_model=TxResultOf[NoResult], responses=WRITE_RESPONSES,
    summary="Credit settlement token against a deposit received off chain (settlement bank)",
)  # fmt: skip
def mint(
    ctx: ContextDep,
    session: SessionDep,
    caller: SettlementBankCaller,
    data: Mint,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, data,
        lambda: workflows.mint(ctx=ctx, session=session, caller=caller, data=data),
    )  # fmt: skip


@settlement.post(
    "/burn", response_model=TxResultOf[NoResult], responses=WRITE_RESPONSES,
    summary="Retire settlement token the bank holds (settlement bank)",
    description="Burns from the bank's own balance, against a withdrawal it paid out off chain.",
)  # fmt: skip
def burn(
    ctx: ContextDep,
    session: SessionDep,
    caller: SettlementBankCaller,
    data: Burn,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, data,
        lambda: workflows.burn(ctx=ctx, session=session, caller=caller, data=data),
    )  # fmt: skip
