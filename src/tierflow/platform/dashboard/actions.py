"""The dashboard's writes, each delegated to the platform's service functions (the API's workflows).

Pages never talk to the chain themselves: every action goes through the same keyword-only service
functions as the REST API, so the same party checks, custody, nonce handling and read-your-writes
apply. Failures come back as ActionError with a message for the person at the screen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlmodel import Session

from tierflow.errors import ContractRevert, TierflowError
from tierflow.platform import i18n
from tierflow.platform.dashboard import queries
from tierflow.platform.dashboard.session import Viewer
from tierflow.platform.i18n import N_, gettext, money
from tierflow.platform.models.service import ApiKey, DirectoryParticipant
from tierflow.platform.services import (
    approvals,
    batch_fund,
    batch_issue,
    batch_state,
    controls,
    documents,
    estimates,
    governance,
    participants,
    payouts_due,
    policy,
    workflows,
)
from tierflow.platform.services.errors import ServiceError
from tierflow.platform.services.participants import Caller
from tierflow.platform.services.policy import ApprovalRequired
from tierflow.platform.services.schemas import controls as forms
from tierflow.platform.services.schemas.certificates import (
    AcceptQuote,
    Burn,
    CertificateIssue,
    CreditLineAdjust,
    CreditLineCreate,
    FinancingCreate,
    Mint,
    ParametersUpdate,
    ParticipantCreate,
    Quote,
    QuoteValidityUpdate,
    Repay,
    SignatureRequired,
    Transfer,
)
from tierflow.platform.services.schemas.governance import RoleProposal, UpgradeProposal

T = TypeVar("T")


class ActionError(Exception):
    """An action did not happen; `str(error)` says why and what to do (in the reader's language: a
    literal message is extracted as ActionError's first argument and translated here, one made with
    i18n.gettext passes through), `field` names the form field at fault when one is (the page marks
    it and keeps what was typed)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(i18n.translate(message))
        self.field = field


class Submitted(ActionError):
    """The write waits for a checker of the company (maker-checker); `str(error)` says so."""


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


def caller_of(session: Session, viewer: Viewer) -> Caller:
    """The service layer's Caller for `viewer`, from the directory (its status may have changed)."""
    row = session.get(DirectoryParticipant, viewer.address)
    if row is None:
        raise ActionError("Your participant is not in the directory any more; ask the operator.")
    return Caller(
        address=row.address,
        roles=row.roles,
        is_operator=row.is_operator,
        custody=row.custody,
        status=row.status,
        legal_name=row.legal_name,
        **_person(session, viewer),
    )


def _person(session: Session, viewer: Viewer) -> dict[str, Any]:
    """The staff user behind the viewer (name, roles) and the scopes of the key they signed in with."""
    person: dict[str, Any] = {}
    if viewer.user_id is not None:
        person.update(user_id=viewer.user_id, user_name=viewer.user_name, staff_roles=viewer.staff_roles)
    key = session.get(ApiKey, viewer.key_id) if viewer.key_id else None
    if key is not None:
        person["scopes"] = frozenset(key.scopes.split(","))
    if viewer.origin is not None:
        person["origin"] = viewer.origin
    return person


def explain(error: BaseException, names: Callable[[str], str | None] | None = None) -> str:
    """A domain failure as a sentence in the reader's language: the contract's error with names, yuan
    and dates (`names` looks addresses up), a form's validation errors as sentences."""
    if isinstance(error, ServiceError):
        return error.message
    if isinstance(error, ContractRevert):
        # The error's name last, as a reference for the operator, not as the message.
        return i18n.gettext(
            "The chain refused it: %(reason)s (%(code)s)",
            reason=i18n.revert_message(error, names=names),
            code=error.name,
        )
    if isinstance(error, ValidationError):
        return " ".join(_validation_sentence(e) for e in error.errors())
    return str(error) or type(error).__name__


