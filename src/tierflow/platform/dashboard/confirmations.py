"""What the legal and money actions of the bank and the operator will do, in words, yuan, dates and names:
declaring a payable defaulted, exercising recourse, collecting a recourse debt, claiming, pushing payouts.
Each is shown on a confirmation page (web.confirm_page) before anything is sent, never in a browser dialog."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from tierflow.platform import i18n
from tierflow.platform.dashboard import actions, labels, queries
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard.web import Confirmation
from tierflow.platform.models.credit import CreditLine
from tierflow.platform.models.financing import FinancingRequest
from tierflow.platform.models.receivables import Certificate, Payable, Payout
from tierflow.platform.services.payouts_due import DuePayable

_ = i18n.gettext
MAX_LISTED = 6  # holders named on a page; the rest are counted (a payable may be split thousands of times)


def _payable(db: Session, slot_id: int) -> Payable:
    payable = db.get(Payable, slot_id)
    if payable is None:
        raise actions.ActionError(_("Payable P%(slot)s is not known here; reload the page.", slot=slot_id))
    return payable


def _overdue(payable: Payable, now: int) -> str:
    days = max(-fmt.days_to(payable.maturity, now), 0)
    late = i18n.ngettext("%(num)s day overdue", "%(num)s days overdue", days)
    # a sentence of its own: Chinese brackets are full-width (to the day, then how late)
    return _("%(day)s (%(late)s)", day=i18n.date(payable.maturity), late=late)


def _holders(db: Session, slot_id: int) -> list[tuple[str, int]]:
    """Who holds the payable's live certificates and how much [fen], largest first."""
    held: dict[str, int] = {}
    for token in db.exec(
        select(Certificate).where(col(Certificate.slot_id) == slot_id, col(Certificate.value) > 0)
    ).all():
        held[token.holder] = held.get(token.holder, 0) + token.value
    return sorted(held.items(), key=lambda item: -item[1])


def default(db: Session, slot_id: int, *, now: int, by: str) -> Confirmation:
    """Declaring payable `slot_id` defaulted (by a holder, or the operator: `by` names who declares)."""
    names = queries.directory(db)
    payable = _payable(db, slot_id)
    unpaid = payable.face - payable.paid_in
    holders = _holders(db, slot_id)
    listed = "; ".join(f"{names.name(who)} {i18n.money(value)}" for who, value in holders[:MAX_LISTED])
    if len(holders) > MAX_LISTED:
        listed += " " + i18n.ngettext("and %(num)s more", "and %(num)s more", len(holders) - MAX_LISTED)
    with_recourse = db.exec(
        select(FinancingRequest).where(
            col(FinancingRequest.status) == "Funded",
            col(FinancingRequest.with_recourse).is_(True),
            col(FinancingRequest.token_id).in_(
                select(Certificate.token_id).where(col(Certificate.slot_id) == slot_id)
            ),
        )
    ).all()
    rows = [
        (
            _("Payable"),
            _(
                "P%(slot)s of %(core)s to %(supplier)s, face %(face)s",
                slot=slot_id, core=names.name(payable.obligor), supplier=names.name(payable.supplier),
                face=i18n.money(payable.face),
            ),
        ),
        (_("Maturity"), _overdue(payable, now)),
        (_("Repaid by the obligor"), i18n.money(payable.paid_in)),
        (_("Unpaid"), i18n.money(unpaid)),
        (_("Held by"), listed or _("nobody")),
        (_("Declared by"), names.name(by)),
    ]  # fmt: skip
    if with_recourse:
        sellers = ", ".join(sorted({names.name(r.seller) for r in with_recourse}))
        rows.append(
            (
                _("Recourse it opens"),
                i18n.ngettext(
                    "%(num)s financing with recourse (sellers: %(sellers)s) can then be handed back",
                    "%(num)s financings with recourse (sellers: %(sellers)s) can then be handed back",
                    len(with_recourse),
                    sellers=sellers,
                ),
            )
        )
    warnings = []
    if payable.status != "Accepted":
        warnings.append(
            _(
                "Payable P%(slot)s is %(status)s: only an accepted, unpaid payable can be declared "
                "defaulted; the chain will refuse it.",
                slot=slot_id,
                status=labels.status(payable.status),
            )
        )
    return Confirmation(
        title=_("Declare payable P%(slot)s defaulted", slot=slot_id),
        rows=rows,
        button=_("Confirm: declare P%(slot)s defaulted", slot=slot_id),
        note=_(
            "This is a legal declaration recorded on the chain and it cannot be undone: %(core)s is "
            "in default on %(unpaid)s. Holders financed with recourse may then hand their certificates "
            "back to the sellers, who owe what is still unpaid; any later payment by %(core)s is still "
            "claimable pro rata by whoever holds the certificates then.",
            core=names.name(payable.obligor),
            unpaid=i18n.money(unpaid),
        ),
        warnings=warnings,
    )


