"""Core enterprise: upload invoices, issue certificates, cancel, repay; payables, lines, maturities."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Header, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from tierflow.chain.vocabulary import SlotStatusName
from tierflow.platform import i18n
from tierflow.platform.api.deps import (
    After,
    BatchKey,
    ContextDep,
    CoreCaller,
    InvoiceAmountForm,
    InvoiceCodeForm,
    Limit,
    Offset,
    SessionDep,
    SlotId,
    WriteDep,
)
from tierflow.platform.api.writing import READ_RESPONSES, WRITE_RESPONSES
from tierflow.platform.services import batch_issue, batch_sweep, documents, forecast, queries, workflows
from tierflow.platform.services.errors import InvalidRequest
from tierflow.platform.services.schemas.certificates import (
    NO_NUL,
    AddressStr,
    CertificateIssue,
    CreditLinePublic,
    DocumentPublic,
    Page,
    PayablePublic,
    Repay,
    TxResultOf,
)
from tierflow.platform.services.schemas.results import IssueResult, NoResult, RepayResult

router = APIRouter(prefix="/v1/core", tags=["core enterprise"], responses=READ_RESPONSES)


class MaturityDay(BaseModel):
    maturity_date: dt.date
    payables: int
    outstanding: int = Field(description="[fen] face not yet paid in, all payables due that day")


@router.post(
    "/documents",
    response_model=DocumentPublic,
    responses=WRITE_RESPONSES,
    summary="Upload a backing document (stored AES-GCM encrypted)",
    description="An invoice's on-chain key is HMAC-SHA256 under a platform key over the seller's legal "
    "id and the canonical invoice code ‖ number (full-width digits, spaces, zero-width characters, "
    "punctuation and labels such as No., №, 第…号 removed), so the same invoice always has the same key "
    "however often and however it is typed: the document registry then lets it back one asset only. "
    "Give the 20-digit number of a 全电发票, or the code (10/12 digits) and 8-digit number of an older "
    "invoice. A PDF or OFD/XML e-invoice is read and must show the number claimed (422 otherwise); "
    "other files are stored as not verified.",
)
def upload(
    ctx: ContextDep,
    session: SessionDep,
    caller: CoreCaller,
    file: Annotated[UploadFile, File(description="the document (at most 10 MB)")],
    seller: Annotated[AddressStr, Form(description="the supplier that issued the invoice")],
    kind: Annotated[Literal["invoice", "contract", "delivery", "other"], Form()] = "invoice",
    invoice_number: Annotated[
        str | None, Form(max_length=64, pattern=NO_NUL, description="发票号码 (invoices only)")
    ] = None,
    invoice_code: InvoiceCodeForm = None,
    invoice_amount: InvoiceAmountForm = None,
) -> DocumentPublic:
    content = file.file.read(documents.MAX_DOCUMENT_BYTES + 1)
    return documents.upload(
        ctx=ctx,
        session=session,
        caller=caller,
        content=content,
        filename=(file.filename or "document").replace("\x00", ""),
        content_type=(file.content_type or "application/octet-stream").replace("\x00", ""),
        kind=kind,
        seller=seller,
        invoice_number=invoice_number,
        invoice_code=invoice_code,
        invoice_amount=invoice_amount,
    )


@router.post(
    "/certificates", response_model=TxResultOf[IssueResult], responses=WRITE_RESPONSES,
    summary="Issue a certificate (payable) to a supplier, drawing on a credit line",
)  # fmt: skip
def issue(
    ctx: ContextDep,
    session: SessionDep,
    caller: CoreCaller,
    data: CertificateIssue,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, data,
        lambda: workflows.issue(ctx=ctx, session=session, caller=caller, data=data),
    )  # fmt: skip


@router.post(
    "/payables/batch",
    response_model=batch_issue.BatchResult,
    responses=WRITE_RESPONSES,
    summary="Issue many payables from one ERP export (CSV or XLSX)",
    description="Columns (header row, English or Chinese names): supplier (name or address), amount "
    "(yuan, at most 2 decimals), maturity (YYYY-MM-DD), credit line (id), invoice numbers (separated by "
    "`;`), optionally invoice files (names of files sent in `invoices`, one per number). Every row is "
    "checked first; any wrong row answers 422 with `details.rows` (row, column, message) and nothing is "
    "sent. Then the rows are sent concurrently through the normal write path (approval policy, audit); "
    "the answer lists one outcome per row (slot id and tx hash, approval, or the error). Idempotent as a "
    "whole: the batch key is the SHA-256 of the company and the file's bytes, whatever the channel (this "
    "API or the dashboard's upload) and whatever Idempotency-Key comes with it, so sending the same file "
    "again sends nothing twice and answers the same outcomes. An Idempotency-Key is bound to its file: "
    "the same key with another file answers 422 `idempotency_key_reused`. To send rows again (say, rows "
    "that failed, after their credit line was raised), send a file of those rows: another file is "
    "another batch.",
)
def issue_batch(
    ctx: ContextDep,
    session: SessionDep,
    caller: CoreCaller,
    file: Annotated[UploadFile, File(description="the ERP export, CSV (UTF-8 or GBK) or XLSX")],
    invoices: Annotated[
        list[UploadFile] | None, File(description="invoice files named in the rows' invoice files column")
    ] = None,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> batch_issue.BatchResult:
    content = file.file.read(batch_issue.MAX_FILE_BYTES + 1)
    uploads = [
        batch_issue.Upload(
            item.filename or "invoice", item.content_type or "application/octet-stream",
            item.file.read(documents.MAX_DOCUMENT_BYTES + 1),
        )
        for item in invoices or []
    ]  # fmt: skip
    batch = batch_issue.prepare(
        ctx=ctx, session=session, caller=caller, content=content, filename=file.filename or "",
        uploads=uploads, idempotency_key=idempotency_key,
    )  # fmt: skip
    if batch.errors:
        raise InvalidRequest(
            i18n.gettext(
                "%(count)s row(s) of the file are wrong; nothing was sent. Correct them and upload the "
                "file again.",
                count=len({error.row for error in batch.errors}),
            ),
            code="batch_rows_invalid",
            details={"rows": [error.model_dump() for error in batch.errors]},
        )
    return batch_issue.issue(ctx=ctx, caller=caller, batch=batch, action="/v1/core/payables/batch")


@router.get(
    "/payables/batch/{batch_key}",
    response_model=batch_sweep.BatchStatus,
    responses=READ_RESPONSES,
    summary="A batch issue's outcomes, without sending the file again",
)
def batch_status(
    ctx: ContextDep,
    caller: CoreCaller,
    batch_key: BatchKey,
) -> batch_sweep.BatchStatus:
    return batch_sweep.status(ctx, caller.address, batch_key)


@router.post("/payables/{slot_id}/cancel", response_model=TxResultOf[NoResult], responses=WRITE_RESPONSES)
def cancel(
    ctx: ContextDep,
    session: SessionDep,
    caller: CoreCaller,
    slot_id: SlotId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, {"slot_id": slot_id},
        lambda: workflows.cancel(ctx=ctx, session=session, caller=caller, slot_id=slot_id),
    )  # fmt: skip


@router.post(
    "/payables/{slot_id}/repay", response_model=TxResultOf[RepayResult], responses=WRITE_RESPONSES,
    summary="Repay in full or in part (settlement token)",
)  # fmt: skip
def repay(
    ctx: ContextDep,
    session: SessionDep,
    caller: CoreCaller,
    data: Repay,
    slot_id: SlotId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, data,
        lambda: workflows.repay(ctx=ctx, session=session, caller=caller, slot_id=slot_id, data=data),
    )  # fmt: skip


@router.get("/payables", response_model=Page[PayablePublic], summary="This obligor's payables")
def payables(
    session: SessionDep,
    caller: CoreCaller,
    status: SlotStatusName | None = None,
    maturity_before: dt.date | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
) -> Page[PayablePublic]:
    return queries.payables(
        session=session, obligor=caller.address, status=status,
        maturity_before=workflows.date_to_unix(maturity_before) if maturity_before else None,
        limit=limit, offset=offset, after=after,
    )  # fmt: skip


@router.get("/credit-lines", response_model=Page[CreditLinePublic], summary="Lines granted to this obligor")
def lines(
    session: SessionDep, caller: CoreCaller, limit: Limit = 50, offset: Offset = 0, after: After = None
) -> Page[CreditLinePublic]:
    return queries.credit_lines(
        session=session, obligor=caller.address, limit=limit, offset=offset, after=after
    )


@router.get("/maturities", response_model=list[MaturityDay], summary="Upcoming maturities, by day")
def maturities(session: SessionDep, caller: CoreCaller) -> list[MaturityDay]:
    page = queries.payables(session=session, obligor=caller.address, limit=10_000, offset=0)
    days: dict[dt.date, list[int]] = {}
    for p in page.data:
        if p.status not in ("Accepted", "Defaulted", "Issued"):
            continue
        day = p.maturity
        entry = days.setdefault(day, [0, 0])
        entry[0] += 1
        entry[1] += p.face - p.paid_in
    return [MaturityDay(maturity_date=d, payables=v[0], outstanding=v[1]) for d, v in sorted(days.items())]


@router.get(
    "/cash-forecast.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV with a header row"}},
    summary="Cash forecast as CSV: what is due per maturity date, in fen and yuan",
)
def cash_forecast_csv(session: SessionDep, caller: CoreCaller) -> Response:
    # The dashboard's CSV (services.forecast), headers in the request's language (Accept-Language).
    return Response(
        forecast.forecast_csv(forecast.cash_forecast(session, caller.address)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="tierflow-cash-forecast.csv"'},
    )