# The form field a refusal is about, by contract error or service code (the rest mark no field).
_ERROR_FIELDS: dict[str, str] = {
    "CertificateInvalidMaturity": "maturity",
    "BillInvalidMaturity": "maturity",
    "CertificateNoInvoices": "invoices",
    "CertificateTooManyInvoices": "invoices",
    "DocumentAlreadyUsed": "invoice_numbers",
    "CreditLineExceeded": "line_id",
    "CreditLineExpired": "line_id",
    "CreditLineWrongObligor": "line_id",
    "CreditLineUnknown": "line_id",
    "invoice_number_missing": "invoice_numbers",
    "invalid_invoice_number": "invoice_numbers",
    "invoice_file_mismatch": "invoice_numbers",
    "invoice_awaiting_acceptance": "invoice_numbers",
    "empty_document": "invoices",
    "document_too_large": "invoices",
    "participant_not_found": "supplier",
}


def field_of(error: BaseException) -> str | None:
    """The form field `error` is about, if it is about one."""
    if isinstance(error, ValidationError):
        names = [str(p) for e in error.errors()[:1] for p in e.get("loc", ()) if not isinstance(p, int)]
        return names[-1] if names else None
    if isinstance(error, ContractRevert):
        return _ERROR_FIELDS.get(error.name)
    if isinstance(error, ServiceError):
        return _ERROR_FIELDS.get(error.code)
    return None


# The business word of each field the dashboard's forms fill in a service schema (the person never
# sees `rate_bps` or `valid_hours`, only the label beside the box).
FIELD_LABELS: dict[str, str] = {
    "rate_bps": N_("Annual rate"),
    "valid_hours": N_("Quote validity (hours)"),
    "face": N_("Face amount"),
    "amount": N_("Amount"),
    "value": N_("Amount"),
    "maturity": N_("Maturity date"),
    "line_id": N_("Credit line"),
    "supplier": N_("Supplier"),
    "financier": N_("Bank"),
    "to": N_("Recipient"),
    "token_id": N_("Certificate"),
    "document_ids": N_("Invoices"),
    "max_tenor_days": N_("Longest tenor (days)"),
    "grace_period_days": N_("Grace period (days)"),
    "min_unit": N_("Minimum unit"),
    "legal_name": N_("Legal name"),
    "legal_id": N_("Unified social credit code"),
    "roles": N_("Roles"),
    "contact": N_("Contact"),
    "address": N_("Address"),
    "limit": N_("Limit"),
    "expiry": N_("Expiry date"),
}
# Fields whose number is money in fen or a rate in basis points: their bounds are said in yuan / percent.
_FEN_FIELDS = {"face", "amount", "value", "min_unit", "limit"}
_BOUND_WORDS = {
    "greater_than": N_("%(field)s: enter more than %(bound)s."),
    "greater_than_equal": N_("%(field)s: enter at least %(bound)s."),
    "less_than": N_("%(field)s: enter less than %(bound)s."),
    "less_than_equal": N_("%(field)s: enter at most %(bound)s."),
}


def field_label(name: str) -> str:
    label = FIELD_LABELS.get(name)
    return gettext(label) if label else name.replace("_", " ").capitalize()


def _bound(field: str, value: Any) -> str:
    if field in _FEN_FIELDS and isinstance(value, int):
        return money(value)
    if field == "rate_bps" and isinstance(value, int):
        return f"{value / 100:g}%"
    return str(value)