def _bank_request(db: Session, request_id: int, financier: str) -> FinancingRequest:
    """Financing request `request_id` addressed to `financier` (ActionError if gone or another bank's)."""
    request = db.get(FinancingRequest, request_id)
    if request is None or request.financier.lower() != financier.lower():
        raise actions.ActionError(_("That request no longer exists."))
    return request


def _owed_by(db: Session, seller: str) -> int:
    """What `seller` still owes in recourse to every bank [fen] (its debts are collected oldest first)."""
    return sum(d.remaining for d in queries.recourse_debts(db, seller=seller))


def recourse(db: Session, request_id: int, *, financier: str, now: int) -> Confirmation:
    """Exercising recourse on funded request `request_id`: the certificate goes back to its seller, who
    owes its value less the share of what the obligor paid so far (paid to the bank first)."""
    names = queries.directory(db)
    request = _bank_request(db, request_id, financier)
    token = db.get(Certificate, request.token_id)
    if token is None:
        raise actions.ActionError(_("That request no longer exists."))
    payable = _payable(db, token.slot_id)
    seller = names.name(request.seller)
    # The pro-rata share of what came in so far, as the contract computes it (before any claim of it).
    share = token.value * payable.paid_in // payable.face if payable.face else 0
    debt = token.value - share
    balance = queries.settlement_balance(db, request.seller)
    earlier = _owed_by(db, request.seller)
    collected = max(min(balance - earlier, debt), 0)
    rows = [
        (
            _("Certificate"),
            _(
                "T%(token)s of payable P%(slot)s of %(core)s, %(value)s",
                token=token.token_id, slot=payable.slot_id, core=names.name(payable.obligor),
                value=i18n.money(token.value),
            ),
        ),
        (_("Maturity"), _overdue(payable, now)),
        (_("Financed"), _("request %(id)s: you paid %(seller)s %(price)s for it",
                          id=request_id, seller=seller, price=i18n.money(request.price or 0))),
        (_("Paid to you first"), _("%(share)s, your share of what %(core)s has repaid",
                                   share=i18n.money(share), core=names.name(payable.obligor))),
        (_("Goes back to"), seller),
        (_("%(seller)s then owes you", seller=seller), i18n.money(debt)),
        (_("Collected at once"),
         _("%(amount)s from %(seller)s's settlement balance of %(balance)s",
           amount=i18n.money(collected), seller=seller, balance=i18n.money(balance))),
        (_("Still owed after that"), i18n.money(debt - collected)),
    ]  # fmt: skip
    note = _(
        "The legal effect: the seller takes the certificate back and every later payment on it, and owes "
        "you its value; it agreed to this when it asked for financing with recourse. What it owes is "
        "taken from its settlement balance now and from whatever it is paid on the platform later; "
        "until it has paid, it cannot ask for new financing."
    )
    warnings = []
    if earlier:
        warnings.append(
            _(
                "%(seller)s already owes %(earlier)s of recourse: older debts are collected first.",
                seller=seller,
                earlier=i18n.money(earlier),
            )
        )
    return Confirmation(
        title=_("Exercise recourse on %(seller)s", seller=seller),
        rows=rows,
        button=_("Confirm: hand T%(token)s back to %(seller)s", token=token.token_id, seller=seller),
        note=note,
        warnings=warnings,
    )


