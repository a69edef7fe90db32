"""The operator's console: onboard and suspend participants, set platform parameters, pause the platform;
judicial holds, forced transfers and lost-key recovery (issue 15)."""

from __future__ import annotations

from typing import Any

from eth_utils.crypto import keccak
from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from tierflow.chain.vocabulary import ROLE_BITS, Role
from tierflow.errors import TierflowError
from tierflow.platform import i18n
from tierflow.platform.dashboard import actions, confirmations, queries, web
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.services import controls, governance, payouts_due

router = web.page_router("/operator")
ROLE_NAMES = {Role(bit): name for name, bit in ROLE_BITS.items()}
DEFAULT_GRACE_S = 7 * 86_400  # the registry's default grace period, until a parameter change is indexed


@router.get("", response_class=HTMLResponse)
def operator_page(request: Request, viewer: web.SignedIn) -> Response:
    web.supervising(viewer, "the operator's console")
    with web.session(request) as db:
        names = queries.directory(db)
        people = queries.directory_people(db)
        onchain = queries.onchain_participants(db)
        state = queries.platform_state(db)
        proposals = queries.governance_proposals(db)
        details = {row.proposal.proposal_id: _details(request, names, row) for row in proposals}
        holds = controls.holds(session=db)
        indexed = queries.indexed(db)
        grace = state.grace_period if state and state.grace_period else DEFAULT_GRACE_S
        overdue = queries.defaultable_payables(db, now=queries.clock(db), grace=grace)
        due = payouts_due.due(db, web.now(request))
    return web.page(
        request,
        "operator/page.html",
        names=names,
        people=people,
        onchain=onchain,
        state=state,
        overdue=overdue,
        proposals=proposals,
        proposal_details=details,
        upgradable=UPGRADABLE,
        holds=holds,
        holders=names.with_role(Role.SUPPLIER | Role.FINANCIER | Role.CORE_ENTERPRISE),
        **indexed,
        read_only=not viewer.is_operator,
        role_names=[(r.name or "", int(r)) for r in Role],
        devnet=_devnet(request),
        quote_hours=actions.quote_validity_hours(web.service_context(request)),
        chain_now=web.now(request),
        payouts_due=due,
    )


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

# The registry's AccessControl roles a proposal may grant or revoke, by their hash: what the page calls them.
ROLE_HASHES = {
    "0x" + keccak(text=constant).hex(): label
    for constant, label in (
        ("OPERATOR_ROLE", i18n.N_("operator")),
        ("GUARDIAN_ROLE", i18n.N_("guardian (pause only)")),
        ("CONTROLLER_ROLE", i18n.N_("controller (judicial holds)")),
    )
}