def _validation_sentence(error: Any) -> str:
    """One pydantic error as a sentence naming the field as the form labels it: "Annual rate: enter
    more than 0%." rather than "rate_bps: Input should be greater than 0"."""
    names = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
    field = names[-1] if names else ""
    label = field_label(field) if field else gettext("This form")
    kind = str(error.get("type", ""))
    if kind in _BOUND_WORDS:
        bound = next(iter((error.get("ctx") or {}).values()), "")
        return gettext(_BOUND_WORDS[kind], field=label, bound=_bound(field, bound))
    if kind == "missing":
        return gettext("%(field)s: fill this in.", field=label)
    if kind in ("too_short", "string_too_short"):
        return gettext("%(field)s: this cannot be empty.", field=label)
    if kind in ("too_long", "string_too_long"):
        return gettext("%(field)s: this is too long; shorten it.", field=label)
    if kind.startswith(("int", "float", "decimal")):
        return gettext("%(field)s: enter a whole number.", field=label)
    if kind.startswith("date"):
        return gettext("%(field)s: enter a date as YYYY-MM-DD.", field=label)
    if kind == "string_pattern_mismatch":
        return gettext(
            "%(field)s: this is not in the expected form; choose from the list or check it.", field=label
        )
    return gettext(
        "%(field)s: this value is not accepted (%(reason)s).", field=label, reason=error.get("msg", "")
    )


def run_as(context: Any, viewer: Viewer, work: Callable[[Session, Any], T]) -> T:
    """Run one service call as `viewer` and turn every domain failure into an ActionError."""
    if context is None:
        raise ActionError(
            "Actions need the platform's API in this process (run `tierflow up`); this view is read-only."
        )
    if viewer.status != "active":
        raise ActionError("Your participant is suspended: you can look but not act. Contact the operator.")

    with Session(context.engine) as session:
        try:
            result = work(session, caller_of(session, viewer))
        except ActionError:
            raise
        except ApprovalRequired as pending:
            raise Submitted(
                i18n.gettext(
                    "Submitted for approval (%(id)s): a checker of your company "
                    "must approve it before it is sent.",
                    id=pending.approval.approval_id,
                )
            ) from pending
        except (TierflowError, ValidationError) as error:
            session.rollback()
            names = queries.directory(session).names.get
            raise ActionError(explain(error, names=names), field=field_of(error)) from error
    if isinstance(result, SignatureRequired):
        raise ActionError(
            "Your key is in your own custody: the dashboard cannot sign for you. Sign the forward request "
            "through the API (POST the same action to /v1/…, then /v1/relay)."
        )
    return result


# -- bank ------------------------------------------------------------------------------------


def quote(context: Any, viewer: Viewer, *, request_id: int, rate_bps: int, valid_hours: int) -> Any:
    return run_as(
        context,
        viewer,
        lambda s, c: workflows.quote(
            ctx=context, session=s, caller=c, request_id=request_id,
            data=Quote(rate_bps=rate_bps, valid_hours=valid_hours),
        ),
    )  # fmt: skip


def bank_request(context: Any, viewer: Viewer, *, verb: str, request_id: int) -> Any:
    function = {"fund": workflows.fund, "decline": workflows.decline, "recourse": workflows.recourse}[verb]
    return run_as(
        context, viewer, lambda s, c: function(ctx=context, session=s, caller=c, request_id=request_id)
    )


def grant_line(context: Any, viewer: Viewer, *, obligor: str, limit: int, expiry: dt.date) -> Any:
    data = CreditLineCreate(obligor=obligor, limit=limit, expiry=expiry)
    return run_as(
        context, viewer, lambda s, c: workflows.grant_line(ctx=context, session=s, caller=c, data=data)
    )


def adjust_line(context: Any, viewer: Viewer, *, line_id: int, limit: int, expiry: dt.date) -> Any:
    data = CreditLineAdjust(limit=limit, expiry=expiry)
    return run_as(
        context,
        viewer,
        lambda s, c: workflows.adjust_line(ctx=context, session=s, caller=c, line_id=line_id, data=data),
    )


def freeze_line(context: Any, viewer: Viewer, *, line_id: int) -> Any:
    return run_as(
        context, viewer, lambda s, c: workflows.freeze_line(ctx=context, session=s, caller=c, line_id=line_id)
    )