def collect(db: Session, request_id: int, *, financier: str) -> Confirmation:
    """Collecting a seller's recourse debts from its settlement balance, now (anyone may ask)."""
    names = queries.directory(db)
    request = _bank_request(db, request_id, financier)
    seller = names.name(request.seller)
    debts = queries.recourse_debts(db, seller=request.seller)
    yours = sum(d.remaining for d in debts if d.financier.lower() == financier.lower())
    total = sum(d.remaining for d in debts)
    balance = queries.settlement_balance(db, request.seller)
    paid = min(balance, total)
    rows = [
        (_("From"), seller),
        (_("%(seller)s owes you", seller=seller), i18n.money(yours)),
        (_("%(seller)s owes every bank", seller=seller), i18n.money(total)),
        (_("Its settlement balance now"), i18n.money(balance)),
        (_("%(seller)s pays now", seller=seller),
         _("%(amount)s, to its oldest debts first", amount=i18n.money(paid))),
        (_("Its settlement balance"), f"{i18n.money(balance)} → {i18n.money(balance - paid)}"),
    ]  # fmt: skip
    warnings = []
    if paid == 0:
        warnings.append(
            _(
                "%(seller)s has nothing to pay with now: the chain will refuse the collection. What it is "
                "paid on the platform later is collected anyway.",
                seller=seller,
            )
        )
    return Confirmation(
        title=_("Collect recourse from %(seller)s", seller=seller),
        rows=rows,
        button=_("Confirm: collect from %(seller)s", seller=seller),
        note=_(
            "The money moves from %(seller)s's settlement balance without its signature: it agreed to "
            "this when it asked for financing with recourse.",
            seller=seller,
        ),
        warnings=warnings,
    )


def push_payouts(db: Session, due: list[DuePayable]) -> Confirmation:
    """Pushing the payouts of every matured payable with money waiting for its holders."""
    if not due:
        raise actions.ActionError(_("No matured payable has money waiting for its holders."))
    names = queries.directory(db)
    total = sum(p.due for p in due)
    tokens = sum(len(p.token_ids) for p in due)
    rows = [
        (_("Payables"), ", ".join(f"P{p.slot_id}" for p in due[:20]) + (" …" if len(due) > 20 else "")),
        (_("Obligors"), ", ".join(sorted({names.name(p.obligor) for p in due}))),
        (_("Paid to holders"), i18n.money(total)),
        (_("Certificates"), i18n.number(tokens)),
    ]
    return Confirmation(
        title=i18n.ngettext(
            "Push the payouts of %(num)s payable", "Push the payouts of %(num)s payables", len(due)
        ),
        rows=rows,
        button=_("Confirm: pay out %(amount)s", amount=i18n.money(total)),
        note=_(
            "Each holder receives its pro-rata share of what the obligor paid in, in its settlement "
            "balance; a holder that owes recourse pays its debt out of it first. Payments cannot be taken "
            "back."
        ),
    )


def decline(db: Session, request_id: int, *, financier: str) -> Confirmation:
    """Declining a financing request: the supplier's certificate is unlocked, nothing is paid."""
    names = queries.directory(db)
    request = _bank_request(db, request_id, financier)
    seller = names.name(request.seller)
    return Confirmation(
        title=_("Decline request %(id)s from %(seller)s", id=request_id, seller=seller),
        rows=[
            (_("Supplier"), seller),
            (_("Asked to finance"), i18n.money(request.amount)),
            (_("Certificate"), _("T%(token)s, unlocked for the supplier", token=request.token_id)),
        ],
        button=_("Confirm: decline request %(id)s", id=request_id),
        note=_(
            "Nothing is paid; the supplier may ask another bank. A declined request cannot be quoted again."
        ),
    )


