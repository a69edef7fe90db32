"""Governance (issue 15): the governors' council's proposals, from proposing to execution, for the API and
the dashboard.

A governor is a company whose key is one of the council's governors. Council transactions are sent with
that key directly, never relayed: the council checks msg.sender, and a governor's approval is its own
act. The platform's powers (parameters, quote validity, unpause, role grants, upgrades, forced transfers,
recoveries) reach the contracts only through a proposal that `threshold` governors approved and that
waited out the timelock's delay.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from sqlmodel import Session, col, select

from tierflow.chain.gateway import Call
from tierflow.errors import TierflowError
from tierflow.platform import i18n
from tierflow.platform.models import GovernanceProposal, GovernanceStep
from tierflow.platform.services import policy, succession
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.errors import Forbidden, NotFound
from tierflow.platform.services.participants import Caller, custodial_account
from tierflow.platform.services.schemas.certificates import TxResult
from tierflow.platform.services.schemas.governance import (
    ProposalCall,
    ProposalPublic,
    RoleProposal,
    UpgradeProposal,
)
from tierflow.platform.services.writes import finish, jsonable

COUNCIL = "GovernanceCouncil"
REGISTRY = "ParticipantRegistry"
ROLE_CONSTANTS = {"operator": "OPERATOR_ROLE", "guardian": "GUARDIAN_ROLE", "controller": "CONTROLLER_ROLE"}


def is_governor(*, ctx: ServiceContext, address: str) -> bool:
    return bool(ctx.gateway().call(COUNCIL, "isGovernor", address))


def require_reader(*, ctx: ServiceContext, caller: Caller) -> None:
    """Governors, the operator and auditors see every proposal with its approvals and state."""
    if caller.is_operator or caller.is_auditor or is_governor(ctx=ctx, address=caller.address):
        return
    raise Forbidden(
        i18n.gettext("governance proposals are for the governors, the operator and auditors"),
        code="wrong_role",
    )


def _account(*, ctx: ServiceContext, session: Session, caller: Caller) -> LocalAccount:
    """The governor's key: the platform's own for the operator, the custodial key of any other company."""
    if not is_governor(ctx=ctx, address=caller.address):
        raise Forbidden(
            i18n.gettext(
                "%(address)s is not a governor of the council: only governors propose, approve, cancel "
                "and execute",
                address=caller.address,
            ),
            code="not_a_governor",
        )
    if caller.address == ctx.operator.address:
        return ctx.operator
    return custodial_account(ctx=ctx, session=session, address=caller.address)


def _council(ctx: ServiceContext, account: LocalAccount, function: str, *args: object) -> TxResult:
    return finish(ctx=ctx, outcome=ctx.gateway().send_direct(account, Call(COUNCIL, function, args)))


def propose_as(
    ctx: ServiceContext, account: LocalAccount, call: Call, description: str = "", *, check: bool = True
) -> TxResult:
    """Propose `call` with `account`'s key (a governor's): its result names the `proposal_id`.

    Unless `check` is off (a step that depends on an earlier proposal of the same batch), the call is
    first run as the timelock would run it: a proposal that would fail today is refused with the
    contract's reason rather than left for the governors to approve in vain.
    """
    gateway = ctx.gateway()
    target, data = gateway.calldata(call)
    if check:
        gateway.preview(gateway.deployment.timelock, target, data)
    return _council(ctx, account, "propose", target, data, keccak(text=description.strip()))


def propose_batch_as(
    ctx: ServiceContext, account: LocalAccount, calls: list[Call], description: str = ""
) -> TxResult:
    """Propose `calls` as one batch with `account`'s key: run in order in one execution, all or none.

    The caller checks them first (controls.recover simulates the whole batch as the timelock)."""
    encoded = [ctx.gateway().calldata(call) for call in calls]
    targets, datas = [t for t, _ in encoded], [d for _, d in encoded]
    return _council(ctx, account, "proposeBatch", targets, datas, keccak(text=description.strip()))


def propose(
    *, ctx: ServiceContext, session: Session, caller: Caller, call: Call, description: str = ""
) -> TxResult:
    """Propose `call` as the caller; a company whose policy covers governance acts submits it to a
    checker first (policy.admit raises ApprovalRequired), like any other write of legal effect."""
    account = _account(ctx=ctx, session=session, caller=caller)
    gateway = ctx.gateway()
    target, data = gateway.calldata(call)
    gateway.preview(gateway.deployment.timelock, target, data)  # a doomed proposal waits for no checker
    council_call = Call(COUNCIL, "propose", (target, data, keccak(text=description.strip())))
    policy.admit(ctx=ctx, session=session, caller=caller, call=council_call)
    session.close()  # no pooled connection held while the chain and the indexer work
    return propose_as(ctx, account, call, description, check=False)


def role_call(*, ctx: ServiceContext, data: RoleProposal) -> Call:
    role = ctx.gateway().call(REGISTRY, ROLE_CONSTANTS[data.role])
    return Call(REGISTRY, "grantRole" if data.grant else "revokeRole", (role, data.account))


def holds_role(*, ctx: ServiceContext, role: str, account: str) -> bool:
    """Does `account` hold the registry's `role` (operator, guardian, controller) now?"""
    gateway = ctx.gateway()
    return bool(gateway.call(REGISTRY, "hasRole", gateway.call(REGISTRY, ROLE_CONSTANTS[role]), account))


