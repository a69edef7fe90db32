"""The workflows of every actor: party checks against the read models, then one contract call each."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, select
from sqlmodel import Session

from tierflow.chain.gateway import Call
from tierflow.errors import ChainUnavailableError, TransactionOutcomeUnknown
from tierflow.platform import i18n
from tierflow.platform.models import Certificate, FinancingRequest
from tierflow.platform.services import documents, governance, names, queries
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.errors import Forbidden, InvalidRequest
from tierflow.platform.services.participants import Caller
from tierflow.platform.services.schemas.certificates import (
    AcceptQuote,
    Approval,
    Burn,
    CertificateIssue,
    CreditLineAdjust,
    CreditLineCreate,
    FinancingCreate,
    Mint,
    ParametersUpdate,
    Quote,
    QuoteValidityUpdate,
    Repay,
    SignatureRequired,
    Transfer,
    TxResult,
)
from tierflow.platform.services.writes import execute, finish

Written = TxResult | SignatureRequired
UNLIMITED = 2**256 - 1
DAY = 86_400
_CERTIFICATES = Certificate.__table__  # type: ignore[attr-defined]
_REQUESTS = FinancingRequest.__table__  # type: ignore[attr-defined]
_HOLDING = select(_CERTIFICATES.c.holder, _CERTIFICATES.c.value).where(
    _CERTIFICATES.c.token_id == bindparam("token_id")
)


def date_to_unix(day: dt.date) -> int:
    """A maturity or expiry date as unix seconds: 00:00 UTC of that day."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


# -- operator ---------------------------------------------------------------------------------------
def parameters_call(data: ParametersUpdate) -> Call:
    return Call(
        "ParticipantRegistry",
        "setParameters",
        (data.max_tenor_days * DAY, data.grace_period_days * DAY, data.min_unit),
    )


def quote_validity_call(data: QuoteValidityUpdate) -> Call:
    return Call("ParticipantRegistry", "setQuoteValidity", (data.hours * 3600,))


def set_parameters(*, ctx: ServiceContext, session: Session, data: ParametersUpdate) -> TxResult:
    """Parameters are governance's: the operator (a governor) proposes them; `result.proposal_id`."""
    return governance.propose_as(ctx, ctx.operator, parameters_call(data))


def set_quote_validity(*, ctx: ServiceContext, data: QuoteValidityUpdate) -> TxResult:
    """The quote-validity cap is governance's: the operator proposes it; `result.proposal_id`."""
    return governance.propose_as(ctx, ctx.operator, quote_validity_call(data))