def freeze_line(db: Session, line_id: int, *, financier: str) -> Confirmation:
    """Freezing a credit line: its limit comes down to what is drawn."""
    names = queries.directory(db)
    line = db.get(CreditLine, line_id)
    if line is None or line.financier.lower() != financier.lower():
        raise actions.ActionError(
            _("Credit line %(line)s is not one of yours; reload the page.", line=line_id)
        )
    return Confirmation(
        title=_("Freeze credit line %(line)s of %(core)s", line=line_id, core=names.name(line.obligor)),
        rows=[
            (_("Core enterprise"), names.name(line.obligor)),
            (_("Limit"), f"{i18n.money(line.limit)} → {i18n.money(line.used)}"),
            (_("Drawn"), i18n.money(line.used)),
            (_("Available"), f"{i18n.money(line.limit - line.used)} → {i18n.money(0)}"),
        ],
        button=_("Confirm: freeze line %(line)s", line=line_id),
        note=_(
            "%(core)s can issue nothing new on this line until you raise its limit again; certificates "
            "already issued keep all their rights, and repayments restore the line.",
            core=names.name(line.obligor),
        ),
    )


def burn(db: Session, bank: str, amount: int) -> Confirmation:
    """Retiring settlement money from the settlement bank's own balance."""
    balance = queries.settlement_balance(db, bank)
    return Confirmation(
        title=_("Retire %(amount)s of settlement money", amount=i18n.money(amount)),
        rows=[
            (_("Amount"), i18n.money(amount)),
            (_("Your settlement balance"), f"{i18n.money(balance)} → {i18n.money(balance - amount)}"),
        ],
        button=_("Confirm: retire %(amount)s", amount=i18n.money(amount)),
        note=_(
            "Pay the withdrawal out off chain first: the money retired here no longer exists on the platform."
        ),
        warnings=[_("Your settlement balance is only %(balance)s.", balance=i18n.money(balance))]
        if amount > balance
        else [],
    )


def claim(db: Session, token_id: int, *, holder: str, now: int) -> Confirmation:
    """A holder claiming its share of what the obligor repaid on a matured payable: who pays whom how
    much (ActionError when there is nothing to claim, so the page never offers an empty payment)."""
    names = queries.directory(db)
    token = db.get(Certificate, token_id)
    if token is None or token.holder.lower() != holder.lower():
        raise actions.ActionError(
            _("Certificate T%(token)s is not one of yours to claim on; reload the page.", token=token_id)
        )
    if token.value == 0:
        raise actions.ActionError(
            _("Certificate T%(token)s is paid out in full: nothing is left to claim.", token=token_id)
        )
    payable = _payable(db, token.slot_id)
    claimed = int(
        db.exec(
            select(func.coalesce(func.sum(Payout.amount), 0)).where(col(Payout.token_id) == token_id)
        ).one()
    )
    # the contract's pro-rata rule (Receivables._claimable): its share of what came in, less what it took
    amount = (token.value + claimed) * payable.paid_in // payable.face - claimed if payable.face else 0
    if amount <= 0:
        raise actions.ActionError(
            _("Nothing to claim on certificate T%(token)s yet: %(core)s has paid nothing more in.",
              token=token_id, core=names.name(payable.obligor))
        )  # fmt: skip
    core = names.name(payable.obligor)
    balance = queries.settlement_balance(db, holder)
    owed = _owed_by(db, holder)
    after = balance + amount - min(owed, amount)  # a recourse debt of the holder's is paid out of it first
    rows = [
        (
            _("Certificate"),
            _(
                "T%(token)s of payable P%(slot)s of %(core)s, %(value)s",
                token=token_id, slot=payable.slot_id, core=core, value=i18n.money(token.value),
            ),
        ),
        (_("Maturity"), i18n.date(payable.maturity)),
        (_("Repaid by the obligor"), _("%(paid)s of %(face)s", paid=i18n.money(payable.paid_in),
                                       face=i18n.money(payable.face))),
        (_("Who pays whom"), _("%(core)s pays %(holder)s %(amount)s, out of its repayment held on the "
                               "platform", core=core, holder=names.name(holder), amount=i18n.money(amount))),
        (_("Your settlement balance"), f"{i18n.money(balance)} → {i18n.money(after)}"),
    ]  # fmt: skip
    warnings = []
    if owed:
        warnings.append(
            _(
                "You owe %(owed)s of recourse: it is taken from this payment first.",
                owed=i18n.money(owed),
            )
        )
    if payable.maturity > now:
        warnings.append(
            _("P%(slot)s matures on %(day)s: the chain pays from maturity on and will refuse it before.",
              slot=payable.slot_id, day=i18n.date(payable.maturity))
        )  # fmt: skip
    return Confirmation(
        title=_("Claim %(amount)s on certificate T%(token)s", amount=i18n.money(amount), token=token_id),
        rows=rows,
        button=_("Confirm: claim %(amount)s", amount=i18n.money(amount)),
        note=_(
            "Your pro-rata share of what %(core)s repaid moves into your settlement balance; a later "
            "repayment can be claimed again. A payment cannot be taken back.",
            core=core,
        ),
        warnings=warnings,
    )


