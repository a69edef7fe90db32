"""Asset-level controls (issue 15): the operator's holds, forced transfers and key recovery; holds for all."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tierflow.platform.api.deps import (
    AuditorCaller,
    ContextDep,
    HolderCaller,
    OperatorCaller,
    RangeId,
    SessionDep,
    TokenId,
    WriteDep,
)
from tierflow.platform.api.writing import READ_RESPONSES, WRITE_RESPONSES
from tierflow.platform.services import controls, participants
from tierflow.platform.services.schemas.certificates import TxResultOf
from tierflow.platform.services.schemas.controls import (
    CertificateForce,
    CertificateFreeze,
    ControlPublic,
    HoldPublic,
    RangeForce,
    RangeFreeze,
    Recovery,
    RecoveryPublic,
    Release,
)
from tierflow.platform.services.schemas.results import BillRangeResult, CertificateHoldResult

router = APIRouter(prefix="/v1", tags=["controls"], responses=READ_RESPONSES)

HoldStatus = Literal["frozen", "released", "all"]


@router.post(
    "/operator/certificates/{token_id}/freeze",
    response_model=TxResultOf[CertificateHoldResult],
    responses=WRITE_RESPONSES,
    summary="Judicial hold on a certificate or part of it",
    description="A part is split off into a new token of the same holder first (`frozen_token_id`). "
    "Frozen value cannot move, be financed or claimed; payouts settle it into escrow until release.",
)
def freeze_certificate(
    ctx: ContextDep, caller: OperatorCaller, token_id: TokenId, data: CertificateFreeze, write: WriteDep
) -> JSONResponse:
    return write(
        caller.address, data, lambda: controls.freeze_certificate(ctx=ctx, token_id=token_id, data=data)
    )


@router.post(
    "/operator/certificates/{token_id}/unfreeze",
    response_model=TxResultOf[CertificateHoldResult],
    responses=WRITE_RESPONSES,
    summary="Release a hold; its escrow goes to the holder",
)
def unfreeze_certificate(
    ctx: ContextDep, caller: OperatorCaller, token_id: TokenId, data: Release, write: WriteDep
) -> JSONResponse:
    return write(
        caller.address,
        data,
        lambda: controls.unfreeze_certificate(ctx=ctx, token_id=token_id, order=data.order),
    )


@router.post(
    "/operator/certificates/{token_id}/force-transfer",
    response_model=TxResultOf[CertificateHoldResult],
    responses=WRITE_RESPONSES,
    summary="Forced transfer of a certificate (court order)",
)
def force_certificate(
    ctx: ContextDep, caller: OperatorCaller, token_id: TokenId, data: CertificateForce, write: WriteDep
) -> JSONResponse:
    return write(
        caller.address, data, lambda: controls.force_certificate(ctx=ctx, token_id=token_id, data=data)
    )


@router.post(
    "/operator/bill-ranges/{range_id}/freeze",
    response_model=TxResultOf[BillRangeResult],
    responses=WRITE_RESPONSES,
    summary="Judicial hold on a bill range or part of it",
)
def freeze_range(
    ctx: ContextDep, caller: OperatorCaller, range_id: RangeId, data: RangeFreeze, write: WriteDep
) -> JSONResponse:
    return write(caller.address, data, lambda: controls.freeze_range(ctx=ctx, range_id=range_id, data=data))


@router.post(
    "/operator/bill-ranges/{range_id}/unfreeze",
    response_model=TxResultOf[BillRangeResult],
    responses=WRITE_RESPONSES,
    summary="Release a hold on a bill range",
)
def unfreeze_range(
    ctx: ContextDep, caller: OperatorCaller, range_id: RangeId, data: Release, write: WriteDep
) -> JSONResponse:
    return write(
        caller.address, data, lambda: controls.unfreeze_range(ctx=ctx, range_id=range_id, order=data.order)
    )


@router.post(
    "/operator/bill-ranges/{range_id}/force-transfer",
    response_model=TxResultOf[BillRangeResult],
    responses=WRITE_RESPONSES,
    summary="Forced transfer of a bill range (court order)",
)
def force_range(
    ctx: ContextDep, caller: OperatorCaller, range_id: RangeId, data: RangeForce, write: WriteDep
) -> JSONResponse:
    return write(caller.address, data, lambda: controls.force_range(ctx=ctx, range_id=range_id, data=data))


@router.post(
    "/operator/participants/{address}/recover",
    response_model=RecoveryPublic,
    responses=WRITE_RESPONSES,
    summary="Lost-key recovery: move everything to a re-verified address",
    description="ONE council batch proposal (`proposal_id`) that moves everything atomically: the registry "
    "entry first, then certificates (locked ones too), financing requests and recourse debts, payables it "
    "owes, credit lines (as borrower or bank), bill records, packages and open quotes, settlement-token "
    "balance (one call per contract and per 200 items). The whole batch is first run as the timelock "
    "would run it: a recovery that would fail is refused at once with the contract's error (409). The "
    "governors approve it once and execute it once the delay passed: all of it runs or none. Only a "
    "participant with more positions than one block's gas can carry is split into the fewest batches "
    "that fit, listed in `proposal_ids` in the order they must be executed (the registry's step in the "
    "first). The platform stops signing with the old key at once, and when the registry's step is "
    "executed the company's directory entry, people, API keys and approval rules move to the new "
    "address (a self-custody participant; the old entry stays, suspended, for history).",
)
def recover(
    ctx: ContextDep,
    session: SessionDep,
    caller: OperatorCaller,
    address: str,
    data: Recovery,
    write: WriteDep,
) -> JSONResponse:
    row = participants.get(session=session, address=address)
    return write(
        caller.address,
        data,
        lambda: controls.recover(ctx=ctx, session=session, address=row.address, data=data),
    )


@router.get("/audit/holds", response_model=list[HoldPublic], summary="Every judicial hold")
def all_holds(session: SessionDep, caller: AuditorCaller, status: HoldStatus = "frozen") -> list[HoldPublic]:
    return controls.holds(session=session, status=None if status == "all" else status)


@router.get("/audit/controls", response_model=list[ControlPublic], summary="The latest controls")
def all_controls(session: SessionDep, caller: AuditorCaller) -> list[ControlPublic]:
    return controls.history(session=session)


@router.get("/holds", response_model=list[HoldPublic], summary="Holds on what the caller holds")
def my_holds(session: SessionDep, caller: HolderCaller, status: HoldStatus = "frozen") -> list[HoldPublic]:
    return controls.holds(session=session, holder=caller.address, status=None if status == "all" else status)