def mint(context: Any, viewer: Viewer, *, to: str, amount: int) -> Any:
    data = Mint(to=to, amount=amount)
    return run_as(context, viewer, lambda s, c: workflows.mint(ctx=context, session=s, caller=c, data=data))


def burn(context: Any, viewer: Viewer, *, amount: int) -> Any:
    data = Burn(amount=amount)
    return run_as(context, viewer, lambda s, c: workflows.burn(ctx=context, session=s, caller=c, data=data))


def set_standing_rate(context: Any, viewer: Viewer, *, rate_bps: int) -> int:
    return run_as(
        context, viewer, lambda s, c: estimates.set_standing_rate(session=s, caller=c, rate_bps=rate_bps)
    )


def mark_defaulted(context: Any, viewer: Viewer, *, slot_id: int) -> Any:
    return run_as(
        context,
        viewer,
        lambda s, c: workflows.mark_defaulted(ctx=context, session=s, caller=c, slot_id=slot_id),
    )


def collect_recourse(context: Any, viewer: Viewer, *, seller: str) -> Any:
    return run_as(
        context,
        viewer,
        lambda s, c: workflows.collect_recourse(ctx=context, session=s, caller=c, seller=seller),
    )


# -- supplier --------------------------------------------------------------------------------


def respond(context: Any, viewer: Viewer, *, slot_id: int, accept: bool) -> Any:
    return run_as(
        context,
        viewer,
        lambda s, c: workflows.respond(ctx=context, session=s, caller=c, slot_id=slot_id, accept=accept),
    )


def split_transfer(context: Any, viewer: Viewer, *, token_id: int, to: str, value: int) -> Any:
    return run_as(
        context,
        viewer,
        lambda s, c: workflows.transfer(
            ctx=context, session=s, caller=c, token_id=token_id, data=Transfer(to=to, value=value)
        ),
    )


def request_financing(
    context: Any, viewer: Viewer, *, token_id: int, amount: int, financier: str, with_recourse: bool
) -> Any:
    data = FinancingCreate(token_id=token_id, amount=amount, financier=financier, with_recourse=with_recourse)
    return run_as(
        context, viewer, lambda s, c: workflows.request_financing(ctx=context, session=s, caller=c, data=data)
    )


def seller_request(context: Any, viewer: Viewer, *, verb: str, request_id: int) -> Any:
    function = {"cancel_request": workflows.cancel_request, "lapse": workflows.lapse}[verb]
    return run_as(
        context, viewer, lambda s, c: function(ctx=context, session=s, caller=c, request_id=request_id)
    )


def accept_quote(context: Any, viewer: Viewer, *, request_id: int, terms: AcceptQuote) -> Any:
    """Accept on the terms the page showed (hidden form fields), never on whatever the quote is now."""
    return run_as(
        context,
        viewer,
        lambda s, c: workflows.accept_quote(
            ctx=context, session=s, caller=c, request_id=request_id, data=terms
        ),
    )


def claim(context: Any, viewer: Viewer, *, token_id: int) -> Any:
    return run_as(
        context, viewer, lambda s, c: workflows.claim(ctx=context, session=s, caller=c, token_id=token_id)
    )


# -- core enterprise -------------------------------------------------------------------------