def reject(db: Session, slot_id: int, *, supplier: str) -> Confirmation:
    """A supplier rejecting a payable issued to it."""
    names = queries.directory(db)
    payable = _payable(db, slot_id)
    if payable.supplier.lower() != supplier.lower():
        raise actions.ActionError(_("Payable P%(slot)s is not one of yours; reload the page.", slot=slot_id))
    core = names.name(payable.obligor)
    return Confirmation(
        title=_("Reject payable P%(slot)s from %(core)s", slot=slot_id, core=core),
        rows=[
            (
                _("Payable"),
                _(
                    "P%(slot)s of %(core)s, face %(face)s",
                    slot=slot_id,
                    core=core,
                    face=i18n.money(payable.face),
                ),
            ),
            (_("Maturity"), i18n.date(payable.maturity)),
        ],  # fmt: skip
        button=_("Confirm: reject P%(slot)s", slot=slot_id),
        note=_(
            "You refuse this claim on %(core)s: no certificate comes to you, its invoices are freed and the "
            "credit line is restored. %(core)s will have to issue it again.",
            core=core,
        ),
    )


def pause(paused: bool) -> Confirmation:
    """Pausing or resuming the whole platform."""
    if paused:
        return Confirmation(
            title=_("Unpause the platform"),
            rows=[(_("Transfers, issues, financing, repayments"), _("run again at once"))],
            button=_("Confirm: unpause the platform"),
        )
    return Confirmation(
        title=_("Pause the platform"),
        rows=[
            (_("Transfers, issues, financing, repayments"), _("stop for every participant until unpaused"))
        ],
        button=_("Confirm: pause the platform"),
        note=_("Maturities and grace periods keep running while the platform is paused."),
    )


def time_travel(days: int, now: int) -> Confirmation:
    """Devnet only: moving the chain's clock forward."""
    return Confirmation(
        title=_("Move the devnet's clock forward"),
        rows=[(_("Chain time"), f"{i18n.datetime(now)} → {i18n.datetime(now + days * 86_400)}")],
        button=i18n.ngettext("Confirm: move %(num)s day forward", "Confirm: move %(num)s days forward", days),
        note=_("Time on the chain cannot be moved back. This exists on a development chain only."),
    )


