"""The governors' council on the dashboard, shared by the operator's console and every governor's panel:
proposals in words, their approvers, the confirmation pages of approve / cancel / execute and of the
operator's propose forms, and the one handler that acts on a proposal."""

from __future__ import annotations

from typing import Any

from eth_utils.crypto import keccak
from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from tierflow.errors import TierflowError
from tierflow.platform import i18n
from tierflow.platform.dashboard import actions, queries, web
from tierflow.platform.dashboard.session import Viewer
from tierflow.platform.services import governance

_ = i18n.gettext
DAY = 86_400

# The contracts behind proxies an upgrade may name, as the page calls them.
UPGRADABLE = {
    "ParticipantRegistry": i18n.N_("participant registry"),
    "SettlementToken": i18n.N_("settlement money"),
    "DocumentRegistry": i18n.N_("document registry"),
    "CreditLines": i18n.N_("credit lines"),
    "Receivables": i18n.N_("certificates (receivables)"),
    "Financing": i18n.N_("financing"),
    "Bills": i18n.N_("bills"),
}

# The registry's AccessControl roles a proposal may grant or revoke: what the page calls them.
ROLE_LABELS = {
    "operator": i18n.N_("operator"),
    "guardian": i18n.N_("guardian (pause only)"),
    "controller": i18n.N_("controller (judicial holds)"),
}
ROLE_HASHES = {"0x" + keccak(text=f"{role.upper()}_ROLE").hex(): label for role, label in ROLE_LABELS.items()}


