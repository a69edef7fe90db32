"""Governance (issue 15): governors propose, approve, cancel and execute; governors and auditors read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from tierflow.chain.gateway import Call
from tierflow.platform.api.deps import ContextDep, CurrentCaller, Limit, SessionDep, WriteDep
from tierflow.platform.api.writing import READ_RESPONSES, WRITE_RESPONSES
from tierflow.platform.services import governance, workflows
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.participants import Caller
from tierflow.platform.services.schemas.certificates import (
    ParametersUpdate,
    QuoteValidityUpdate,
    TxResultOf,
)
from tierflow.platform.services.schemas.governance import (
    ProposalDescription,
    ProposalPublic,
    RoleProposal,
    UpgradeProposal,
)
from tierflow.platform.services.schemas.results import ProposalResult

# What every council write answers: the proposal it made or acted on.
Proposed = TxResultOf[ProposalResult]

router = APIRouter(prefix="/v1/governance", tags=["governance"], responses=READ_RESPONSES)

ProposalId = Annotated[int, Path(gt=0, lt=2**63, description="the council's proposal id")]


class ParametersProposal(ParametersUpdate, ProposalDescription):
    pass


class QuoteValidityProposal(QuoteValidityUpdate, ProposalDescription):
    pass


@router.get("/proposals", response_model=list[ProposalPublic], summary="Proposals, newest first")
def list_proposals(
    ctx: ContextDep, session: SessionDep, caller: CurrentCaller, limit: Limit = 50
) -> list[ProposalPublic]:
    governance.require_reader(ctx=ctx, caller=caller)
    return governance.proposals(ctx=ctx, session=session, limit=limit)


@router.get("/proposals/{proposal_id}", response_model=ProposalPublic, summary="One proposal")
def get_proposal(
    ctx: ContextDep, session: SessionDep, caller: CurrentCaller, proposal_id: ProposalId
) -> ProposalPublic:
    governance.require_reader(ctx=ctx, caller=caller)
    return governance.proposal(ctx=ctx, session=session, proposal_id=proposal_id)


def _propose(
    ctx: ServiceContext,
    session: SessionDep,
    caller: Caller,
    write: WriteDep,
    body: ProposalDescription,
    call: Call,
) -> JSONResponse:
    return write(
        caller.address,
        body,
        lambda: governance.propose(
            ctx=ctx, session=session, caller=caller, call=call, description=body.description
        ),
    )


@router.post("/proposals/parameters", response_model=Proposed, responses=WRITE_RESPONSES,
             summary="Propose the tenor cap, grace period and unit")  # fmt: skip
def propose_parameters(
    ctx: ContextDep, session: SessionDep, caller: CurrentCaller, data: ParametersProposal, write: WriteDep
) -> JSONResponse:
    return _propose(ctx, session, caller, write, data, workflows.parameters_call(data))


@router.post("/proposals/quote-validity", response_model=Proposed, responses=WRITE_RESPONSES,
             summary="Propose the longest a quote may stay open")  # fmt: skip
def propose_quote_validity(
    ctx: ContextDep, session: SessionDep, caller: CurrentCaller, data: QuoteValidityProposal, write: WriteDep
) -> JSONResponse:
    return _propose(ctx, session, caller, write, data, workflows.quote_validity_call(data))


@router.post("/proposals/unpause", response_model=Proposed, responses=WRITE_RESPONSES,
             summary="Propose to resume the platform")  # fmt: skip
def propose_unpause(
    ctx: ContextDep, session: SessionDep, caller: CurrentCaller, data: ProposalDescription, write: WriteDep
) -> JSONResponse:
    return _propose(ctx, session, caller, write, data, Call("ParticipantRegistry", "unpause", ()))


@router.post("/proposals/role", response_model=Proposed, responses=WRITE_RESPONSES,
             summary="Propose to grant or revoke a platform role")  # fmt: skip
def propose_role(
    ctx: ContextDep, session: SessionDep, caller: CurrentCaller, data: RoleProposal, write: WriteDep
) -> JSONResponse:
    return _propose(ctx, session, caller, write, data, governance.role_call(ctx=ctx, data=data))


@router.post("/proposals/upgrade", response_model=Proposed, responses=WRITE_RESPONSES,
             summary="Propose a contract upgrade")  # fmt: skip
def propose_upgrade(
    ctx: ContextDep, session: SessionDep, caller: CurrentCaller, data: UpgradeProposal, write: WriteDep
) -> JSONResponse:
    return _propose(ctx, session, caller, write, data, governance.upgrade_call(data))


def _act(
    ctx: ServiceContext, session: SessionDep, caller: Caller, write: WriteDep, proposal_id: int, action: str
) -> JSONResponse:
    return write(
        caller.address,
        {"proposal_id": proposal_id, "action": action},
        lambda: governance.act(
            ctx=ctx, session=session, caller=caller, proposal_id=proposal_id, action=action
        ),
    )


@router.post("/proposals/{proposal_id}/approve", response_model=Proposed, responses=WRITE_RESPONSES,
             summary="Approve a proposal")  # fmt: skip
def approve(
    ctx: ContextDep, session: SessionDep, caller: CurrentCaller, proposal_id: ProposalId, write: WriteDep
) -> JSONResponse:
    return _act(ctx, session, caller, write, proposal_id, "approve")


@router.post("/proposals/{proposal_id}/cancel", response_model=Proposed, responses=WRITE_RESPONSES,
             summary="Cancel a proposal, or vote to")  # fmt: skip
def cancel(
    ctx: ContextDep, session: SessionDep, caller: CurrentCaller, proposal_id: ProposalId, write: WriteDep
) -> JSONResponse:
    return _act(ctx, session, caller, write, proposal_id, "cancel")


@router.post("/proposals/{proposal_id}/execute", response_model=Proposed, responses=WRITE_RESPONSES,
             summary="Execute a proposal once its delay has passed")  # fmt: skip
def execute(
    ctx: ContextDep, session: SessionDep, caller: CurrentCaller, proposal_id: ProposalId, write: WriteDep
) -> JSONResponse:
    return _act(ctx, session, caller, write, proposal_id, "execute")
