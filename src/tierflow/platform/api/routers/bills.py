"""Digital bills (电子商业汇票): drawer, acceptor, holder, bank and auditor endpoints under /v1/bills."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tierflow.chain.vocabulary import OpenRangeStatusName, PackageStatusName
from tierflow.platform.api.deps import (
    After,
    AuditorCaller,
    BillQuoteId,
    BillRequestId,
    ContextDep,
    FinancierCaller,
    InvoiceAmountForm,
    InvoiceCodeForm,
    Limit,
    Offset,
    PackageId,
    RangeId,
    SessionDep,
    WriteDep,
    role_guard,
)
from tierflow.platform.api.writing import READ_RESPONSES, WRITE_RESPONSES
from tierflow.platform.services import bills, documents, exports
from tierflow.platform.services.participants import Caller
from tierflow.platform.services.schemas.bills import (
    BillDetail,
    BillDiscountCreate,
    BillDiscountRequestPublic,
    BillDishonour,
    BillEndorse,
    BillIssue,
    BillPackagePublic,
    BillPledge,
    BillQuoteCreate,
    BillRangePublic,
    BillRecourse,
    EndorsementChain,
)
from tierflow.platform.services.schemas.certificates import (
    NO_NUL,
    AddressStr,
    DocumentPublic,
    Page,
    TxResultOf,
)
from tierflow.platform.services.schemas.results import (
    BillDiscountResult,
    BillIssueResult,
    BillPaymentResult,
    BillQuoteResult,
    BillRangeResult,
    NoResult,
)

router = APIRouter(prefix="/v1/bills", tags=["bills"], responses=READ_RESPONSES)

# Who may act, by role (the party check against the bill itself happens in the service).
DrawerCaller = Annotated[Caller, Depends(role_guard("core_enterprise", "supplier"))]
AcceptorCaller = Annotated[Caller, Depends(role_guard("core_enterprise", "financier"))]
HolderCaller = Annotated[Caller, Depends(role_guard("core_enterprise", "supplier", "financier"))]
ReaderCaller = Annotated[
    Caller, Depends(role_guard("core_enterprise", "supplier", "financier", auditor=True, operator=True))
]


# -- drawer -----------------------------------------------------------------------------------------
@router.post(
    "/documents",
    response_model=DocumentPublic,
    responses=WRITE_RESPONSES,
    summary="Upload an invoice backing a bill (the payee is its seller; same hash as for certificates)",
)
def upload(
    ctx: ContextDep,
    session: SessionDep,
    caller: DrawerCaller,
    file: Annotated[UploadFile, File(description="the document (at most 10 MB)")],
    seller: Annotated[AddressStr, Form(description="the payee that issued the invoice")],
    kind: Annotated[Literal["invoice", "contract", "delivery", "other"], Form()] = "invoice",
    invoice_number: Annotated[str | None, Form(max_length=64, pattern=NO_NUL)] = None,
    invoice_code: InvoiceCodeForm = None,
    invoice_amount: InvoiceAmountForm = None,
) -> DocumentPublic:
    return documents.upload(
        ctx=ctx,
        session=session,
        caller=caller,
        content=file.file.read(documents.MAX_DOCUMENT_BYTES + 1),
        filename=(file.filename or "document").replace("\x00", ""),
        content_type=(file.content_type or "application/octet-stream").replace("\x00", ""),
        kind=kind,
        seller=seller,
        invoice_number=invoice_number,
        invoice_code=invoice_code,
        invoice_amount=invoice_amount,
    )


@router.post(
    "",
    response_model=TxResultOf[BillIssueResult],
    responses=WRITE_RESPONSES,
    summary="Issue (出票) a bill package to a payee, accepted by a core enterprise or a bank",
)
def issue(
    ctx: ContextDep,
    session: SessionDep,
    caller: DrawerCaller,
    data: BillIssue,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        data,
        lambda: bills.issue(ctx=ctx, session=session, caller=caller, data=data),
    )


# -- reads (static paths before /{package_id}) -------------------------------------------------------
@router.get("", response_model=Page[BillPackagePublic], summary="Bills this caller is a party to")
def listing(
    session: SessionDep,
    caller: ReaderCaller,
    status: PackageStatusName | None = None,
    role: Literal["drawer", "acceptor", "payee", "holder"] | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
) -> Page[BillPackagePublic]:
    return bills.packages(
        session=session, caller=caller, status=status, role=role, limit=limit, offset=offset, after=after
    )


@router.get("/holdings", response_model=Page[BillRangePublic], summary="Ranges this caller holds")
def holdings(
    session: SessionDep,
    caller: HolderCaller,
    status: OpenRangeStatusName | None = None,
    package_id: Annotated[int | None, Query(gt=0, lt=2**63)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
) -> Page[BillRangePublic]:
    return bills.holdings(
        session=session,
        address=caller.address,
        status=status,
        package_id=package_id,
        limit=limit,
        offset=offset,
        after=after,
    )


@router.get(
    "/discount-queue",
    response_model=Page[BillDiscountRequestPublic],
    summary="Discount requests addressed to this bank, with the range, maturity, acceptor and quote",
)
def queue(
    session: SessionDep,
    caller: FinancierCaller,
    status: Literal["open", "quoted", "discounted", "quote_cancelled"] | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
) -> Page[BillDiscountRequestPublic]:
    return bills.discount_requests(
        session=session, financier=caller.address, status=status, limit=limit, offset=offset, after=after
    )


@router.get(
    "/discount-requests", response_model=Page[BillDiscountRequestPublic], summary="This holder's requests"
)
def my_requests(
    session: SessionDep, caller: HolderCaller, limit: Limit = 50, offset: Offset = 0, after: After = None
) -> Page[BillDiscountRequestPublic]:
    return bills.discount_requests(
        session=session, seller=caller.address, limit=limit, offset=offset, after=after
    )


@router.get(
    "/export/{table}.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV with a header row"}},
    summary="Every bill package or every range record (auditor)",
)
def export(ctx: ContextDep, caller: AuditorCaller, table: Literal["packages", "ranges"]) -> StreamingResponse:
    # Every row, streamed with constant memory (services.exports).
    return StreamingResponse(
        exports.chunks(ctx.engine, exports.bill_export(table)),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="bill-{table}.csv"'},
    )


@router.get(
    "/ranges/{range_id}/chain",
    response_model=EndorsementChain,
    summary="The endorsement chain of a range (nearest first): who is liable in recourse",
)
def endorsement_chain(session: SessionDep, caller: ReaderCaller, range_id: RangeId) -> EndorsementChain:
    return bills.chain(session=session, caller=caller, range_id=range_id)


@router.get(
    "/{package_id}", response_model=BillDetail, summary="A bill with its live ranges, quotes, history"
)
def detail(session: SessionDep, caller: ReaderCaller, package_id: PackageId) -> BillDetail:
    return bills.detail(session=session, caller=caller, package_id=package_id)


# -- package lifecycle --------------------------------------------------------------------------------
@router.post(
    "/{package_id}/cancel",
    response_model=TxResultOf[NoResult],
    responses=WRITE_RESPONSES,
    summary="Withdraw an issued bill (drawer) or refuse to accept it (acceptor); invoices released",
)
def cancel(
    ctx: ContextDep,
    session: SessionDep,
    caller: HolderCaller,
    package_id: PackageId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        {"package_id": package_id},
        lambda: bills.cancel(ctx=ctx, session=session, caller=caller, package_id=package_id),
    )


@router.post(
    "/{package_id}/accept",
    response_model=TxResultOf[NoResult],
    responses=WRITE_RESPONSES,
    summary="Accept (承兑)",
)
def accept(
    ctx: ContextDep,
    session: SessionDep,
    caller: AcceptorCaller,
    package_id: PackageId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        {"package_id": package_id},
        lambda: bills.accept(ctx=ctx, session=session, caller=caller, package_id=package_id),
    )


@router.post(
    "/{package_id}/refuse",
    response_model=TxResultOf[NoResult],
    responses=WRITE_RESPONSES,
    summary="Refuse acceptance (acceptor); the bill is cancelled and its invoices released",
)
def refuse(
    ctx: ContextDep,
    session: SessionDep,
    caller: AcceptorCaller,
    package_id: PackageId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        {"package_id": package_id},
        lambda: bills.refuse(ctx=ctx, session=session, caller=caller, package_id=package_id),
    )


@router.post(
    "/{package_id}/receive",
    response_model=TxResultOf[BillIssueResult],
    responses=WRITE_RESPONSES,
    summary="Sign for receipt (收票): the payee holds sub-tickets 1 … face",
)
def receive(
    ctx: ContextDep,
    session: SessionDep,
    caller: DrawerCaller,
    package_id: PackageId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        {"package_id": package_id},
        lambda: bills.respond(ctx=ctx, session=session, caller=caller, package_id=package_id, receive=True),
    )


@router.post(
    "/{package_id}/reject",
    response_model=TxResultOf[NoResult],
    responses=WRITE_RESPONSES,
    summary="Reject (payee)",
)
def reject(
    ctx: ContextDep,
    session: SessionDep,
    caller: DrawerCaller,
    package_id: PackageId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        {"package_id": package_id},
        lambda: bills.respond(ctx=ctx, session=session, caller=caller, package_id=package_id, receive=False),
    )


# -- ranges -------------------------------------------------------------------------------------------
@router.post(
    "/ranges/{range_id}/endorse",
    response_model=TxResultOf[BillRangeResult],
    responses=WRITE_RESPONSES,
    summary="Endorse (背书) the whole range, an amount or sub-tickets start … end to a registered endorsee",
)
def endorse(
    ctx: ContextDep,
    session: SessionDep,
    caller: HolderCaller,
    data: BillEndorse,
    range_id: RangeId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        data,
        lambda: bills.endorse(ctx=ctx, session=session, caller=caller, range_id=range_id, data=data),
    )


@router.post(
    "/ranges/{range_id}/pledge",
    response_model=TxResultOf[BillRangeResult],
    responses=WRITE_RESPONSES,
    summary="Pledge (质押)",
)
def pledge(
    ctx: ContextDep,
    session: SessionDep,
    caller: HolderCaller,
    data: BillPledge,
    range_id: RangeId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        data,
        lambda: bills.pledge(ctx=ctx, session=session, caller=caller, range_id=range_id, data=data),
    )


@router.post(
    "/ranges/{range_id}/release",
    response_model=TxResultOf[BillRangeResult],
    responses=WRITE_RESPONSES,
    summary="Release a pledge (the pledgee bank)",
)
def release(
    ctx: ContextDep,
    session: SessionDep,
    caller: FinancierCaller,
    range_id: RangeId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        {"range_id": range_id},
        lambda: bills.release_pledge(ctx=ctx, session=session, caller=caller, range_id=range_id),
    )


@router.post(
    "/ranges/{range_id}/present",
    response_model=TxResultOf[NoResult],
    responses=WRITE_RESPONSES,
    summary="Present for payment (提示付款) at or after maturity",
)
def present(
    ctx: ContextDep,
    session: SessionDep,
    caller: HolderCaller,
    range_id: RangeId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        {"range_id": range_id},
        lambda: bills.present(ctx=ctx, session=session, caller=caller, range_id=range_id),
    )


@router.post(
    "/ranges/{range_id}/pay",
    response_model=TxResultOf[BillPaymentResult],
    responses=WRITE_RESPONSES,
    summary="Pay a presented range (acceptor; settlement token to its holder)",
)
def pay(
    ctx: ContextDep,
    session: SessionDep,
    caller: AcceptorCaller,
    range_id: RangeId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        {"range_id": range_id},
        lambda: bills.pay(ctx=ctx, session=session, caller=caller, range_id=range_id),
    )


@router.post(
    "/ranges/{range_id}/dishonour",
    response_model=TxResultOf[NoResult],
    responses=WRITE_RESPONSES,
    summary="Dishonour (拒付) a presented range with a reason code (acceptor)",
)
def dishonour(
    ctx: ContextDep,
    session: SessionDep,
    caller: AcceptorCaller,
    data: BillDishonour,
    range_id: RangeId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        data,
        lambda: bills.dishonour(ctx=ctx, session=session, caller=caller, range_id=range_id, data=data),
    )


@router.post(
    "/ranges/{range_id}/dishonour-unanswered",
    response_model=TxResultOf[NoResult],
    responses=WRITE_RESPONSES,
    summary="Record a dishonour the acceptor left unanswered past the grace period (holder)",
)
def dishonour_unanswered(
    ctx: ContextDep,
    session: SessionDep,
    caller: HolderCaller,
    range_id: RangeId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        {"range_id": range_id},
        lambda: bills.dishonour_unanswered(ctx=ctx, session=session, caller=caller, range_id=range_id),
    )


@router.post(
    "/ranges/{range_id}/recourse",
    response_model=TxResultOf[NoResult],
    responses=WRITE_RESPONSES,
    summary="Claim recourse (追索) on a dishonoured range against the drawer or a prior endorser",
)
def recourse(
    ctx: ContextDep,
    session: SessionDep,
    caller: HolderCaller,
    data: BillRecourse,
    range_id: RangeId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        data,
        lambda: bills.claim_recourse(ctx=ctx, session=session, caller=caller, range_id=range_id, data=data),
    )


@router.post(
    "/ranges/{range_id}/settle-recourse",
    response_model=TxResultOf[BillRangeResult],
    responses=WRITE_RESPONSES,
    summary="Pay a recourse claim made against you and take the range (DvP)",
)
def settle_recourse(
    ctx: ContextDep,
    session: SessionDep,
    caller: HolderCaller,
    range_id: RangeId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        {"range_id": range_id},
        lambda: bills.settle_recourse(ctx=ctx, session=session, caller=caller, range_id=range_id),
    )


# -- discount (贴现 / 转贴现) ---------------------------------------------------------------------------
@router.post(
    "/ranges/{range_id}/discount-requests",
    response_model=BillDiscountRequestPublic,
    responses=WRITE_RESPONSES,
    summary="Ask a bank to quote a discount on the whole range or a part (nothing on chain yet)",
)
def request_discount(
    session: SessionDep, caller: HolderCaller, data: BillDiscountCreate, range_id: RangeId
) -> BillDiscountRequestPublic:
    return bills.request_discount(session=session, caller=caller, range_id=range_id, data=data)


@router.post(
    "/discount-requests/{request_id}/quote",
    response_model=TxResultOf[BillQuoteResult],
    responses=WRITE_RESPONSES,
    summary="Quote a discount: interest = amount × rate × days / 360, half up to the fen (bank)",
)
def quote(
    ctx: ContextDep,
    session: SessionDep,
    caller: FinancierCaller,
    data: BillQuoteCreate,
    request_id: BillRequestId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        data,
        lambda: bills.quote_discount(
            ctx=ctx, session=session, caller=caller, request_id=request_id, data=data
        ),
        after=lambda result: bills.link_quote(session=session, request_id=request_id, result=result),
    )


@router.post(
    "/quotes/{quote_id}/accept",
    response_model=TxResultOf[BillDiscountResult],
    responses=WRITE_RESPONSES,
    summary="Accept a quote: the price is paid and the range moves to the bank atomically (DvP)",
)
def accept_quote(
    ctx: ContextDep,
    session: SessionDep,
    caller: HolderCaller,
    quote_id: BillQuoteId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        {"quote_id": quote_id},
        lambda: bills.accept_quote(ctx=ctx, session=session, caller=caller, quote_id=quote_id),
    )


@router.post(
    "/quotes/{quote_id}/cancel",
    response_model=TxResultOf[NoResult],
    responses=WRITE_RESPONSES,
    summary="Withdraw a quote",
)
def cancel_quote(
    ctx: ContextDep,
    session: SessionDep,
    caller: FinancierCaller,
    quote_id: BillQuoteId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        {"quote_id": quote_id},
        lambda: bills.cancel_quote(ctx=ctx, session=session, caller=caller, quote_id=quote_id),
    )