def quote_validity_hours(*, ctx: ServiceContext) -> int:
    """The registry's cap on a quote's validity, in whole hours (what a bank may choose up to)."""
    return max(1, int(ctx.gateway().call("ParticipantRegistry", "quoteValidity")) // 3600)


def set_paused(*, ctx: ServiceContext, paused: bool) -> TxResult:
    """Pause at once; resuming is governance's (the operator proposes it: `result.proposal_id`)."""
    if not paused:
        return governance.propose_as(ctx, ctx.operator, Call("ParticipantRegistry", "unpause", ()))
    call = Call("ParticipantRegistry", "pause", ())
    return finish(ctx=ctx, outcome=ctx.gateway().send_direct(ctx.operator, call))


DEVNET_MAX_DAYS = 400


def advance_time(*, ctx: ServiceContext, days: int) -> int:
    """Devnet only (a demo): move the chain's clock `days` forward and mine a block; the new chain time.

    Refused in production, where the chain's clock is nobody's to move (anvil's evm_increaseTime does
    not exist on a real node anyway, but the refusal must not depend on that).
    """
    if ctx.settings.environment == "production":
        raise Forbidden(i18n.gettext("Time travel exists on a development chain only."), code="devnet_only")
    if not 1 <= days <= DEVNET_MAX_DAYS:
        raise InvalidRequest(
            i18n.gettext("Days: a whole number from 1 to %(most)s.", most=DEVNET_MAX_DAYS),
            code="invalid_days",
        )
    gateway = ctx.gateway()
    gateway.rpc.call("evm_increaseTime", [days * DAY])
    gateway.rpc.call("evm_mine", [])
    return gateway.chain_time()


def push_payouts(*, ctx: ServiceContext, token_ids: list[int]) -> TxResult:
    call = Call("Receivables", "payout", (token_ids,))
    return finish(ctx=ctx, outcome=ctx.gateway().send_direct(ctx.operator, call))


def operator_mark_defaulted(*, ctx: ServiceContext, session: Session, slot_id: int) -> TxResult:
    """The operator declares an unpaid payable defaulted after maturity + grace (the chain allows the
    operator or a holder); it names no token (0): only a holder has to show one."""
    queries.payable(session, slot_id)  # 404 when unknown
    call = Call("Receivables", "markDefaulted", (slot_id, 0))
    return finish(ctx=ctx, outcome=ctx.gateway().send_direct(ctx.operator, call))


# -- settlement token -------------------------------------------------------------------------------
def approve(*, ctx: ServiceContext, session: Session, caller: Caller, data: Approval) -> Written:
    spender = ctx.gateway().contracts[data.spender].address
    return execute(
        ctx=ctx,
        session=session,
        caller=caller,
        call=Call("SettlementToken", "approve", (spender, data.amount)),
    )


def mint(*, ctx: ServiceContext, session: Session, caller: Caller, data: Mint) -> Written:
    return execute(
        ctx=ctx, session=session, caller=caller, call=Call("SettlementToken", "mint", (data.to, data.amount))
    )


def burn(*, ctx: ServiceContext, session: Session, caller: Caller, data: Burn) -> Written:
    """Retire settlement token the bank holds itself, against a withdrawal paid out off chain."""
    return execute(
        ctx=ctx, session=session, caller=caller, call=Call("SettlementToken", "burn", (data.amount,))
    )


def ensure_allowance(
    *, ctx: ServiceContext, session: Session, caller: Caller, spender: str, amount: int
) -> None:
    """`_ensure_allowance` for a batch: approve once before many payments go out concurrently."""
    _ensure_allowance(ctx=ctx, session=session, caller=caller, spender=spender, amount=amount)


def _ensure_allowance(
    *, ctx: ServiceContext, session: Session, caller: Caller, spender: str, amount: int
) -> None:
    """Custodial participants approve the platform contract once (unlimited) when they first need to pay.

    Self-custody participants approve themselves (POST /v1/settlement/approvals); the contract's
    ERC20InsufficientAllowance error tells them so.
    """
    if caller.custody != "custodial":
        return
    gateway = ctx.gateway()
    address = gateway.contracts[spender].address
    if int(gateway.call("SettlementToken", "allowance", caller.address, address)) >= amount:
        return
    try:
        execute(
            ctx=ctx,
            session=session,
            caller=caller,
            call=Call("SettlementToken", "approve", (address, UNLIMITED)),
        )
    except TransactionOutcomeUnknown as error:
        # Only the approval is out, not the action: the caller may rerun the whole request (it finds
        # the allowance, or approves the same amount again), so this is no "sent" idempotency record.
        raise ChainUnavailableError(
            i18n.gettext(
                "The settlement-money approval (transaction %(tx)s) was sent but not confirmed in time, "
                "and nothing else was sent: retrying the request is safe.",
                tx=error.tx_hash,
            )
        ) from error


# -- financier --------------------------------------------------------------------------------------
def grant_line(*, ctx: ServiceContext, session: Session, caller: Caller, data: CreditLineCreate) -> Written:
    call = Call("CreditLines", "grant", (data.obligor, data.limit, date_to_unix(data.expiry)))
    return execute(ctx=ctx, session=session, caller=caller, call=call)


def adjust_line(
    *, ctx: ServiceContext, session: Session, caller: Caller, line_id: int, data: CreditLineAdjust
) -> Written:
    line = queries.credit_line(session, line_id)
    if line.financier != caller.address:
        raise _not_your_line(session, line_id, line.financier)
    call = Call("CreditLines", "adjust", (line_id, data.limit, date_to_unix(data.expiry)))
    return execute(ctx=ctx, session=session, caller=caller, call=call)


def _not_your_line(session: Session, line_id: int, financier: str) -> Forbidden:
    return Forbidden(
        i18n.gettext(
            "Credit line %(line)s was granted by %(bank)s, not by you: only the bank that granted a line "
            "changes it.",
            line=line_id,
            bank=names.name(session, financier),
        ),
        code="not_a_party",
    )


def freeze_line(*, ctx: ServiceContext, session: Session, caller: Caller, line_id: int) -> Written:
    """Stop new issuance on a line: its limit comes down to what is drawn (the chain has no freeze flag;
    repayments still restore and nothing drawn is called in). Unfreezing is an adjustment to a limit."""
    line = queries.credit_line(session, line_id)
    if line.financier != caller.address:
        raise _not_your_line(session, line_id, line.financier)
    if line.limit == line.used:
        raise InvalidRequest(
            i18n.gettext(
                "Credit line %(line)s is already frozen: nothing is left to draw; "
                "raise its limit to reopen it.",
                line=line_id,
            ),
            code="line_frozen",
        )
    call = Call("CreditLines", "adjust", (line_id, line.used, line.expiry))
    return execute(ctx=ctx, session=session, caller=caller, call=call)


def limit_before_freeze(session: Session, line_id: int) -> int | None:
    """The limit a frozen line had before it was frozen (to offer as the limit that reopens it), else None."""
    line = queries.credit_line(session, line_id)
    if line.limit != line.used:
        return None
    return queries.last_limit_above(session, line_id, line.limit)


def _own_request(session: Session, caller: Caller, request_id: int, *, as_: str) -> FinancingRequest:
    """The request, once the caller is its financier or seller (`as_`); Forbidden otherwise."""
    row = queries.financing_request(session, request_id)
    _check_party(session, caller, request_id, row.financier if as_ == "financier" else row.seller, as_=as_)
    return row


# A funding's check through Core: two columns, where an ORM row cost more than the check (every row of a
# batch funding reads it).
_REQUEST_FINANCIER = select(_REQUESTS.c.financier, _REQUESTS.c.price).where(
    _REQUESTS.c.request_id == bindparam("request_id")
)


def _check_party(session: Session, caller: Caller, request_id: int, party: str, *, as_: str) -> None:
    if party != caller.address:
        message = (
            i18n.gettext(
                "Financing request %(id)s is addressed to %(bank)s, not to you.",
                id=request_id, bank=names.name(session, party),
            )
            if as_ == "financier"
            else i18n.gettext(
                "Financing request %(id)s is %(seller)s's, not yours: only its seller may act on it.",
                id=request_id, seller=names.name(session, party),
            )
        )  # fmt: skip
        raise Forbidden(message, code="not_a_party")


def quote(*, ctx: ServiceContext, session: Session, caller: Caller, request_id: int, data: Quote) -> Written:
    _own_request(session, caller, request_id, as_="financier")
    expiry = ctx.gateway().chain_time() + data.valid_hours * 3600
    return execute(
        ctx=ctx,
        session=session,
        caller=caller,
        call=Call("Financing", "quote", (request_id, data.rate_bps, expiry)),
    )


def fund(
    *, ctx: ServiceContext, session: Session, caller: Caller, request_id: int, allowance_checked: bool = False
) -> Written:
    """Fund an accepted request; `allowance_checked`: a batch ensured the allowance for all its requests
    at once (the allowance read is a contract call through web3, ~7 ms of CPU: most of a batch row's)."""
    row = session.execute(_REQUEST_FINANCIER, {"request_id": request_id}).first()
    if row is None:
        queries.financing_request(session, request_id)  # raises the one NotFound wording
        raise AssertionError("unreachable: the request was found on the second read")
    _check_party(session, caller, request_id, row.financier, as_="financier")
    if not allowance_checked:
        _ensure_allowance(
            ctx=ctx, session=session, caller=caller, spender="Financing", amount=int(row.price or 0)
        )
    return execute(ctx=ctx, session=session, caller=caller, call=Call("Financing", "fund", (request_id,)))


def decline(*, ctx: ServiceContext, session: Session, caller: Caller, request_id: int) -> Written:
    _own_request(session, caller, request_id, as_="financier")
    return execute(ctx=ctx, session=session, caller=caller, call=Call("Financing", "decline", (request_id,)))


def recourse(*, ctx: ServiceContext, session: Session, caller: Caller, request_id: int) -> Written:
    _own_request(session, caller, request_id, as_="financier")
    return execute(
        ctx=ctx, session=session, caller=caller, call=Call("Financing", "exerciseRecourse", (request_id,))
    )


# -- core enterprise --------------------------------------------------------------------------------
def issue(*, ctx: ServiceContext, session: Session, caller: Caller, data: CertificateIssue) -> Written:
    hashes = documents.invoices_for_issue(
        session=session, caller=caller, document_ids=data.document_ids, supplier=data.supplier
    )
    call = Call(
        "Receivables", "issue", (data.supplier, data.face, date_to_unix(data.maturity), data.line_id, hashes)
    )
    return execute(ctx=ctx, session=session, caller=caller, call=call, document_ids=data.document_ids)


def _own_payable(session: Session, caller: Caller, slot_id: int, *, as_: str) -> None:
    row = queries.payable(session, slot_id)
    party = row.obligor if as_ == "obligor" else row.supplier
    if party != caller.address:
        message = (
            i18n.gettext(
                "Payable %(id)s is owed by %(obligor)s, not by you.",
                id=slot_id, obligor=names.name(session, party),
            )
            if as_ == "obligor"
            else i18n.gettext(
                "Payable %(id)s was issued to %(supplier)s, not to you.",
                id=slot_id, supplier=names.name(session, party),
            )
        )  # fmt: skip
        raise Forbidden(message, code="not_a_party")


def cancel(*, ctx: ServiceContext, session: Session, caller: Caller, slot_id: int) -> Written:
    _own_payable(session, caller, slot_id, as_="obligor")
    return execute(ctx=ctx, session=session, caller=caller, call=Call("Receivables", "cancel", (slot_id,)))


def repay(*, ctx: ServiceContext, session: Session, caller: Caller, slot_id: int, data: Repay) -> Written:
    _own_payable(session, caller, slot_id, as_="obligor")
    _ensure_allowance(ctx=ctx, session=session, caller=caller, spender="Receivables", amount=data.amount)
    return execute(
        ctx=ctx, session=session, caller=caller, call=Call("Receivables", "repay", (slot_id, data.amount))
    )


# -- supplier ---------------------------------------------------------------------------------------
def respond(*, ctx: ServiceContext, session: Session, caller: Caller, slot_id: int, accept: bool) -> Written:
    _own_payable(session, caller, slot_id, as_="supplier")
    function = "accept" if accept else "reject"
    return execute(ctx=ctx, session=session, caller=caller, call=Call("Receivables", function, (slot_id,)))


def _own_token(session: Session, caller: Caller, token_id: int) -> int:
    # Two columns through Core: an ORM row costs more than the check it serves on every holder's write.
    row = session.execute(_HOLDING, {"token_id": token_id}).first()
    if row is None:
        queries.certificate(session, token_id)  # raises the one NotFound wording of an unknown certificate
        raise AssertionError("unreachable: the certificate was found on the second read")
    if row.holder != caller.address:
        raise Forbidden(
            i18n.gettext(
                "Certificate %(id)s is held by %(holder)s, not by you.",
                id=token_id,
                holder=names.name(session, row.holder),
            ),
            code="not_a_party",
        )
    return int(row.value)


def transfer(
    *, ctx: ServiceContext, session: Session, caller: Caller, token_id: int, data: Transfer
) -> Written:
    value = _own_token(session, caller, token_id)
    if data.to == caller.address:
        raise InvalidRequest(
            "transfer to yourself; to split a certificate use its split endpoint", code="self_transfer"
        )
    if data.value == value:
        call = Call("Receivables", "transfer", (token_id, data.to))
    else:
        call = Call("Receivables", "transferValue", (token_id, data.to, data.value))
    return execute(ctx=ctx, session=session, caller=caller, call=call)


def request_financing(
    *, ctx: ServiceContext, session: Session, caller: Caller, data: FinancingCreate
) -> Written:
    _own_token(session, caller, data.token_id)
    call = Call("Financing", "request", (data.token_id, data.amount, data.financier, data.with_recourse))
    return execute(ctx=ctx, session=session, caller=caller, call=call)


def accept_quote(
    *, ctx: ServiceContext, session: Session, caller: Caller, request_id: int, data: AcceptQuote
) -> Written:
    """Accept on the terms the seller saw; a re-quote since makes the chain refuse (FinancingQuoteChanged)."""
    _own_request(session, caller, request_id, as_="seller")
    call = Call(
        "Financing", "acceptQuote", (request_id, data.rate_bps, data.price, int(data.expiry.timestamp()))
    )
    return execute(ctx=ctx, session=session, caller=caller, call=call)


def lapse(*, ctx: ServiceContext, session: Session, caller: Caller, request_id: int) -> Written:
    """End an accepted request whose quote expired unfunded (anyone may): the token is unlocked."""
    queries.financing_request(session, request_id)  # 404 when unknown
    return execute(ctx=ctx, session=session, caller=caller, call=Call("Financing", "lapse", (request_id,)))


def collect_recourse(*, ctx: ServiceContext, session: Session, caller: Caller, seller: str) -> Written:
    """Collect a seller's recourse debt out of its settlement balance (anyone may; no allowance needed)."""
    return execute(
        ctx=ctx, session=session, caller=caller, call=Call("Financing", "collectRecourse", (seller,))
    )


def cancel_request(*, ctx: ServiceContext, session: Session, caller: Caller, request_id: int) -> Written:
    _own_request(session, caller, request_id, as_="seller")
    return execute(ctx=ctx, session=session, caller=caller, call=Call("Financing", "cancel", (request_id,)))


# -- holders ----------------------------------------------------------------------------------------
def claim(*, ctx: ServiceContext, session: Session, caller: Caller, token_id: int) -> Written:
    _own_token(session, caller, token_id)
    return execute(ctx=ctx, session=session, caller=caller, call=Call("Receivables", "claim", (token_id,)))


def mark_defaulted(*, ctx: ServiceContext, session: Session, caller: Caller, slot_id: int) -> Written:
    queries.payable(session, slot_id)  # 404 when unknown
    # the chain accepts a holder only with a token of this payable it names (it enumerates no holders)
    held = queries.held_token_of_slot(session, caller.address, slot_id)
    if held is None:
        raise Forbidden(
            i18n.gettext(
                "You hold no certificate of payable %(id)s: only its holders and the operator mark it "
                "defaulted.",
                id=slot_id,
            ),
            code="not_a_party",
        )
    return execute(
        ctx=ctx, session=session, caller=caller, call=Call("Receivables", "markDefaulted", (slot_id, held))
    )