def _details(request: Request, names: Any, row: queries.ProposalRow) -> str:
    """What a proposal would do, in the page's words (days, yuan, names); "" if it cannot be decoded here."""
    context = web.service_context(request)
    if context is None:
        return ""
    try:
        _, function, args = governance.decode(context, row.proposal.target, row.proposal.data)
    except TierflowError:
        return ""
    day = 86_400
    if function == "setParameters":
        return i18n.gettext(
            "longest tenor %(tenor)s days, grace period %(grace)s days, minimum unit %(unit)s",
            tenor=args["maxTenor_"] // day,
            grace=args["gracePeriod_"] // day,
            unit=i18n.money(args["minUnit_"]),
        )
    if function == "setQuoteValidity":
        return i18n.gettext("at most %(hours)s hours", hours=args["validity"] // 3600)
    if function in ("grantRole", "revokeRole"):
        role = ROLE_HASHES.get(str(args["role"]).lower())
        label = i18n.gettext(role) if role else i18n.gettext("another role")
        return i18n.gettext("%(role)s: %(name)s", role=label, name=names.name(args["account"]))
    if function == "forceTransfer":
        return i18n.gettext(
            "certificate %(token)s: %(amount)s to %(name)s",
            token=args["tokenId"], amount=i18n.money(args["value"]), name=names.name(args["to"]),
        )  # fmt: skip
    if function == "forceTransferRange":
        return i18n.gettext(
            "bill range %(range)s, sub-tickets %(start)s to %(end)s, to %(name)s",
            range=args["rangeId"], start=args["start"], end=args["end"], name=names.name(args["to"]),
        )  # fmt: skip
    if function.startswith("recover") and ("to" in args or "newAccount" in args):
        old = args.get("from", args.get("account"))
        new = args.get("to", args.get("newAccount"))
        return i18n.gettext("from %(old)s to the new address %(new)s", old=names.name(old), new=new)
    return ""


def _proposal_confirmation(request: Request, proposal_id: int, step: str) -> web.Confirmation:
    """What approving, cancelling or executing a proposal means, in words, before the council is called."""
    gettext = i18n.gettext
    with web.session(request) as db:
        names = queries.directory(db)
        row = next(
            (r for r in queries.governance_proposals(db, limit=500) if r.proposal.proposal_id == proposal_id),
            None,
        )
    if row is None:
        raise actions.ActionError(gettext("there is no proposal %(id)s", id=proposal_id))
    p = row.proposal
    contract = gettext(UPGRADABLE[row.target]) if row.target in UPGRADABLE else row.target
    change = gettext(row.action) if row.action else gettext("Another call")
    details = _details(request, names, row)
    rows = [
        (gettext("Proposal"), f"{proposal_id}: {change} ({contract})"),
        (gettext("Change"), details or change),
        (gettext("Proposed by"), names.name(p.proposer)),
        (gettext("Approvals"), str(p.approvals)),
    ]
    if p.eta:
        rows.append((gettext("Executable from"), i18n.datetime(p.eta)))
    if p.deadline:
        rows.append((gettext("Deadline"), i18n.datetime(p.deadline)))
    title, button, note = {
        "approve": (
            gettext("Approve proposal %(id)s", id=proposal_id),
            gettext("Approve"),
            gettext(
                "The approval that reaches the threshold starts the delay; then any governor executes it."
            ),
        ),
        "execute": (
            gettext("Execute proposal %(id)s", id=proposal_id),
            gettext("Execute"),
            gettext("The timelock makes the call now; it cannot be undone but by another proposal."),
        ),
        "cancel": (
            gettext("Cancel proposal %(id)s", id=proposal_id),
            gettext("Cancel"),
            gettext("Its proposer cancels at once; another governor's cancel is a vote."),
        ),
    }[step]
    return web.Confirmation(title=title, rows=rows, button=button, note=note)


def _devnet(request: Request) -> bool:
    """A development or test chain (settings.environment), where the demo's time travel exists."""
    context = web.service_context(request)
    return context is not None and context.settings.environment != "production"


@router.post("/time-travel")
async def time_travel(request: Request, viewer: web.SignedIn) -> Response:
    """Devnet only: move the chain's clock forward for a demo (maturities, grace periods, defaults)."""
    if not viewer.is_operator:
        raise web.Denied(i18n.gettext("the operator's actions"))
    if not _devnet(request):
        return Response(status_code=404)  # not a page of a production platform at all
    back = "/dashboard/operator"
    form = await request.form()
    raw = str(form.get("days", "")).strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 400:
        message = i18n.gettext("Days: a whole number from 1 to %(most)s.", most=400)
        return web.redirect(back, message=message, kind="error")
    page = await web.confirm_first(
        request, form, back, lambda db: confirmations.time_travel(int(raw), web.now(request))
    )
    if page is not None:
        return page

    def moved(chain_time: int) -> str:
        return i18n.gettext(
            "Devnet clock moved forward %(days)s days: it is now %(day)s on the chain.",
            days=int(raw),
            day=i18n.datetime(chain_time),
        )

    return await web.act(request, viewer, back, moved, actions.advance_time, days=int(raw))


@router.post("/push-payouts")
async def push_payouts(request: Request, viewer: web.SignedIn) -> Response:
    """Push the payouts of every matured payable whose holders have money waiting."""
    if not viewer.is_operator:
        raise web.Denied(i18n.gettext("the operator's actions"))
    back = "/dashboard/operator"
    page = await web.confirm_first(
        request, await request.form(), back,
        lambda db: confirmations.push_payouts(db, payouts_due.due(db, web.now(request))),
    )  # fmt: skip
    if page is not None:
        return page

    def pushed(results: list[Any]) -> str:
        return i18n.ngettext(
            "Payouts pushed in %(num)s transaction.",
            "Payouts pushed in %(num)s transactions.",
            len(results),
        )

    return await web.act(request, viewer, back, pushed, actions.push_payouts_due)


@router.post("/{verb}")
async def operator_action(request: Request, viewer: web.SignedIn, verb: str) -> Response:
    if not viewer.is_operator:
        raise web.Denied("the operator's actions")
    back = "/dashboard/operator"
    form = await request.form()
    params: dict[str, Any]
    try:
        if verb == "onboard":
            roles = sum(int(str(v)) for v in form.getlist("roles") if str(v).isdigit())
            if not roles:
                raise actions.ActionError(i18n.gettext("Roles: tick at least one role."))
            name = str(form.get("legal_name", "")).strip()
            if not name:
                raise actions.ActionError(
                    i18n.gettext("Legal name: write the name from the business licence.")
                )
            address = str(form.get("address", "")).strip() or None
            params = {
                "legal_name": name,
                "legal_id": str(form.get("legal_id", "")).strip(),
                "roles": [ROLE_NAMES[bit] for bit in ROLE_NAMES if roles & bit],
                "contact": str(form.get("contact", "")).strip(),
                "custody": "self" if address else "custodial",
                "address": address,
                "admin_name": str(form.get("admin_name", "")).strip(),
                "admin_login": str(form.get("admin_login", "")).strip(),
            }

            def onboarded(created: Any) -> str:
                # The key is shown once, here, and never stored in clear: the operator hands it over.
                return i18n.gettext(
                    "Onboarded %(name)s at %(address)s; first admin: %(admin)s, who signs in with the key "
                    "and sets a password on the Team page. Their API key (shown once): %(key)s",
                    # short, as the participants table shows it (the full address is in its title)
                    name=name, address=fmt.short_address(created.participant.address), key=created.api_key,
                    admin=params["admin_name"] or i18n.gettext("the company administrator"),
                )  # fmt: skip

            return await web.act(request, viewer, back, onboarded, actions.onboard, **params)
        if verb in ("suspend", "reinstate"):
            target = str(form.get("address", ""))
            # a reversible act, but it stops a company's business at once: a page says whom and what first
            page = await web.confirm_first(
                request, form, back,
                lambda db: confirmations.participant_status(db, target, suspend=verb == "suspend"),
            )  # fmt: skip
            if page is not None:
                return page
            who = web.name_of(request, target)
            done = (
                i18n.gettext("%(name)s suspended.", name=who)
                if verb == "suspend"
                else i18n.gettext("%(name)s reinstated.", name=who)
            )
            return await web.act(
                request, viewer, back, done, actions.set_status, address=target, suspend=verb == "suspend"
            )
        if verb == "parameters":
            params = {
                "max_tenor_days": int(str(form.get("max_tenor_days", "0"))),
                "grace_period_days": int(str(form.get("grace_days", "0"))),
                "min_unit": web.form_yuan(form, "min_unit", "Minimum unit"),
            }
            return await web.act(request, viewer, back, _proposed, actions.set_parameters, **params)
        if verb == "mark_defaulted":
            slot_id = web.form_int(form, "slot_id", i18n.gettext("Payable"))
            page = await web.confirm_first(
                request, form, back,
                lambda db: confirmations.default(db, slot_id, now=queries.clock(db), by=viewer.address),
            )  # fmt: skip
            if page is not None:
                return page
            done = i18n.gettext(
                "Payable P%(slot)s marked defaulted: its holders may claim what comes in.", slot=slot_id
            )
            mark = actions.operator_mark_defaulted
            return await web.act(request, viewer, back, done, mark, slot_id=slot_id)
        if verb in CONTROL_VERBS:
            fields = _control_fields(verb, form)
            page = await web.confirm_first(
                request, form, back, lambda db: confirmations.control(db, verb, fields)
            )
            if page is not None:
                return page
            return await web.act(request, viewer, back, str(CONTROL_VERBS[verb]), actions.asset_control,
                                 verb=verb, **fields)  # fmt: skip
        if verb == "quote-validity":
            raw = str(form.get("quote_hours", "")).strip()
            if not raw.isdigit() or not 1 <= int(raw) <= 168:
                raise actions.ActionError(i18n.gettext("Quote validity: whole hours from 1 to 168 (7 days)."))
            return await web.act(request, viewer, back, _proposed, actions.set_quote_validity, hours=int(raw))
        if verb in ("pause", "unpause"):
            page = await web.confirm_first(
                request, form, back, lambda db: confirmations.pause(paused=verb == "unpause")
            )
            if page is not None:
                return page
            return await web.act(
                request,
                viewer,
                back,
                i18n.gettext("Platform paused.") if verb == "pause" else _proposed,
                actions.set_paused,
                paused=verb == "pause",
            )
        if verb == "propose-role":
            params = {
                "role": str(form.get("role", "")),
                "account": web.checksum(str(form.get("account", ""))),
                "grant": str(form.get("grant", "grant")) == "grant",
            }
            return await web.act(request, viewer, back, _proposed, actions.propose_role, **params)
        if verb == "propose-upgrade":
            params = {
                "contract": str(form.get("contract", "")),
                "implementation": web.checksum(str(form.get("implementation", ""))),
            }
            return await web.act(request, viewer, back, _proposed, actions.propose_upgrade, **params)
        if verb in ("approve", "cancel", "execute"):
            proposal_id = web.form_int(form, "proposal_id", i18n.gettext("Proposal"))
            if not web.confirmed(form):
                return web.confirm_page(
                    request, form, back, _proposal_confirmation(request, proposal_id, verb)
                )
            done = {
                "approve": i18n.gettext("Proposal %(id)s approved.", id=proposal_id),
                "cancel": i18n.gettext(
                    "Proposal %(id)s cancelled, or your vote to cancel it counted.", id=proposal_id
                ),
                "execute": i18n.gettext("Proposal %(id)s executed.", id=proposal_id),
            }[verb]
            return await web.act(
                request, viewer, back, done, actions.governance_act, proposal_id=proposal_id, step=verb
            )
    except (actions.ActionError, ValueError) as error:
        return web.redirect(back, message=str(error), kind="error")
    return Response(status_code=404)


# What each control says when done (translated when shown).
CONTROL_VERBS = {
    "freeze": i18n.lazy_gettext("Certificate frozen under the order."),
    "unfreeze": i18n.lazy_gettext("Hold released; any escrow went to the holder."),
    "force": i18n.lazy_gettext(
        "Forced transfer proposed to the governors' council: it runs once another governor approved it "
        "and the delay passed."
    ),
    "freeze-range": i18n.lazy_gettext("Bill range frozen under the order."),
    "unfreeze-range": i18n.lazy_gettext("Hold on the bill range released."),
    "force-range": i18n.lazy_gettext(
        "Forced transfer proposed to the governors' council: it runs once another governor approved it "
        "and the delay passed."
    ),
    "recover": i18n.lazy_gettext(
        "Key recovery proposed to the governors' council, one proposal per contract: execute them in "
        "order once approved and the delay passed. The platform no longer signs with the old key."
    ),
}


def _proposed(result: Any) -> str:
    """What a proposal of the operator says: its number, and what has to happen before it applies."""
    return i18n.gettext(
        "Proposed to the governors' council as proposal %(id)s: it applies once another governor approves "
        "it and the delay has passed; then execute it here.",
        id=result.result.get("proposal_id", "?"),
    )


def _control_fields(verb: str, form: Any) -> dict[str, Any]:
    """The form of one control as the service's fields; ActionError naming the field that is wrong."""
    order = str(form.get("order", "")).strip()
    if not order:
        raise actions.ActionError(i18n.gettext("Order: write the reference of the court order or record."))
    if verb == "recover":
        return {
            "target": web.checksum(str(form.get("address", ""))),
            "new_address": str(form.get("new_address", "")).strip(),
            "order": order,
        }
    if verb.endswith("range"):
        fields: dict[str, Any] = {
            "target": web.form_int(form, "range_id", i18n.gettext("Range")),
            "order": order,
        }
        if verb != "unfreeze-range":
            fields["start"] = web.form_int(form, "start", i18n.gettext("First sub-ticket"))
            fields["end"] = web.form_int(form, "end", i18n.gettext("Last sub-ticket"))
    else:
        fields = {"target": web.form_int(form, "token_id", i18n.gettext("Certificate")), "order": order}
        if verb == "freeze":
            fields["amount"] = web.form_yuan(form, "amount", i18n.gettext("Amount"))
        if verb == "force":
            fields["value"] = web.form_yuan(form, "amount", i18n.gettext("Amount"))
    if verb.startswith("force"):
        fields["to"] = str(form.get("to", "")).strip()
    return fields
