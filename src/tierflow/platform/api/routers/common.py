"""Reads every party shares (with party checks), documents, settlement, claims and the self-custody relay."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from tierflow.platform.api.deps import (
    After,
    ContextDep,
    CurrentCaller,
    DocumentId,
    FinancingRequestId,
    HolderCaller,
    KeyCursor,
    Limit,
    Offset,
    SessionDep,
    SlotId,
    TokenId,
    WriteDep,
    WriterCaller,
)
from tierflow.platform.api.writing import READ_RESPONSES, WRITE_RESPONSES, json_bytes
from tierflow.platform.services import access, documents, participants, queries, readcache, workflows, writes
from tierflow.platform.services.schemas.certificates import (
    Approval,
    BalancePublic,
    CertificatePublic,
    CursorPage,
    DocumentPublic,
    Lineage,
    Page,
    ParticipantPublic,
    PayablePublic,
    PayoutPublic,
    RecourseCollect,
    RelayRequest,
    Transfer,
    TransferPublic,
    TxResultOf,
)
from tierflow.platform.services.schemas.results import (
    AnyResult,
    ClaimResult,
    DefaultResult,
    NoResult,
    TransferResult,
)

router = APIRouter(prefix="/v1", tags=["shared"], responses=READ_RESPONSES)


@router.get("/me", response_model=ParticipantPublic, summary="Who this API key belongs to")
async def me(session: SessionDep, caller: CurrentCaller) -> JSONResponse:
    # On the event loop: one indexed row, cheaper than the hop to a worker thread (see deps.py).
    # JSONResponse renders exactly what the response model would (compact, UTF-8), minus a validation pass.
    return JSONResponse(participants.profile(session=session, address=caller.address))


@router.get("/payables/{slot_id}", response_model=PayablePublic, summary="A payable (parties only)")
def payable(session: SessionDep, caller: CurrentCaller, slot_id: SlotId) -> PayablePublic:
    return queries.get_payable(session=session, caller=caller, slot_id=slot_id)


@router.get(
    "/payables/{slot_id}/lineage",
    response_model=Lineage,
    summary="Every certificate of a payable, any depth (obligor, auditors)",
)
async def payable_lineage(
    ctx: ContextDep,
    session: SessionDep,
    caller: CurrentCaller,
    slot_id: SlotId,
    limit: Limit = 1000,
    offset: Offset = 0,
    after: After = None,
) -> Response:
    # The party check runs on every request; the tree (up to 1,000 rows, ~20 ms to load and
    # serialise) is the same for every allowed caller until the indexer writes rows again.
    access.check_whole_tree(session, caller, slot_id)
    body = await ctx.responses.body(
        session,
        ("payable_lineage", slot_id, limit, offset, after),
        lambda: json_bytes(queries.slot_lineage(
            session=session, caller=caller, slot_id=slot_id, limit=limit, offset=offset, after=after
        )),
    )  # fmt: skip
    return Response(content=body, media_type="application/json")


@router.get("/payables/{slot_id}/transfers", response_model=Page[TransferPublic], summary="Movement history")
def payable_transfers(
    session: SessionDep,
    caller: CurrentCaller,
    slot_id: SlotId,
    limit: Limit = 100,
    offset: Offset = 0,
    after: After = None,
) -> Page[TransferPublic]:
    # Every movement of every holder: the whole-tree readers only (the obligor, auditors).
    access.check_whole_tree(session, caller, slot_id)
    return queries.transfers(session=session, slot_id=slot_id, limit=limit, offset=offset, after=after)


@router.get("/payables/{slot_id}/documents", response_model=list[DocumentPublic])
def payable_documents(session: SessionDep, caller: CurrentCaller, slot_id: SlotId) -> list[DocumentPublic]:
    queries.get_payable(session=session, caller=caller, slot_id=slot_id)
    return queries.documents_of_slot(session, slot_id)


@router.get("/certificates/{token_id}", response_model=CertificatePublic)
def certificate(session: SessionDep, caller: CurrentCaller, token_id: TokenId) -> CertificatePublic:
    return queries.get_certificate(session=session, caller=caller, token_id=token_id)


@router.get(
    "/certificates/{token_id}/lineage",
    response_model=Lineage,
    summary="The path from a certificate back to its root",
)
async def certificate_lineage(
    ctx: ContextDep, session: SessionDep, caller: CurrentCaller, token_id: TokenId
) -> Response:
    # The party check runs on every request (one prebuilt lookup on the loop); the path is the same for
    # every caller allowed to read it until the indexer changes its tree (the tree's version, read with
    # the check; without one, the data version).
    row = queries.check_certificate_lineage(session=session, caller=caller, token_id=token_id)
    body = await ctx.paths.body(
        session,
        ("certificate_lineage", token_id),
        lambda: json_bytes(queries.certificate_lineage(session=session, row=row)),
        version=readcache.tree_key(row.tree_version, row.all_trees_version),
    )
    return Response(content=body, media_type="application/json")


@router.post(
    "/certificates/{token_id}/transfer", response_model=TxResultOf[TransferResult], responses=WRITE_RESPONSES,
    summary="Transfer all of a certificate, or split part of its value off to another holder",
)  # fmt: skip
def transfer(
    ctx: ContextDep,
    session: SessionDep,
    caller: HolderCaller,
    data: Transfer,
    token_id: TokenId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, data,
        lambda: workflows.transfer(ctx=ctx, session=session, caller=caller, token_id=token_id, data=data),
    )  # fmt: skip


@router.post(
    "/certificates/{token_id}/claim", response_model=TxResultOf[ClaimResult], responses=WRITE_RESPONSES,
    summary="Collect the payout of a matured, repaid certificate",
)  # fmt: skip
def claim(
    ctx: ContextDep,
    session: SessionDep,
    caller: HolderCaller,
    token_id: TokenId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, {"token_id": token_id},
        lambda: workflows.claim(ctx=ctx, session=session, caller=caller, token_id=token_id),
    )  # fmt: skip


@router.post(
    "/payables/{slot_id}/mark-defaulted", response_model=TxResultOf[DefaultResult], responses=WRITE_RESPONSES,
    summary="Mark an unpaid payable defaulted after maturity + grace (holders)",
)  # fmt: skip
def mark_defaulted(
    ctx: ContextDep,
    session: SessionDep,
    caller: HolderCaller,
    slot_id: SlotId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, {"slot_id": slot_id},
        lambda: workflows.mark_defaulted(ctx=ctx, session=session, caller=caller, slot_id=slot_id),
    )  # fmt: skip


@router.post(
    "/financing-requests/{request_id}/lapse", response_model=TxResultOf[NoResult], responses=WRITE_RESPONSES,
    summary="End an accepted financing request whose quote expired unfunded (anyone): the token is unlocked",
)  # fmt: skip
def lapse(
    ctx: ContextDep,
    session: SessionDep,
    caller: HolderCaller,
    request_id: FinancingRequestId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, {"request_id": request_id},
        lambda: workflows.lapse(ctx=ctx, session=session, caller=caller, request_id=request_id),
    )  # fmt: skip


@router.post(
    "/recourse-debts/collect", response_model=TxResultOf[NoResult], responses=WRITE_RESPONSES,
    summary="Collect a seller's recourse debt out of its settlement balance (anyone; no allowance needed)",
)  # fmt: skip
def collect_recourse(
    ctx: ContextDep,
    session: SessionDep,
    caller: HolderCaller,
    data: RecourseCollect,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, data,
        lambda: workflows.collect_recourse(ctx=ctx, session=session, caller=caller, seller=data.seller),
    )  # fmt: skip


@router.get("/payouts", response_model=Page[PayoutPublic], summary="Payouts I received")
def payouts(
    session: SessionDep, caller: CurrentCaller, limit: Limit = 50, offset: Offset = 0, after: After = None
) -> Page[PayoutPublic]:
    return queries.payouts(session=session, holder=caller.address, limit=limit, offset=offset, after=after)


@router.get("/documents", response_model=CursorPage[DocumentPublic], summary="Documents I uploaded")
def my_documents(
    session: SessionDep, caller: CurrentCaller, limit: Limit = 50, offset: Offset = 0, after: KeyCursor = None
) -> CursorPage[DocumentPublic]:
    return documents.mine(session=session, caller=caller, limit=limit, offset=offset, after=after)


@router.get("/documents/{document_id}", response_model=DocumentPublic)
def document(session: SessionDep, caller: CurrentCaller, document_id: DocumentId) -> DocumentPublic:
    return documents.meta(session=session, caller=caller, document_id=document_id)


@router.get(
    "/documents/{document_id}/content",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the decrypted file"}},
    summary="Download a document (parties, financiers asked to fund it, auditors)",
)
def document_content(
    ctx: ContextDep, session: SessionDep, caller: CurrentCaller, document_id: DocumentId
) -> Response:
    row, content = documents.read(ctx=ctx, session=session, caller=caller, document_id=document_id)
    return Response(
        content=content,
        media_type=row.content_type,
        headers={"Content-Disposition": f'attachment; filename="{row.filename.replace(chr(34), "")}"'},
    )


@router.get("/settlement/balance", response_model=BalancePublic, tags=["settlement"])
def balance(ctx: ContextDep, caller: CurrentCaller) -> BalancePublic:
    gateway = ctx.gateway()
    return BalancePublic(
        address=caller.address,
        balance=int(gateway.call("SettlementToken", "balanceOf", caller.address)),
        allowances={
            name: int(
                gateway.call("SettlementToken", "allowance", caller.address, gateway.contracts[name].address)
            )
            for name in ("Financing", "Receivables")
        },
    )


@router.post(
    "/settlement/approvals", response_model=TxResultOf[NoResult], responses=WRITE_RESPONSES,
    tags=["settlement"],
    summary="Let a Tierflow contract pull settlement token (funding, repayment, recourse)",
)  # fmt: skip
def approve(
    ctx: ContextDep,
    session: SessionDep,
    caller: WriterCaller,
    data: Approval,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, data,
        lambda: workflows.approve(ctx=ctx, session=session, caller=caller, data=data),
    )  # fmt: skip


@router.post(
    "/relay", response_model=TxResultOf[AnyResult], responses=WRITE_RESPONSES, tags=["signing"],
    summary="Relay a forward request signed by a self-custody participant (the platform pays gas)",
    description="Write endpoints answer self-custody participants with 202 and an EIP-712 ForwardRequest "
    "(domain Tierflow/1, the forwarder as verifying contract). Sign it with eth_signTypedData_v4 and post "
    "its `message` with the signature here; the platform checks the signer, simulates the call, relays "
    "it through the ERC-2771 forwarder and answers once the indexer shows the result.",
)  # fmt: skip
def relay(
    ctx: ContextDep,
    session: SessionDep,
    caller: CurrentCaller,
    data: RelayRequest,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, data,
        lambda: writes.relay(ctx=ctx, session=session, caller=caller, body=data),
    )  # fmt: skip
