"""Operator: onboard participants after KYB, suspend/reinstate, API keys, parameters, pause."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tierflow.chain.vocabulary import RoleName
from tierflow.platform.api.deps import (
    ContextDep,
    KeyCursor,
    Limit,
    Offset,
    OperatorCaller,
    SessionDep,
    SlotId,
    WriteDep,
)
from tierflow.platform.api.writing import READ_RESPONSES, WRITE_RESPONSES
from tierflow.platform.services import participants, payouts_due, queries, workflows
from tierflow.platform.services.schemas.certificates import (
    ApiKeyCreated,
    ApiKeyPublic,
    CursorPage,
    ParametersUpdate,
    ParticipantCreate,
    ParticipantCreated,
    ParticipantPublic,
    PayoutDuePublic,
    PlatformPublic,
    QuoteValidityUpdate,
    TxResultOf,
)
from tierflow.platform.services.schemas.results import ClaimResult, DefaultResult, NoResult

router = APIRouter(prefix="/v1/operator", tags=["operator"], responses=READ_RESPONSES)

RoleFilter = Literal["operator", RoleName]


class PayoutBatch(BaseModel):
    token_ids: list[Annotated[int, Field(gt=0, lt=2**63)]] = Field(min_length=1, max_length=100)


class KeyLabel(BaseModel):
    label: str = Field(default="", max_length=64, pattern=r"^[^\x00]*$")


@router.post(
    "/participants",
    response_model=ParticipantCreated,
    responses=WRITE_RESPONSES,
    summary="Onboard a participant after KYB",
    description="Registers the participant on chain (roles, salted hash of the legal id) and in the "
    "directory (legal name, legal id, contact), creates its custodial key unless it brings its own, "
    "and returns its first API key (shown once).",
)
def onboard(
    ctx: ContextDep,
    session: SessionDep,
    caller: OperatorCaller,
    data: ParticipantCreate,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        data,
        lambda: participants.onboard(ctx=ctx, session=session, data=data),
        after=lambda result: participants.onboarded(session=session, result=result),
        undo=lambda: participants.drop_pending(session=session, data=data),
    )


@router.get("/participants", response_model=CursorPage[ParticipantPublic], summary="List participants")
def list_participants(
    session: SessionDep,
    caller: OperatorCaller,
    role: RoleFilter | None = None,
    status: Literal["active", "suspended"] | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    after: KeyCursor = None,
) -> CursorPage[ParticipantPublic]:
    return participants.listing(
        session=session, role=role, status=status, limit=limit, offset=offset, after=after
    )


@router.get("/participants/{address}", response_model=ParticipantPublic, summary="One participant")
def get_participant(session: SessionDep, caller: OperatorCaller, address: str) -> ParticipantPublic:
    return participants.public(participants.get(session=session, address=address))


@router.post("/participants/{address}/suspend", response_model=ParticipantPublic, responses=WRITE_RESPONSES)
def suspend(
    ctx: ContextDep,
    session: SessionDep,
    caller: OperatorCaller,
    address: str,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, {"address": address},
        lambda: participants.set_status(ctx=ctx, session=session, address=address, suspend=True),
    )  # fmt: skip


@router.post("/participants/{address}/reinstate", response_model=ParticipantPublic, responses=WRITE_RESPONSES)
def reinstate(
    ctx: ContextDep,
    session: SessionDep,
    caller: OperatorCaller,
    address: str,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, {"address": address},
        lambda: participants.set_status(ctx=ctx, session=session, address=address, suspend=False),
    )  # fmt: skip


@router.get("/participants/{address}/api-keys", response_model=list[ApiKeyPublic])
def list_keys(session: SessionDep, caller: OperatorCaller, address: str) -> list[ApiKeyPublic]:
    return participants.keys_of(session=session, address=address)


@router.post(
    "/participants/{address}/api-keys", response_model=ApiKeyCreated, summary="Issue an additional API key"
)
def new_key(
    session: SessionDep, caller: OperatorCaller, address: str, body: Annotated[KeyLabel | None, Body()] = None
) -> ApiKeyCreated:
    return participants.rotate_key(session=session, address=address, label=body.label if body else "")


@router.delete(
    "/participants/{address}/api-keys/{key_id}", response_model=ApiKeyPublic, summary="Revoke an API key"
)
def revoke_key(
    session: SessionDep,
    caller: OperatorCaller,
    address: str,
    key_id: Annotated[str, Path(pattern=r"^[0-9a-zA-Z-]{1,16}$")],
) -> ApiKeyPublic:
    return participants.revoke_key(session=session, address=address, key_id=key_id)


@router.get("/platform", response_model=PlatformPublic, summary="Pause state and parameters (from chain)")
def platform(ctx: ContextDep, caller: OperatorCaller) -> PlatformPublic:
    gateway = ctx.gateway()
    max_tenor, grace, min_unit = gateway.call("ParticipantRegistry", "parameters")
    return PlatformPublic(
        paused=bool(gateway.call("ParticipantRegistry", "paused")),
        max_tenor_days=max_tenor / 86400,
        grace_period_days=grace / 86400,
        min_unit=int(min_unit),
        chain_id=gateway.chain_id,
        block_number=gateway.ping(),
    )


@router.put(
    "/parameters",
    response_model=TxResultOf[NoResult],
    responses=WRITE_RESPONSES,
    summary="Set tenor cap, grace, unit",
)
def parameters(
    ctx: ContextDep,
    session: SessionDep,
    caller: OperatorCaller,
    data: ParametersUpdate,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, data,
        lambda: workflows.set_parameters(ctx=ctx, session=session, data=data),
    )  # fmt: skip


@router.put(
    "/quote-validity", response_model=TxResultOf[NoResult], responses=WRITE_RESPONSES,
    summary="Set how long a bank's quote may stay open (hours, at most 168)",
)  # fmt: skip
def quote_validity(
    ctx: ContextDep,
    caller: OperatorCaller,
    data: QuoteValidityUpdate,
    write: WriteDep,
) -> JSONResponse:
    return write(caller.address, data, lambda: workflows.set_quote_validity(ctx=ctx, data=data))


@router.post(
    "/pause", response_model=TxResultOf[NoResult], responses=WRITE_RESPONSES, summary="Emergency stop"
)
def pause(ctx: ContextDep, caller: OperatorCaller, write: WriteDep) -> JSONResponse:
    return write(caller.address, None, lambda: workflows.set_paused(ctx=ctx, paused=True))


@router.post("/unpause", response_model=TxResultOf[NoResult], responses=WRITE_RESPONSES)
def unpause(ctx: ContextDep, caller: OperatorCaller, write: WriteDep) -> JSONResponse:
    return write(caller.address, None, lambda: workflows.set_paused(ctx=ctx, paused=False))


@router.post(
    "/payouts",
    response_model=TxResultOf[ClaimResult],
    responses=WRITE_RESPONSES,
    summary="Push payouts at maturity",
)
def payouts(
    ctx: ContextDep,
    caller: OperatorCaller,
    data: PayoutBatch,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address,
        data,
        lambda: workflows.push_payouts(ctx=ctx, token_ids=data.token_ids),
    )


@router.get(
    "/payouts-due", response_model=CursorPage[PayoutDuePublic],
    summary="Matured payables whose repayment is not yet out to the holders, with their certificates",
)  # fmt: skip
def list_payouts_due(
    session: SessionDep,
    caller: OperatorCaller,
    limit: Limit = 50,
    offset: Offset = 0,
    after: KeyCursor = None,
) -> CursorPage[PayoutDuePublic]:
    return payouts_due.listing(
        session=session, now=queries.clock(session), limit=limit, offset=offset, after=after
    )


@router.post(
    "/payables/{slot_id}/mark-defaulted", response_model=TxResultOf[DefaultResult], responses=WRITE_RESPONSES,
    summary="Mark an unpaid payable defaulted after maturity + grace (the operator; holders use "
    "/v1/payables/{slot_id}/mark-defaulted)",
)  # fmt: skip
def mark_defaulted(
    ctx: ContextDep,
    session: SessionDep,
    caller: OperatorCaller,
    slot_id: SlotId,
    write: WriteDep,
) -> JSONResponse:
    return write(
        caller.address, {"slot_id": slot_id},
        lambda: workflows.operator_mark_defaulted(ctx=ctx, session=session, slot_id=slot_id),
    )  # fmt: skip
