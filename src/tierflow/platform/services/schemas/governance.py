"""Request and response models of governance (issue 15): proposals of the governors' council."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tierflow.platform.services.schemas.certificates import NO_NUL, AddressStr
from tierflow.platform.services.schemas.times import Instant

# The AccessControl roles of the participant registry a proposal may grant or revoke.
GovernedRole = Literal["operator", "guardian", "controller"]
# The contracts behind proxies that an upgrade proposal may name.
UpgradableContract = Literal[
    "ParticipantRegistry", "SettlementToken", "DocumentRegistry", "CreditLines", "Receivables", "Financing",
    "Bills",
]  # fmt: skip


class ProposalDescription(BaseModel):
    description: str = Field(
        default="",
        max_length=500,
        pattern=NO_NUL,
        description="why (kept off chain: the council records its keccak-256 hash)",
    )


class RoleProposal(ProposalDescription):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"role": "controller", "account": "0x" + "ab" * 20, "grant": True}]}
    )

    role: GovernedRole = Field(
        description="operator (day-to-day running), guardian (may pause, nothing else) or controller "
        "(places and lifts judicial holds at once)"
    )
    account: AddressStr
    grant: bool = Field(default=True, description="true grants the role, false revokes it")


class UpgradeProposal(ProposalDescription):
    contract: UpgradableContract
    implementation: AddressStr = Field(description="the new implementation, already deployed")


class ProposalCall(BaseModel):
    """One call of a proposal, decoded."""

    target: str = Field(description="the contract the timelock will call, by name")
    action: str = Field(description="the function the timelock will call")
    args: dict[str, Any] = Field(description="the call's arguments, by name")


class ProposalPublic(BaseModel):
    """A proposal with its approvals and state; `action` and `args` decode the call it would make."""

    proposal_id: int
    proposer: str
    target: str = Field(description="the contract the timelock will call, by name")
    action: str = Field(description="the function the timelock will call, e.g. setParameters")
    args: dict[str, Any] = Field(description="the call's arguments, by name")
    approvals: int
    approved_by: list[str]
    threshold: int = Field(description="approvals needed before the delay starts")
    state: Literal["Pending", "Scheduled", "Executed", "Cancelled", "Expired"]
    eta: Instant | None = Field(description="earliest execution, once scheduled (ISO 8601, UTC)")
    deadline: Instant | None = Field(description="last moment to approve or execute (ISO 8601, UTC)")
    cancels: int = Field(description="votes to cancel so far (the proposer cancels alone)")
    executed_by: str | None
    cancelled_by: str | None
    block_number: int
    calls: list[ProposalCall] = Field(
        description="every call the proposal runs, in order, all in one execution or none: one call, or "
        "a batch (a key recovery); target, action and args above repeat the first"
    )
