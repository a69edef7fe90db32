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

from tierflow.chain.vocabulary import revert_message
from tierflow.errors import ContractRevert, TierflowError
from tierflow.platform import i18n
from tierflow.platform.dashboard.session import Viewer
from tierflow.platform.models.service import ApiKey, DirectoryParticipant
from tierflow.platform.services import approvals, controls, documents, participants, policy, workflows
from tierflow.platform.services.errors import ServiceError
from tierflow.platform.services.participants import Caller
from tierflow.platform.services.policy import ApprovalRequired
from tierflow.platform.services.schemas import controls as forms
from tierflow.platform.services.schemas.certificates import (
    AcceptQuote,
    CertificateIssue,
    FinancingCreate,
    ParametersUpdate,
    ParticipantCreate,
    Quote,
    Repay,
    SignatureRequired,
    Transfer,
)

T = TypeVar("T")


class ActionError(Exception):
    """An action did not happen; `str(error)` says why and what to do."""


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


def explain(error: BaseException) -> str:
    """A domain failure as a sentence for the person at the screen."""
    if isinstance(error, ServiceError):
        return error.message
    if isinstance(error, ContractRevert):
        return f"The chain refused it — {revert_message(error)}"
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
    return str(error) or type(error).__name__


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
                f"Submitted for approval ({pending.approval.approval_id}): a checker of your company "
                "must approve it before it is sent."
            ) from pending
        except (TierflowError, ValidationError) as error:
            session.rollback()
            raise ActionError(explain(error)) from error
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
    """Upload each invoice (encrypted; its hash goes on chain), then issue the certificate they back."""

    def work(session: Session, caller: Any) -> Any:
        ids = []
        for upload, number in invoices:
            stored = documents.upload(
                ctx=context, session=session, caller=caller, content=upload.data, filename=upload.filename,
                content_type=upload.content_type, kind="invoice", seller=supplier, invoice_number=number,
            )  # fmt: skip
            ids.append(stored.document_id)
        data = CertificateIssue(
            supplier=supplier, face=face, maturity=maturity, line_id=line_id, document_ids=ids
        )
        return workflows.issue(ctx=context, session=session, caller=caller, data=data)

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


def set_paused(context: Any, viewer: Viewer, *, paused: bool) -> Any:
    def work(session: Session, caller: Any) -> Any:
        if not caller.is_operator:
            raise ActionError("Only the operator pauses the platform.")
        return workflows.set_paused(ctx=context, paused=paused)

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