def issue(
    context: Any,
    viewer: Viewer,
    *,
    supplier: str,
    face: int,
    maturity: dt.date,
    line_id: int,
    invoices: Sequence[tuple[Upload, str]],
) -> Any:
    """Upload each invoice (encrypted; its hash goes on chain), then issue the certificate they back.

    An issue that fails discards the files it uploaded: left behind, they were attached to the next
    payable of the same invoice (the bank saw one invoice once per attempt). A checker's approval
    keeps them: the issue is still to be sent with them.
    """

    def work(session: Session, caller: Any) -> Any:
        ids: list[str] = []
        try:
            for upload, number in invoices:
                stored = documents.upload(
                    ctx=context, session=session, caller=caller, content=upload.data,
                    filename=upload.filename, content_type=upload.content_type, kind="invoice",
                    seller=supplier, invoice_number=number,
                )  # fmt: skip
                ids.append(stored.document_id)
            data = CertificateIssue(
                supplier=supplier, face=face, maturity=maturity, line_id=line_id, document_ids=ids
            )
            return workflows.issue(ctx=context, session=session, caller=caller, data=data)
        except ApprovalRequired:
            raise
        except (ServiceError, ContractRevert, ValidationError):
            # Refused for certain (a reverted transaction changed nothing). Not on a timeout: the
            # transaction may still be mined, and its payable needs these files.
            session.rollback()
            documents.discard(session=session, caller=caller, document_ids=ids)
            raise

    return run_as(context, viewer, work)


def fund_batch(context: Any, viewer: Viewer, *, request_ids: list[int]) -> Any:
    """Fund many accepted requests at once (checked first: nothing is sent if any cannot be funded)."""

    def work(session: Session, caller: Any) -> Any:
        data = batch_fund.FundBatch(request_ids=request_ids)
        try:
            return batch_fund.fund(
                ctx=context, session=session, caller=caller, data=data, idempotency_key=None
            )
        except ServiceError as error:
            # Each request's problem in words, after the sentence that nothing was sent.
            rows = [str(row["message"]) for row in error.details.get("rows", [])]
            message = " ".join([error.message, *rows])
            raise ActionError(message) from error

    return run_as(context, viewer, work)


def batch_prepare(
    context: Any, viewer: Viewer, *, content: bytes, filename: str, uploads: Sequence[Upload]
) -> batch_issue.Batch:
    """Read and check an uploaded ERP export; a batch without row errors waits for its Confirm in the
    database (a browser never posts a file twice, and the Confirm may reach another API instance)."""

    def work(session: Session, caller: Any) -> batch_issue.Batch:
        files = [batch_issue.Upload(u.filename, u.content_type, u.data) for u in uploads]
        return batch_issue.prepare(
            ctx=context, session=session, caller=caller, content=content, filename=filename, uploads=files
        )

    batch = run_as(context, viewer, work)
    if not batch.errors:
        batch_state.stage(
            context.engine, key=batch.key, address=viewer.address, filename=filename, content=content,
            total=len(batch.rows), files=[(u.filename, u.content_type, u.data) for u in batch.uploads],
        )  # fmt: skip
    return batch


def batch_start(context: Any, viewer: Viewer, *, key: str) -> batch_issue.Progress:
    """Send a checked batch (in the background); the results page polls its progress."""
    staged = batch_state.staged(context.engine, key, viewer.address)
    if staged is None:
        raise ActionError(gettext("This upload is no longer waiting to be issued; upload the file again."))

    def work(session: Session, caller: Any) -> batch_issue.Progress:
        running = batch_issue.progress(context.engine, key, viewer.address)
        if running is not None and not running.finished:
            return running  # a double click: on its way already
        files = [batch_issue.Upload(name, kind, data) for name, kind, data in staged.files]
        batch = batch_issue.prepare(
            ctx=context, session=session, caller=caller, content=staged.content, filename=staged.filename,
            uploads=files,
        )  # fmt: skip
        if batch.key != key:
            raise ActionError(
                gettext("This upload is no longer waiting to be issued; upload the file again.")
            )
        return batch_issue.start(ctx=context, caller=caller, batch=batch, action="dashboard batch issue")

    return run_as(context, viewer, work)


def repay(context: Any, viewer: Viewer, *, slot_id: int, amount: int) -> Any:
    return run_as(
        context,
        viewer,
        lambda s, c: workflows.repay(
            ctx=context, session=s, caller=c, slot_id=slot_id, data=Repay(amount=amount)
        ),
    )


def cancel_payable(context: Any, viewer: Viewer, *, slot_id: int) -> Any:
    return run_as(
        context, viewer, lambda s, c: workflows.cancel(ctx=context, session=s, caller=c, slot_id=slot_id)
    )