def participant_status(db: Session, address: str, *, suspend: bool) -> Confirmation:
    """Suspending a participant (it may look but neither send nor receive) or reinstating it."""
    names = queries.directory(db)
    found = next((a for a in names.roles if a.lower() == address.lower()), None)
    if found is None:
        raise actions.ActionError(_("This participant is not known here; reload the page."))
    who, status = names.name(found), names.status.get(found, "active")
    if suspend == (status == "suspended"):
        raise actions.ActionError(
            _("%(name)s is already suspended.", name=who)
            if suspend
            else _("%(name)s is not suspended.", name=who)
        )
    held = sum(
        db.exec(
            select(Certificate.value).where(col(Certificate.holder) == found, col(Certificate.value) > 0)
        ).all()
    )
    before, after = (labels.status("active"), labels.status("suspended"))[:: 1 if suspend else -1]
    rows = [
        (_("Participant"), who),
        (_("Roles"), labels.roles(names.roles.get(found, 0))),
        (_("Status"), f"{before} → {after}"),
        (_("Certificates held"), i18n.money(held)),
        (_("Settlement balance"), i18n.money(queries.settlement_balance(db, found))),
    ]
    if suspend:
        return Confirmation(
            title=_("Suspend %(name)s", name=who),
            rows=rows,
            button=_("Confirm: suspend %(name)s", name=who),
            note=_(
                "%(name)s can still sign in and look, but can neither send nor receive certificates, bills "
                "or settlement money until you reinstate it; nothing it holds is taken away and what it "
                "owes stays owed.",
                name=who,
            ),
        )
    return Confirmation(
        title=_("Reinstate %(name)s", name=who),
        rows=rows,
        button=_("Confirm: reinstate %(name)s", name=who),
        note=_("%(name)s can act again at once: send, receive, finance and repay.", name=who),
    )


CONTROL_TITLES = {
    "freeze": i18n.N_("Freeze a certificate under a court order"),
    "unfreeze": i18n.N_("Release the hold on a certificate"),
    "force": i18n.N_("Transfer a certificate by court order"),
    "freeze-range": i18n.N_("Freeze a bill range under a court order"),
    "unfreeze-range": i18n.N_("Release the hold on a bill range"),
    "force-range": i18n.N_("Transfer a bill range by court order"),
    "recover": i18n.N_("Recover a participant's lost key"),
}


def control(db: Session, verb: str, fields: dict[str, object]) -> Confirmation:
    """An asset control of the operator (holds, forced transfers, key recovery), from its form's fields."""
    names = queries.directory(db)
    rows: list[tuple[str, str]] = []
    target = fields["target"]
    if verb == "recover":
        rows.append((_("Participant"), names.name(str(target))))
        rows.append((_("New address"), str(fields["new_address"])))
        note = _(
            "Everything %(who)s holds moves to the new address and the old one is barred for good; this "
            "cannot be undone.",
            who=names.name(str(target)),
        )
    elif verb.endswith("range"):
        rows.append((_("Bill range"), f"R{target}"))
        if "start" in fields:
            rows.append((_("Sub-tickets"), f"{fields['start']:,} … {fields['end']:,}"))
        note = _("The order is recorded on the chain with its reference.")
    else:
        token = db.get(Certificate, int(str(target)))
        holder = names.name(token.holder) if token is not None else "—"
        rows.append((_("Certificate"), _("T%(token)s held by %(holder)s", token=target, holder=holder)))
        for key in ("amount", "value"):
            if key in fields:
                rows.append((_("Amount"), i18n.money(int(str(fields[key])))))
        note = _("The order is recorded on the chain with its reference.")
    if "to" in fields:
        rows.append((_("Moves to"), names.name(str(fields["to"]))))
    rows.append((_("Order"), str(fields["order"])))
    title = _(CONTROL_TITLES[verb])
    return Confirmation(title=title, rows=rows, button=_("Confirm: %(what)s", what=title), note=note)
