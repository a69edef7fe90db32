"""Read models of GovernanceCouncil: each governance proposal (an upgrade, a role grant) and its steps."""

from __future__ import annotations

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from tierflow.platform.models._fields import addr, big, hash32, text

OPEN_STATES = ("Pending", "Scheduled")  # a proposal governors may still approve or execute


def proposal_state(state: str, deadline: int | None, now: int) -> str:
    """A proposal's state at the chain's time `now`: an open one past its deadline is Expired (no event
    marks that, so every reader derives it the same way as the council's `proposal(id)` does)."""
    if state in OPEN_STATES and deadline is not None and now > deadline:
        return "Expired"
    return state


class GovernanceProposal(SQLModel, table=True):
    """A call the governors propose to run through the timelock, with its approvals and state."""

    __tablename__ = "governance_proposal"

    proposal_id: int = big(primary_key=True)
    proposer: str = addr(index=True)
    target: str = addr(index=True)  # the contract the timelock will call
    data: str = Field(sa_type=Text)  # the call's calldata, 0x-hex
    # a batch proposal's calls, run in order all or none: JSON [[target, calldata 0x-hex], ...]; target and
    # data then read as the chain's proposal() does (zero address, "0x"). None for a single call.
    calls: str | None = Field(default=None, sa_type=Text, nullable=True)
    description_hash: str = hash32()
    approvals: int = big()
    state: str = text(16)  # Pending | Scheduled | Executed | Cancelled (IGovernanceCouncil.ProposalState)
    eta: int = big(nullable=True)  # [unix s] earliest execution, once scheduled
    executed_by: str | None = addr(nullable=True)
    # [unix s] last moment to approve or execute: a Pending or Scheduled proposal past it is Expired (no
    # event marks that: readers compare it with the chain's time)
    deadline: int | None = big(nullable=True)
    cancels: int = big(default=0)  # votes to cancel (the proposer's own cancel is not a vote)
    cancelled_by: str | None = addr(nullable=True)
    block_number: int = big(index=True)
    updated_block: int = big()

    def state_at(self, now: int) -> str:
        return proposal_state(self.state, self.deadline, now)


class GovernanceStep(SQLModel, table=True):
    """One proposal, approval, scheduling or execution, in chain order: the governance trail."""

    __tablename__ = "governance_step"

    block_number: int = big(primary_key=True)
    log_index: int = big(primary_key=True)
    tx_hash: str = hash32()
    proposal_id: int = big(index=True)
    kind: str = text(16)  # proposed | approved | scheduled | executed | cancel_voted | cancelled
    actor: str | None = addr(nullable=True)  # the governor; none for scheduled
    approvals: int = big()
