"""Who inside a company may write, and which writes wait for a checker (the company's approval policy).

`execute` asks `admit` before every write: the key must carry the write scope and the person the maker
role; a write the policy covers becomes a pending approval bound to the exact contract call and terms.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from tierflow.chain.gateway import Call
from tierflow.platform import i18n
from tierflow.platform.i18n import N_
from tierflow.platform.models.staff import ApprovalPolicy, ApprovalSettings, PendingApproval
from tierflow.platform.services import audit_trail, group_commit, queries
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.errors import Forbidden, InvalidRequest, ServiceError
from tierflow.platform.services.participants import Caller

APPROVAL_SECONDS = 24 * 3600  # by default a pending approval nobody released in a day expires
# A company chooses between one hour (a desk that checks at once) and a week (a checker travelling).
EXPIRY_BOUNDS = (3600, 7 * 24 * 3600)
# The business name of each contract call a policy can name.
ACTIONS: dict[tuple[str, str], str] = {
    ("Financing", "fund"): "fund",
    ("Financing", "quote"): "quote",
    ("Financing", "decline"): "decline",
    ("Financing", "request"): "request_financing",
    ("Financing", "acceptQuote"): "accept_quote",
    ("Financing", "exerciseRecourse"): "recourse",
    ("Receivables", "repay"): "repay",
    ("Receivables", "transfer"): "transfer",
    ("Receivables", "transferValue"): "transfer",
    ("Receivables", "issue"): "issue",
    ("CreditLines", "grant"): "grant_line",
    ("CreditLines", "adjust"): "adjust_line",
    ("SettlementToken", "mint"): "mint",
    # a governor's acts in the council (sent with its own key, never relayed: services/governance.py)
    ("GovernanceCouncil", "propose"): "governance",
    ("GovernanceCouncil", "approve"): "governance",
    ("GovernanceCouncil", "cancel"): "governance",
    ("GovernanceCouncil", "execute"): "governance",
}
POLICY_ACTIONS = sorted(set(ACTIONS.values()))
# What each action is called where a company admin sets the policy.
ACTION_LABELS: dict[str, str] = {
    "accept_quote": N_("Accept a bank's quote"),
    "adjust_line": N_("Adjust a credit line"),
    "decline": N_("Decline a financing request"),
    "fund": N_("Fund a financing request"),
    "governance": N_("Propose, approve, cancel or execute a governance proposal"),
    "grant_line": N_("Grant a credit line"),
    "issue": N_("Issue a payable"),
    "mint": N_("Mint settlement money"),
    "quote": N_("Quote a financing request"),
    "recourse": N_("Exercise recourse"),
    "repay": N_("Repay a payable"),
    "request_financing": N_("Ask a bank for financing"),
    "transfer": N_("Transfer a certificate"),
}


class ApprovalRequired(ServiceError):
    """Not an error of the caller: the write waits for a checker (the API answers 202 with the approval)."""

    code = "approval_required"

    def __init__(self, approval: PendingApproval) -> None:
        super().__init__(
            i18n.gettext(
                "Approval %(id)s waits for a checker of your company until %(expires)s; nothing is sent "
                "before a checker approves it.",
                id=approval.approval_id,
                expires=i18n.datetime(approval.expires_at),
            ),
            details={"approval_id": approval.approval_id},
        )
        self.approval = approval


def action_of(call: Call) -> str:
    return ACTIONS.get((call.contract, call.function), f"{call.contract}.{call.function}")


def amount_of(session: Session, call: Call) -> int | None:
    """The amount [fen] a policy judges a call by; None when the call moves no stated amount."""
    name, args = (call.contract, call.function), call.args
    if name == ("Financing", "fund"):
        price = queries.financing_request(session, int(args[0])).price
        return None if price is None else int(price)
    if name in {("Receivables", "repay"), ("Financing", "request"), ("SettlementToken", "mint")}:
        return int(args[1])
    if name == ("Receivables", "transferValue"):
        return int(args[2])
    if name == ("Receivables", "transfer"):
        return int(queries.certificate(session, int(args[0])).value)
    if name in {("Receivables", "issue"), ("CreditLines", "grant"), ("CreditLines", "adjust")}:
        return int(args[1])
    return None


def encode_args(args: tuple[Any, ...] | list[Any]) -> str:
    """The call's arguments as JSON that round-trips exactly (ints beyond 2**53, bytes)."""

    def enc(value: Any) -> Any:
        if isinstance(value, bool) or isinstance(value, str):
            return value
        if isinstance(value, int):
            return {"int": str(value)}
        if isinstance(value, bytes):
            return {"bytes": value.hex()}
        if isinstance(value, list | tuple):
            return [enc(v) for v in value]
        raise TypeError(f"cannot bind argument {value!r} into an approval")

    return json.dumps(enc(list(args)), separators=(",", ":"))