def describe(names: Any, function: str, args: dict[str, Any]) -> str:
    """What a decoded council call would do, in the page's words (days, yuan, names); "" if unknown."""
    if function == "setParameters":
        return _(
            "longest tenor %(tenor)s days, grace period %(grace)s days, minimum unit %(unit)s",
            tenor=args["maxTenor_"] // DAY,
            grace=args["gracePeriod_"] // DAY,
            unit=i18n.money(args["minUnit_"]),
        )
    if function == "setQuoteValidity":
        return _("at most %(hours)s hours", hours=args["validity"] // 3600)
    if function in ("grantRole", "revokeRole"):
        role = ROLE_HASHES.get(str(args["role"]).lower())
        label = _(role) if role else _("another role")
        return _("%(role)s: %(name)s", role=label, name=names.name(args["account"]))
    if function == "forceTransfer":
        return _(
            "certificate %(token)s: %(amount)s to %(name)s",
            token=args["tokenId"], amount=i18n.money(args["value"]), name=names.name(args["to"]),
        )  # fmt: skip
    if function == "forceTransferRange":
        return _(
            "bill range %(range)s, sub-tickets %(start)s to %(end)s, to %(name)s",
            range=args["rangeId"], start=args["start"], end=args["end"], name=names.name(args["to"]),
        )  # fmt: skip
    if function.startswith("recover") and ("to" in args or "newAccount" in args):
        old = args.get("from", args.get("account"))
        new = args.get("to", args.get("newAccount"))
        return _("from %(old)s to the new address %(new)s", old=names.name(old), new=new)
    return ""


def details(request: Request, names: Any, row: queries.ProposalRow) -> str:
    """What a proposal would do, in words; "" if it cannot be decoded here (no chain in this process)."""
    context = web.service_context(request)
    if context is None:
        return ""
    try:
        calls = [governance.decode(context, t, d) for t, d in queries.proposal_calls(row.proposal)]
    except TierflowError:
        return ""
    _contract, function, args = calls[0]
    if row.calls:  # a batch: what its first call does, then each call with how many items it moves
        steps = []
        for (_target, label), (_c, _f, call_args) in zip(row.calls, calls, strict=True):
            items = sum(len(v) for v in call_args.values() if isinstance(v, list))
            name = _(label) if label else _("Another call")
            steps.append(_("%(step)s (%(count)s)", step=name, count=items) if items else name)
        first = describe(names, function, args)
        return _(
            "%(first)s; %(count)s calls, all or none: %(steps)s",
            first=first or steps[0], count=len(calls), steps="; ".join(steps),
        )  # fmt: skip
    return describe(names, function, args)


def contract_label(target: str) -> str:
    return _(UPGRADABLE[target]) if target in UPGRADABLE else target


def terms(request: Request) -> governance.CouncilTerms | None:
    """The council's governors, threshold, delay and window; None without a chain in this process."""
    context = web.service_context(request)
    if context is None:
        return None
    try:
        return governance.terms(context)
    except TierflowError:
        return None


def span(seconds: int) -> str:
    """A delay or window in the largest whole unit that fits: days, hours or minutes."""
    if seconds and seconds % DAY == 0:
        return i18n.ngettext("%(num)s day", "%(num)s days", seconds // DAY)
    if seconds >= 3600 and seconds % 3600 == 0:
        return i18n.ngettext("%(num)s hour", "%(num)s hours", seconds // 3600)
    minutes = max(seconds // 60, 1) if seconds else 0
    return i18n.ngettext("%(num)s minute", "%(num)s minutes", minutes)


def who_approves(names: Any, council: governance.CouncilTerms | None) -> str:
    """ "2 of the 3 governors: A, B, C" — who must approve a proposal before its delay starts."""
    if council is None:
        return _("the governors' council")
    return _(
        "%(m)s of the %(n)s governors: %(names)s",
        m=council.threshold,
        n=len(council.governors),
        names=", ".join(names.name(g) for g in council.governors),
    )


def page_context(request: Request, db: Session, limit: int = 50) -> dict[str, Any]:
    """What the proposals table (`_proposals.html`) shows: rows, words, approvers and the council."""
    names = queries.directory(db)
    rows = queries.governance_proposals(db, limit=limit)
    council = terms(request)
    return {
        "names": names,
        "proposals": rows,
        "proposal_details": {row.proposal.proposal_id: details(request, names, row) for row in rows},
        "approved_by": governance.approvers(db, [row.proposal.proposal_id for row in rows]),
        "council": council,
        "threshold": council.threshold if council else None,
        "upgradable": UPGRADABLE,
        "chain_now": web.now(request),
    }


def confirmation(request: Request, proposal_id: int, step: str) -> web.Confirmation:
    """What approving, cancelling or executing a proposal means, in words, before the council is called."""
    with web.session(request) as db:
        names = queries.directory(db)
        row = next(
            (r for r in queries.governance_proposals(db, limit=500) if r.proposal.proposal_id == proposal_id),
            None,
        )
        approved = governance.approvers(db, [proposal_id])[proposal_id]
    if row is None:
        raise actions.ActionError(_("there is no proposal %(id)s", id=proposal_id))
    p = row.proposal
    council = terms(request)
    change = _(row.action) if row.action else _("Another call")
    rows = [
        (_("Proposal"), f"{proposal_id}: {change} ({contract_label(row.target)})"),
        (_("Change"), details(request, names, row) or change),
        (_("Proposed by"), names.name(p.proposer)),
        (_("Approvals"), _approvals(p.approvals, council, approved, names)),
        (_("Who must approve"), who_approves(names, council)),
    ]
    if p.eta:
        rows.append((_("Executable from"), i18n.datetime(p.eta)))
    if p.deadline:
        rows.append((_("Deadline"), i18n.datetime(p.deadline)))
    title, button, note = {
        "approve": (
            _("Approve proposal %(id)s", id=proposal_id),
            _("Approve"),
            _("The approval that reaches the threshold starts the delay; then any governor executes it."),
        ),
        "execute": (
            _("Execute proposal %(id)s", id=proposal_id),
            _("Execute"),
            _("The timelock makes the call now; it cannot be undone but by another proposal."),
        ),
        "cancel": (
            _("Cancel proposal %(id)s", id=proposal_id),
            _("Cancel"),
            _("Its proposer cancels at once; another governor's cancel is a vote."),
        ),
    }[step]
    return web.Confirmation(title=title, rows=rows, button=button, note=note)


def _approvals(count: int, council: governance.CouncilTerms | None, approved: list[str], names: Any) -> str:
    done = _("%(m)s of %(n)s", m=count, n=council.threshold) if council else str(count)
    return f"{done} ({', '.join(names.name(a) for a in approved)})" if approved else done


def proposing(
    request: Request, db: Session, change: str, before: str, after: str, contract: str
) -> web.Confirmation:
    """The confirmation page of a propose form: old → new in words, the delay, who must approve."""
    names = queries.directory(db)
    council = terms(request)
    rows = [
        (_("Change"), change),
        (_("Contract"), contract_label(contract)),
        (_("Now"), before),
        (_("Proposed"), after),
        (_("Who must approve"), who_approves(names, council)),
    ]
    if council is not None:
        rows.append((_("Delay after the last approval"), span(council.delay)))
        rows.append((_("Deadline to approve and execute"), _("%(span)s from now", span=span(council.window))))
    return web.Confirmation(
        title=_("Propose to the governors' council: %(change)s", change=change),
        rows=rows,
        button=_("Confirm: propose it"),
        note=_(
            "Nothing changes now: the change applies only when enough governors approved it, the delay "
            "passed and a governor executed it before its deadline."
        ),
    )


def described(request: Request, names: Any, function: str, args: tuple[Any, ...]) -> list[tuple[str, str]]:
    """A council call a checker is asked to release, in words: the proposal it approves, cancels or
    executes (as on its confirmation page), or what a proposal it would make would change."""
    try:
        if function in ("approve", "cancel", "execute"):
            return confirmation(request, int(args[0]), function).rows
        context = web.service_context(request)
        if function == "propose" and context is not None:
            target, data = str(args[0]), "0x" + bytes(args[1]).hex()
            contract, call, decoded = governance.decode(context, target, data)
            change = describe(names, call, decoded)
            return [(_("Contract"), contract_label(contract)), (_("Change"), change or call)]
    except (actions.ActionError, TierflowError, ValueError, IndexError):
        pass
    return []


def _done(verb: str, proposal_id: int) -> str:
    return {
        "approve": _("Proposal %(id)s approved.", id=proposal_id),
        "cancel": _("Proposal %(id)s cancelled, or your vote to cancel it counted.", id=proposal_id),
        "execute": _("Proposal %(id)s executed.", id=proposal_id),
    }[verb]


async def act(request: Request, viewer: Viewer, verb: str, back: str) -> Response:
    """approve / cancel / execute a proposal as the viewer's company: its confirmation page first, then
    the council call with the company's own key (services/governance.act)."""
    form = await request.form()
    try:
        proposal_id = web.form_int(form, "proposal_id", _("Proposal"))
        if not web.confirmed(form):
            return web.confirm_page(request, form, back, confirmation(request, proposal_id, verb))
    except (actions.ActionError, ValueError) as error:
        return web.redirect(back, message=str(error), kind="error")
    return await web.act(
        request, viewer, back, _done(verb, proposal_id), actions.governance_act,
        proposal_id=proposal_id, step=verb,
    )  # fmt: skip


def proposed(result: Any) -> str:
    """What a proposal says once made: its number, and what has to happen before it applies."""
    return _(
        "Proposed to the governors' council as proposal %(id)s: it applies once another governor approves "
        "it and the delay has passed; then execute it here.",
        id=result.result.get("proposal_id", "?"),
    )