def read_document(context: Any, viewer: Viewer, *, document_id: str) -> tuple[Any, bytes]:
    """A backing document for a party to it (the service checks who may read it)."""
    if context is None:
        raise ActionError("Documents are served by the platform's API; run `tierflow up`.")
    with Session(context.engine) as session:
        try:
            return documents.read(
                ctx=context, session=session, caller=caller_of(session, viewer), document_id=document_id
            )
        except TierflowError as error:
            raise ActionError(explain(error)) from error


# -- operator --------------------------------------------------------------------------------


def onboard(context: Any, viewer: Viewer, **fields: Any) -> Any:
    def work(session: Session, caller: Any) -> Any:
        if not caller.is_operator:
            raise ActionError("Only the operator onboards participants.")
        return participants.onboard(ctx=context, session=session, data=ParticipantCreate(**fields))

    return run_as(context, viewer, work)


def set_status(context: Any, viewer: Viewer, *, address: str, suspend: bool) -> Any:
    def work(session: Session, caller: Any) -> Any:
        if not caller.is_operator:
            raise ActionError("Only the operator suspends or reinstates participants.")
        return participants.set_status(ctx=context, session=session, address=address, suspend=suspend)

    return run_as(context, viewer, work)


def set_parameters(
    context: Any, viewer: Viewer, *, max_tenor_days: int, grace_period_days: int, min_unit: int
) -> Any:
    def work(session: Session, caller: Any) -> Any:
        if not caller.is_operator:
            raise ActionError("Only the operator sets platform parameters.")
        data = ParametersUpdate(
            max_tenor_days=max_tenor_days, grace_period_days=grace_period_days, min_unit=min_unit
        )
        return workflows.set_parameters(ctx=context, session=session, data=data)

    return run_as(context, viewer, work)


def operator_mark_defaulted(context: Any, viewer: Viewer, *, slot_id: int) -> Any:
    def work(session: Session, caller: Any) -> Any:
        if not caller.is_operator:
            raise ActionError(i18n.gettext("Only the operator marks a payable defaulted here."))
        return workflows.operator_mark_defaulted(ctx=context, session=session, slot_id=slot_id)

    return run_as(context, viewer, work)


def set_quote_validity(context: Any, viewer: Viewer, *, hours: int) -> Any:
    def work(session: Session, caller: Any) -> Any:
        if not caller.is_operator:
            raise ActionError(i18n.gettext("Only the operator sets platform parameters."))
        return workflows.set_quote_validity(ctx=context, data=QuoteValidityUpdate(hours=hours))

    return run_as(context, viewer, work)


def quote_validity_hours(context: Any) -> int | None:
    """The registry's cap on quotes [hours], or None when the chain cannot be read from here."""
    if context is None:
        return None
    try:
        return workflows.quote_validity_hours(ctx=context)
    except TierflowError:
        return None


def set_paused(context: Any, viewer: Viewer, *, paused: bool) -> Any:
    def work(session: Session, caller: Any) -> Any:
        if not caller.is_operator:
            raise ActionError("Only the operator pauses the platform.")
        return workflows.set_paused(ctx=context, paused=paused)

    return run_as(context, viewer, work)


def push_payouts_due(context: Any, viewer: Viewer) -> list[Any]:
    """The operator pushes every due payout (matured payables with money waiting for their holders)."""

    def work(session: Session, caller: Any) -> list[Any]:
        if not caller.is_operator:
            raise ActionError(i18n.gettext("Only the operator pushes payouts."))
        now = context.gateway().chain_time()
        return payouts_due.push_all(ctx=context, session=session, now=now)

    return run_as(context, viewer, work)


