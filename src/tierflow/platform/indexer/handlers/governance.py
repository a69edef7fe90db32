"""Handlers of GovernanceCouncil events: proposals, approvals, scheduling, execution and cancels."""

from __future__ import annotations

import json

from tierflow.chain.abi import Event
from tierflow.platform.indexer.handlers.registry import handles, history, require
from tierflow.platform.indexer.store import Row, Store


def _step(event: Event, store: Store, proposal: Row, kind: str, actor: str | None) -> None:
    store.append(
        "governance_step",
        history(
            event,
            proposal_id=proposal["proposal_id"],
            kind=kind,
            actor=actor,
            approvals=proposal["approvals"],
        ),
    )


ZERO_ADDRESS = "0x" + "0" * 40


@handles("GovernanceCouncil:ProposalCreated")
def proposal_created(event: Event, store: Store) -> None:
    _created(event, store, event.args["target"], event.args["data"], None)


@handles("GovernanceCouncil:BatchProposalCreated")
def batch_proposal_created(event: Event, store: Store) -> None:
    """A batch's calls in order; target and data read as the council's proposal() reads them (empty)."""
    a = event.args
    calls = [[target, data] for target, data in zip(a["targets"], a["datas"], strict=True)]
    _created(event, store, ZERO_ADDRESS, "0x", json.dumps(calls))


def _created(event: Event, store: Store, target: str, data: str, calls: str | None) -> None:
    a = event.args
    proposal = store.create(
        "governance_proposal",
        {
            "proposal_id": a["proposalId"],
            "proposer": a["proposer"],
            "target": target,
            "data": data,
            "calls": calls,
            "description_hash": a["descriptionHash"],
            "approvals": 0,
            "state": "Pending",
            "eta": None,
            "executed_by": None,
            "deadline": a["deadline"],
            "cancels": 0,
            "cancelled_by": None,
        },
    )
    _step(event, store, proposal, "proposed", a["proposer"])


@handles("GovernanceCouncil:ProposalApproved")
def proposal_approved(event: Event, store: Store) -> None:
    a = event.args
    proposal = require(store, "governance_proposal", a["proposalId"])
    proposal["approvals"] = a["approvals"]
    _step(event, store, proposal, "approved", a["governor"])


@handles("GovernanceCouncil:ProposalScheduled")
def proposal_scheduled(event: Event, store: Store) -> None:
    a = event.args
    proposal = require(store, "governance_proposal", a["proposalId"])
    proposal["state"] = "Scheduled"
    proposal["eta"] = a["eta"]
    _step(event, store, proposal, "scheduled", None)


@handles("GovernanceCouncil:ProposalExecuted")
def proposal_executed(event: Event, store: Store) -> None:
    a = event.args
    proposal = require(store, "governance_proposal", a["proposalId"])
    proposal["state"] = "Executed"
    proposal["executed_by"] = a["governor"]
    _step(event, store, proposal, "executed", a["governor"])


@handles("GovernanceCouncil:ProposalCancelVoted")
def proposal_cancel_voted(event: Event, store: Store) -> None:
    a = event.args
    proposal = require(store, "governance_proposal", a["proposalId"])
    proposal["cancels"] = a["cancels"]
    _step(event, store, proposal, "cancel_voted", a["governor"])


@handles("GovernanceCouncil:ProposalCancelled")
def proposal_cancelled(event: Event, store: Store) -> None:
    a = event.args
    proposal = require(store, "governance_proposal", a["proposalId"])
    proposal["state"] = "Cancelled"
    proposal["cancelled_by"] = a["governor"]
    _step(event, store, proposal, "cancelled", a["governor"])