def decode_args(text: str) -> tuple[Any, ...]:
    def dec(value: Any) -> Any:
        if isinstance(value, dict):
            return int(value["int"]) if "int" in value else bytes.fromhex(value["bytes"])
        if isinstance(value, list):
            return [dec(v) for v in value]
        return value

    return tuple(dec(v) for v in json.loads(text))


def terms_hash(*, company: str, contract: str, function: str, args: str, amount: int | None) -> str:
    body = json.dumps([company, contract, function, args, None if amount is None else str(amount)])
    return hashlib.sha256(body.encode()).hexdigest()


def may_write(caller: Caller) -> None:
    """A viewer, a checker-only person or a read-only key cannot write (the operator's tools can)."""
    if "write" not in caller.scopes:
        raise Forbidden("this API key is read-only; use a key with the write scope", code="read_only_key")
    if "maker" not in caller.staff_roles:
        raise Forbidden(
            i18n.gettext(
                "%(user)s has no maker role in %(company)s; ask your company's admin for it",
                user=caller.user_name or i18n.gettext("this user"),
                company=caller.legal_name,
            ),
            code="not_a_maker",
        )


def covering_rule(session: Session, company: str, action: str, amount: int | None) -> ApprovalPolicy | None:
    rule = session.get(ApprovalPolicy, (company, action))
    if rule is None or not _covers(int(rule.min_amount), amount):
        return None
    return rule


def _covers(min_amount: int, amount: int | None) -> bool:
    return amount is None or amount >= min_amount


_POLICIES = ApprovalPolicy.__table__  # type: ignore[attr-defined]
_MIN_AMOUNT = sa_select(_POLICIES.c.min_amount).where(
    _POLICIES.c.address == bindparam("address"), _POLICIES.c.action == bindparam("action")
)

_MIN_AMOUNTS = sa_select(_POLICIES.c.address, _POLICIES.c.action, _POLICIES.c.min_amount).where(
    _POLICIES.c.address.in_(bindparam("addresses", expanding=True)),
    _POLICIES.c.action.in_(bindparam("actions", expanding=True)),
)