def advance_time(context: Any, viewer: Viewer, *, days: int) -> int:
    """Devnet only: the chain's clock `days` forward; the pages' clock follows at once."""

    def work(session: Session, caller: Any) -> int:
        if not caller.is_operator:
            raise ActionError(i18n.gettext("Only the operator moves the devnet's clock."))
        moved = workflows.advance_time(ctx=context, days=days)
        queries.note_chain_time(context.engine, moved)
        return moved

    return run_as(context, viewer, work)


# -- company staff (maker-checker) ------------------------------------------------------------


def approve(context: Any, viewer: Viewer, *, approval_id: int, terms_hash: str) -> Any:
    return run_as(
        context,
        viewer,
        lambda s, c: approvals.approve(
            ctx=context, session=s, caller=c, approval_id=approval_id, seen_terms=terms_hash
        ),
    )


def set_policy(context: Any, viewer: Viewer, *, rules: dict[str, int], expiry_hours: int) -> Any:
    return run_as(
        context,
        viewer,
        lambda s, c: policy.set_rules(
            ctx=context, session=s, caller=c, new=rules, expiry=expiry_hours * 3600
        ),
    )


def reject(context: Any, viewer: Viewer, *, approval_id: int, reason: str) -> Any:
    return run_as(
        context,
        viewer,
        lambda s, c: approvals.reject(
            ctx=context, session=s, caller=c, approval_id=approval_id, reason=reason
        ),
    )


# -- governance (issue 15): the operator as one of the council's governors ---------------------------
def propose_role(context: Any, viewer: Viewer, *, role: str, account: str, grant: bool) -> Any:
    def work(session: Session, caller: Any) -> Any:
        data = RoleProposal.model_validate({"role": role, "account": account, "grant": grant})
        call = governance.role_call(ctx=context, data=data)
        return governance.propose(ctx=context, session=session, caller=caller, call=call)

    return run_as(context, viewer, work)


def propose_upgrade(context: Any, viewer: Viewer, *, contract: str, implementation: str) -> Any:
    def work(session: Session, caller: Any) -> Any:
        data = UpgradeProposal.model_validate({"contract": contract, "implementation": implementation})
        call = governance.upgrade_call(data)
        return governance.propose(ctx=context, session=session, caller=caller, call=call)

    return run_as(context, viewer, work)


def governance_act(context: Any, viewer: Viewer, *, proposal_id: int, step: str) -> Any:
    """approve, cancel or execute a proposal as the operator, one of the council's governors."""
    return run_as(
        context,
        viewer,
        lambda s, c: governance.act(ctx=context, session=s, caller=c, proposal_id=proposal_id, action=step),
    )


# -- asset-level controls (issue 15): governance only ---------------------------------------------
def asset_control(context: Any, viewer: Viewer, *, verb: str, target: Any, **fields: Any) -> Any:
    """freeze / unfreeze / force a certificate or a bill range, or recover a participant, as governance."""

    def work(session: Session, caller: Any) -> Any:
        if not caller.is_operator:
            raise ActionError(
                i18n.gettext("Only platform governance freezes, forces transfers and recovers keys.")
            )
        if verb == "freeze":
            return controls.freeze_certificate(
                ctx=context, token_id=target, data=forms.CertificateFreeze(**fields)
            )
        if verb == "unfreeze":
            return controls.unfreeze_certificate(ctx=context, token_id=target, order=fields["order"])
        if verb == "force":
            return controls.force_certificate(
                ctx=context, token_id=target, data=forms.CertificateForce(**fields)
            )
        if verb == "freeze-range":
            return controls.freeze_range(ctx=context, range_id=target, data=forms.RangeFreeze(**fields))
        if verb == "unfreeze-range":
            return controls.unfreeze_range(ctx=context, range_id=target, order=fields["order"])
        if verb == "force-range":
            return controls.force_range(ctx=context, range_id=target, data=forms.RangeForce(**fields))
        return controls.recover(ctx=context, session=session, address=target, data=forms.Recovery(**fields))

    return run_as(context, viewer, work)