def upgrade_call(data: UpgradeProposal) -> Call:
    return Call(data.contract, "upgradeToAndCall", (data.implementation, b""))


def act(*, ctx: ServiceContext, session: Session, caller: Caller, proposal_id: int, action: str) -> TxResult:
    """approve, cancel (the proposer at once, others vote) or execute `proposal_id` as the caller.

    Executing a key recovery's registry step also moves the company (directory entry, people, keys,
    approval rules) to the new address: from then on the chain knows the new address as the old one.
    """
    _account(ctx=ctx, session=session, caller=caller)  # not a governor: refused before any approval
    call = Call(COUNCIL, action, (proposal_id,))
    policy.admit(ctx=ctx, session=session, caller=caller, call=call)
    return release(ctx=ctx, session=session, caller=caller, call=call)


def release(*, ctx: ServiceContext, session: Session, caller: Caller, call: Call) -> TxResult:
    """Send a council call (`propose`, `approve`, `cancel`, `execute`) with the governor's own key: what
    `act` and `propose` do once admitted, and what a checker's approval releases (services/approvals.py)."""
    account = _account(ctx=ctx, session=session, caller=caller)
    recovery = None
    if call.function == "execute":
        recovery = _recovery_of(ctx=ctx, session=session, proposal_id=int(call.args[0]))
    session.close()
    result = _council(ctx, account, call.function, *call.args)
    if recovery is not None:
        succession.rebind_company(session, *recovery)
    return result


def _recovery_of(*, ctx: ServiceContext, session: Session, proposal_id: int) -> tuple[str, str] | None:
    """(old, new) if `proposal_id` calls the registry's `recover`, else None."""
    row = session.get(GovernanceProposal, proposal_id)
    if row is None:
        return None
    contract, function, args = calls_of(ctx, row)[0]  # a recovery's batch starts with the registry's step
    if (contract, function) != (REGISTRY, "recover"):
        return None
    return str(args["account"]), str(args["newAccount"])


@dataclass(frozen=True)
class CouncilTerms:
    """Who governs and how: the governors (in order of appointment), approvals needed, the timelock's
    delay and a proposal's life."""

    governors: list[str]
    threshold: int
    delay: int  # [s] from the last approval needed to the earliest execution
    window: int  # [s] from a proposal's creation to its deadline


GOVERNOR_REPLACED = "0x" + keccak(text="GovernorReplaced(address,address)").hex()
GET_MIN_DELAY = "0x" + keccak(text="getMinDelay()")[:4].hex()


def terms(ctx: ServiceContext) -> CouncilTerms:
    """The council's terms, read from the chain (the governor set from its GovernorReplaced events: the
    council keeps a mapping, not a list)."""
    gateway = ctx.gateway()
    council = gateway.contracts[COUNCIL]
    logs = gateway.rpc.call(
        "eth_getLogs",
        [{"address": council.address, "topics": [GOVERNOR_REPLACED],
          "fromBlock": hex(gateway.deployment.deploy_block), "toBlock": "latest"}],
    )  # fmt: skip
    governors: list[str] = []
    for log in logs:
        previous, new = (to_checksum_address("0x" + topic[-40:]) for topic in log["topics"][1:3])
        if previous in governors:
            governors[governors.index(previous)] = new
        elif int(new, 16):
            governors.append(new)
    # the timelock has no ABI in the deployment record: its one getter is called by selector
    raw = gateway.rpc.call("eth_call", [{"to": gateway.deployment.timelock, "data": GET_MIN_DELAY}, "latest"])
    return CouncilTerms(
        governors=governors,
        threshold=int(gateway.call(COUNCIL, "threshold")),
        delay=int(raw, 16),
        window=int(gateway.call(COUNCIL, "window")),
    )