def _read_rules(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The rules' minimum amounts of (company, action) `keys` (a product of both read, the pairs kept)."""
    wanted = set(keys)
    rows = conn.execute(
        _MIN_AMOUNTS,
        {"addresses": sorted({address for address, _ in keys}), "actions": sorted({a for _, a in keys})},
    )
    return {
        (str(row.address), str(row.action)): row.min_amount
        for row in rows
        if (row.address, row.action) in wanted
    }


_RULES: group_commit.Lookups[tuple[str, str], Any] = group_commit.Lookups(_read_rules)


def admit(*, ctx: ServiceContext, session: Session, caller: Caller, call: Call) -> None:
    """Let the write through, or raise Forbidden (no right to write) or ApprovalRequired (checker)."""
    may_write(caller)
    action = action_of(call)
    # One read of the rule, through Core: this runs before every write, and nearly always finds none
    # (a missing row is not kept in the session's identity map, so a second get read it again).
    min_amount = _RULES.get_for(
        session,
        (caller.address, action),
        lambda: session.execute(_MIN_AMOUNT, {"address": caller.address, "action": action}).scalar(),
    )
    if min_amount is None:
        return
    amount = amount_of(session, call)
    if not _covers(int(min_amount), amount):
        return
    if caller.user_id is None:
        raise Forbidden(
            i18n.gettext(
                "%(action)s needs a maker and a checker in %(company)s; sign in as a staff user",
                action=i18n.translate(ACTION_LABELS.get(action, action)),
                company=caller.legal_name,
            ),
            code="staff_user_required",
        )
    args = encode_args(call.args)
    now = int(time.time())
    approval = PendingApproval(
        address=caller.address,
        action=action,
        contract=call.contract,
        function=call.function,
        args=args,
        amount=amount,
        terms_hash=terms_hash(
            company=caller.address, contract=call.contract, function=call.function, args=args, amount=amount
        ),
        maker_user_id=caller.user_id,
        maker_name=caller.user_name,
        status="pending",
        created_at=now,
        expires_at=now + expiry_seconds(session, caller.address),
    )
    session.add(approval)
    session.commit()
    session.refresh(approval)
    audit_trail.record(
        ctx.engine, actor=caller.actor, action=f"approval.submit.{action}", outcome="pending",
        detail=f"approval {approval.approval_id}: {call.contract}.{call.function}{args} amount {amount}",
        origin=caller.origin,
    )  # fmt: skip
    raise ApprovalRequired(approval)


def refuse_covered(session: Session, caller: Caller, call: Call) -> None:
    """Forbidden when the company's policy covers `call` (a relayed, self-signed request cannot wait)."""
    action = action_of(call)
    if session.get(ApprovalPolicy, (caller.address, action)) is None:
        return
    if covering_rule(session, caller.address, action, amount_of(session, call)) is None:
        return
    # A checker approved exactly this call (self custody: the approval answered with a forward
    # request to sign): it may be relayed once; the claim makes a second relay of it covered again.
    released = session.execute(
        update(PendingApproval)
        .where(
            col(PendingApproval.address) == caller.address,
            col(PendingApproval.contract) == call.contract,
            col(PendingApproval.function) == call.function,
            col(PendingApproval.args) == encode_args(call.args),
            col(PendingApproval.status) == "approved",
            col(PendingApproval.tx_hash).is_(None),
        )
        .values(status="relayed")
    )
    session.commit()
    if released.rowcount == 0:  # type: ignore[attr-defined]
        raise Forbidden(
            i18n.gettext(
                "%(action)s needs a checker in %(company)s: send it to its endpoint (it becomes a pending "
                "approval); once a checker approves, sign the forward request the approval answers with",
                action=i18n.translate(ACTION_LABELS.get(action, action)),
                company=caller.legal_name,
            ),
            code="approval_required_by_policy",
        )


def expiry_seconds(session: Session, company: str) -> int:
    """How long `company`'s pending approvals wait for a checker [s]."""
    found = session.get(ApprovalSettings, company)
    return APPROVAL_SECONDS if found is None else int(found.expiry_seconds)


def rules(session: Session, company: str) -> list[ApprovalPolicy]:
    return list(session.exec(select(ApprovalPolicy).where(ApprovalPolicy.address == company)))


def set_rules(
    *, ctx: ServiceContext, session: Session, caller: Caller, new: dict[str, int], expiry: int | None = None
) -> list[ApprovalPolicy]:
    """Replace the company's policy: action → minimum amount [fen] (0: every such write), and how long
    its approvals wait [s] (None: unchanged). Admins only; approvals already pending keep their expiry
    (the maker was told it)."""
    if "admin" not in caller.staff_roles:
        raise Forbidden("only your company's admin sets the approval policy", code="not_an_admin")
    unknown = sorted(set(new) - set(POLICY_ACTIONS))
    if unknown:
        raise InvalidRequest(
            i18n.gettext(
                "unknown actions %(unknown)s; choose from %(actions)s",
                unknown=", ".join(unknown),
                actions=", ".join(POLICY_ACTIONS),
            ),
            code="unknown_action",
        )
    low, high = EXPIRY_BOUNDS
    if expiry is not None and not low <= expiry <= high:
        raise InvalidRequest(
            i18n.gettext(
                "approvals must wait between %(low)s hour and %(high)s hours; you asked for %(asked)s hours",
                low=low // 3600,
                high=high // 3600,
                asked=f"{expiry / 3600:g}",
            ),
            code="approval_expiry_out_of_range",
        )
    for row in rules(session, caller.address):
        session.delete(row)
    session.flush()
    if expiry is not None:
        session.merge(ApprovalSettings(address=caller.address, expiry_seconds=expiry))
    for action, minimum in sorted(new.items()):
        session.add(ApprovalPolicy(address=caller.address, action=action, min_amount=minimum))
    session.commit()
    audit_trail.record(
        ctx.engine, actor=caller.actor, action="policy.set", outcome="ok",
        detail=json.dumps({"rules": dict(sorted(new.items())), "expiry_seconds": expiry}),
        origin=caller.origin,
    )  # fmt: skip
    return rules(session, caller.address)


def pending(session: Session, company: str, status: str | None = "pending") -> list[PendingApproval]:
    # Expire what nobody decided in time, so that no list shows a stale approval as pending.
    session.execute(
        update(PendingApproval)
        .where(
            col(PendingApproval.address) == company,
            col(PendingApproval.status) == "pending",
            col(PendingApproval.expires_at) <= int(time.time()),
        )
        .values(status="expired")
    )
    session.commit()
    query = select(PendingApproval).where(PendingApproval.address == company)
    if status is not None:
        query = query.where(PendingApproval.status == status)
    return list(session.exec(query.order_by(col(PendingApproval.approval_id).desc())))