GOVERNORS_TTL_S = 30.0  # the pages' menu may show a replaced governor's link this long
_governors_seen: dict[tuple[int, str], tuple[float, frozenset[str]]] = {}


def governors_cached(ctx: ServiceContext) -> frozenset[str]:
    """The governors, read from the chain at most every GOVERNORS_TTL_S per council: every page's menu
    asks (a governor company sees a link to its panel), and a governor is replaced only by a proposal.
    Empty while the chain does not answer (the menu then has no link; the panel itself asks again)."""
    gateway = ctx.gateway()
    key = (gateway.chain_id, str(gateway.contracts[COUNCIL].address))  # one council, whichever context
    seen = _governors_seen.get(key)
    if seen is not None and time.monotonic() - seen[0] < GOVERNORS_TTL_S:
        return seen[1]
    try:
        governors = frozenset(terms(ctx).governors)
    except TierflowError:
        governors = frozenset()  # a node down or hanging: pages do not wait for it again for a while
    _governors_seen[key] = (time.monotonic(), governors)
    return governors


def calls_of(ctx: ServiceContext, row: GovernanceProposal) -> list[tuple[str, str, dict[str, Any]]]:
    """Every call a proposal runs, in order, decoded: its one call, or each call of a batch."""
    pairs = json.loads(row.calls) if row.calls is not None else [[row.target, row.data]]
    return [decode(ctx, str(target), str(data)) for target, data in pairs]


# -- reads ------------------------------------------------------------------------------------------
def decode(ctx: ServiceContext, target: str, data: str) -> tuple[str, str, dict[str, Any]]:
    """(contract name, function name, arguments) of a proposal's call; the raw selector if unknown."""
    gateway = ctx.gateway()
    name = gateway.by_address.get(target.lower(), target)
    contract = gateway.contracts.get(name)
    if contract is not None:
        try:
            function, args = contract.decode_function_input(data)
            return name, str(function.fn_name), {k: jsonable(v) for k, v in args.items()}
        except ValueError:
            pass
    return name, data[:10], {}


def proposals(*, ctx: ServiceContext, session: Session, limit: int = 50) -> list[ProposalPublic]:
    """The latest proposals, newest first, with who approved each and its state at the chain's time."""
    rows = list(
        session.exec(
            select(GovernanceProposal).order_by(col(GovernanceProposal.proposal_id).desc()).limit(limit)
        )
    )
    return _public(ctx=ctx, session=session, rows=rows)


def proposal(*, ctx: ServiceContext, session: Session, proposal_id: int) -> ProposalPublic:
    row = session.get(GovernanceProposal, proposal_id)
    if row is None:
        raise NotFound(i18n.gettext("there is no proposal %(id)s", id=proposal_id), code="unknown_proposal")
    return _public(ctx=ctx, session=session, rows=[row])[0]


def approvers(session: Session, ids: list[int]) -> dict[int, list[str]]:
    """Who approved each proposal, in chain order (the governance trail's `approved` steps)."""
    found: dict[int, list[str]] = {i: [] for i in ids}
    for step in session.exec(
        select(GovernanceStep)
        .where(col(GovernanceStep.proposal_id).in_(ids), col(GovernanceStep.kind) == "approved")
        .order_by(col(GovernanceStep.block_number), col(GovernanceStep.log_index))
    ):
        if step.actor is not None:
            found[step.proposal_id].append(step.actor)
    return found


def _public(*, ctx: ServiceContext, session: Session, rows: list[GovernanceProposal]) -> list[ProposalPublic]:
    approved = approvers(session, [p.proposal_id for p in rows])
    gateway = ctx.gateway()
    now = gateway.chain_time()
    threshold = int(gateway.call(COUNCIL, "threshold"))
    out = []
    for p in rows:
        calls = calls_of(ctx, p)
        target, action, args = calls[0]
        out.append(
            ProposalPublic(
                proposal_id=p.proposal_id,
                proposer=p.proposer,
                target=target,
                action=action,
                args=args,
                approvals=p.approvals,
                approved_by=approved[p.proposal_id],
                threshold=threshold,
                state=p.state_at(now),
                eta=p.eta,
                deadline=p.deadline,
                cancels=p.cancels,
                executed_by=p.executed_by,
                cancelled_by=p.cancelled_by,
                block_number=p.block_number,
                calls=[ProposalCall(target=t, action=a, args=g) for t, a, g in calls],
            )
        )
    return out
