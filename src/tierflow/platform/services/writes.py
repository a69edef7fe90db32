"""The one write path: custodial sign-and-relay or a forward request to sign; relay; read-your-writes."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import Context, ContextVar
from typing import Any

from hexbytes import HexBytes
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from tierflow.chain.gateway import REQUEST_ENDS, Call, DecodedReceipts, RelayError, TxOutcome
from tierflow.chain.node import sent_transaction
from tierflow.errors import TransactionOutcomeUnknown
from tierflow.platform import i18n
from tierflow.platform.models import RawEvent
from tierflow.platform.services import documents, names, policy
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.errors import Conflict, Forbidden
from tierflow.platform.services.group_commit import Lookups
from tierflow.platform.services.participants import Caller, custodial_account
from tierflow.platform.services.schemas.certificates import (
    EventPublic,
    RelayRequest,
    SignatureRequired,
    TxResult,
)

RAW = RawEvent.__table__  # type: ignore[attr-defined]
# Which event fields a client most likely wants back, by event: event arg → result field.
RESULT_FIELDS: dict[str, dict[str, str]] = {
    "CertificateIssued": {"slotId": "slot_id", "tokenId": "token_id"},
    "ProposalCreated": {"proposalId": "proposal_id", "deadline": "deadline"},
    "BatchProposalCreated": {"proposalId": "proposal_id", "deadline": "deadline"},
    "ProposalScheduled": {"eta": "eta"},
    "CertificateSplit": {"newTokenId": "new_token_id", "fromTokenId": "token_id"},
    "CertificateTransferred": {"tokenId": "token_id"},
    "FinancingRequested": {"requestId": "request_id", "tokenId": "token_id"},
    "FinancingQuoted": {"requestId": "request_id", "discount": "discount", "price": "price"},
    "FinancingFunded": {"requestId": "request_id", "price": "price", "discount": "discount"},
    "CreditLineGranted": {"lineId": "line_id"},
    "CreditLineAdjusted": {"lineId": "line_id", "limit": "limit"},
    "CertificateClaimed": {"tokenId": "token_id", "amount": "amount"},
    "PayableRepaid": {"slotId": "slot_id", "paidIn": "paid_in"},
    "PayableDefaulted": {"slotId": "slot_id", "unpaid": "unpaid"},
    "RecourseExercised": {"requestId": "request_id", "amount": "amount"},
    "CertificateFrozen": {"tokenId": "frozen_token_id", "value": "value"},
    "CertificateUnfrozen": {"tokenId": "token_id", "released": "released"},
    "CertificateForceTransferred": {"tokenId": "new_token_id", "value": "value"},
}
# Bill events add theirs only when the event has the field (the same result on a first answer and on
# a retry that finds the transaction mined: both are built here).
BILL_RESULT_FIELDS: dict[str, dict[str, str]] = {
    "BillIssued": {"packageId": "package_id"},
    "BillReceived": {"rangeId": "range_id"},
    "BillEndorsed": {"newRangeId": "new_range_id", "remainderRangeId": "remainder_range_id"},
    "BillQuoted": {"quoteId": "quote_id"},
    "BillDiscounted": {
        "newRangeId": "new_range_id",
        "remainderRangeId": "remainder_range_id",
        "price": "price",
        "interest": "interest",
    },
    "BillPledged": {"rangeId": "pledged_range_id", "remainderRangeId": "remainder_range_id"},
    "BillPaid": {"amount": "amount"},
    "BillRecourseSettled": {"newRangeId": "new_range_id", "amount": "amount"},
    "BillRangeFrozen": {"rangeId": "frozen_range_id", "remainderRangeId": "remainder_range_id"},
    "BillRangeForceTransferred": {"newRangeId": "new_range_id", "remainderRangeId": "remainder_range_id"},
}


# Who wants to hear how a write progresses (the dashboard's progress line): called with a stage
# ("sending", "mined", "indexed") and details (block number). Unset for API calls: nothing happens.
PROGRESS: ContextVar[Callable[[str, dict[str, Any]], None] | None] = ContextVar(
    "write_progress", default=None
)


# The transactions the current run (a sweep, a batch's rows) has looked up, decoded once for all its rows
# (`decoding_once`); unset: every look-up reads and decodes its receipt.
DECODED: ContextVar[DecodedReceipts | None] = ContextVar("decoded_receipts", default=None)


def decoding_once(context: Context) -> Context:
    """`context` (a run's, whose rows run in copies of it) with its own DecodedReceipts: the rows' look-ups
    (`look_up`) of one batch transaction decode its receipt once, not once a row."""
    context.run(DECODED.set, DecodedReceipts())
    return context


def report(stage: str, **details: Any) -> None:
    """Tell the current listener, if any, that the write reached `stage`."""
    listener = PROGRESS.get()
    if listener is not None:
        listener(stage, details)


def jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def finish(
    *,
    ctx: ServiceContext,
    outcome: TxOutcome,
    session: Session | None = None,
    document_ids: list[str] | None = None,
) -> TxResult:
    """Wait until the indexer has the transaction's block, then describe the outcome; an issue binds
    the uploads it named (`document_ids`) to its payable."""
    if session is not None:
        for event in outcome.events:
            if event.event == "CertificateIssued":
                hashes = ["0x" + bytes(HexBytes(h)).hex() for h in event.args.get("invoiceHashes", [])]
                documents.bind(
                    session=session,
                    obligor=str(event.args["obligor"]),
                    slot_id=int(event.args["slotId"]),
                    doc_hashes=hashes,
                    document_ids=document_ids,
                )
    report("mined", block=outcome.block_number, tx_hash=outcome.tx_hash)
    indexed = ctx.link.wait_for(outcome.block_number, ctx.index_timeout)
    if not (_indexed_at(ctx, outcome) if indexed else _still_mined(ctx, outcome)):
        # The indexer passed the receipt's block number on another block, or (the indexer late) the
        # node no longer has the receipt: the chain dropped the block the receipt named (a reorg, a node
        # restarted from an older state) before we answered. "Done" would be false; the transaction may
        # be mined again or be gone, so a retry looks it up.
        nonces = [int(e.args["nonce"]) for e in outcome.events if e.event in REQUEST_ENDS]
        raise TransactionOutcomeUnknown(
            sent_transaction(outcome.tx_hash, nonces[0] if len(nonces) == 1 else None),
            i18n.gettext(
                "block %(block)s holding transaction %(tx)s was dropped from the chain before the answer",
                block=outcome.block_number,
                tx=outcome.tx_hash,
            ),
        )
    report("indexed" if indexed else "index_late", block=outcome.block_number)
    result: dict[str, Any] = {}
    for event in outcome.events:
        for arg, name in RESULT_FIELDS.get(event.event, {}).items():
            # The first event wins: a split inside `lock` must not overwrite the request's token.
            result.setdefault(name, jsonable(event.args.get(arg)))
    for event in outcome.events:
        for arg, name in BILL_RESULT_FIELDS.get(event.event, {}).items():
            if arg in event.args:
                result.setdefault(name, jsonable(event.args[arg]))
    return TxResult(
        tx_hash=outcome.tx_hash,
        block_number=outcome.block_number,
        indexed=indexed,
        result=result,
        events=[
            EventPublic(contract=e.contract, event=e.event, args={k: jsonable(v) for k, v in e.args.items()})
            for e in outcome.events
        ],
    )


def _indexed_at(ctx: ServiceContext, outcome: TxOutcome) -> bool:
    """Whether the indexer holds an event of the transaction in the receipt's block (every mined write
    that succeeded emits one): the block the receipt named is the one the indexer took as canonical.

    The writes answered at the same moment (a batch's rows, which share their transaction and block)
    share one read, made after each of them asked (group_commit): a pool checkout, its ping and a
    statement per write cost ~0.3 ms of CPU each, more than the read itself."""
    return bool(_INDEXED.get(ctx.engine, (str(outcome.tx_hash), int(outcome.block_number))))


# Built once: the transactions (with the blocks) of events the indexer holds, among those named.
_INDEXED_READ = (
    select(RAW.c.tx_hash, RAW.c.block_number)
    .where(RAW.c.tx_hash.in_(bindparam("hashes", expanding=True)))
    .distinct()
)


def _read_indexed(conn: Connection, keys: list[tuple[str, int]]) -> dict[tuple[str, int], bool]:
    hashes = sorted({tx_hash for tx_hash, _ in keys})
    held = {(row.tx_hash, row.block_number) for row in conn.execute(_INDEXED_READ, {"hashes": hashes})}
    return {key: True for key in keys if key in held}


_INDEXED: Lookups[tuple[str, int], bool] = Lookups(_read_indexed)


def _still_mined(ctx: ServiceContext, outcome: TxOutcome) -> bool:
    """Whether the node still has the transaction's receipt in the same block: asked only when the
    indexer did not catch up in time, the one case where no indexed block vouches for the answer (a
    node restarted from an older state during the wait has forgotten the block and the receipt)."""
    now = ctx.gateway().transaction_outcome(outcome.tx_hash)
    return now is not None and now.block_number == outcome.block_number


def execute(
    *,
    ctx: ServiceContext,
    session: Session,
    caller: Caller,
    call: Call,
    released: bool = False,
    document_ids: list[str] | None = None,
) -> TxResult | SignatureRequired:
    """Run `call` as the caller: sign with its custodial key, or hand back a forward request to sign.

    Unless a checker `released` it (services/approvals.py), the caller's right to write and the
    company's approval policy are checked first: a covered write raises ApprovalRequired instead.
    """
    if caller.status != "active":
        raise Forbidden(
            i18n.gettext("%(name)s is suspended; contact the operator.", name=caller.legal_name),
            code="participant_suspended",
        )
    if not released:
        policy.admit(ctx=ctx, session=session, caller=caller, call=call)
    gateway = ctx.gateway()
    if caller.custody == "self":
        return SignatureRequired(forward_request=gateway.forward_request(caller.address, call))
    account = custodial_account(ctx=ctx, session=session, address=caller.address)
    # Hand the connection back while the chain and the indexer work: 20 writers waiting must not
    # hold 20 pooled connections (nor open transactions) that the indexer itself needs.
    session.close()
    report("sending", call=f"{call.contract}.{call.function}")
    outcome = gateway.execute_custodial(account, call)
    return finish(ctx=ctx, outcome=outcome, session=session, document_ids=document_ids)


def relay(*, ctx: ServiceContext, session: Session, caller: Caller, body: RelayRequest) -> TxResult:
    """Relay a forward request the caller signed itself (self custody), paying its gas."""
    gateway = ctx.gateway()
    request = body.request
    message: dict[str, Any] = request.model_dump(by_alias=True)
    if message["from"] != caller.address:
        raise Forbidden(
            "a participant can only relay requests it signed from its own address", code="signer_mismatch"
        )
    target = gateway.by_address.get(str(message["to"]).lower())
    if target is None or target == "TierflowForwarder":
        raise RelayError(
            "target_not_allowed",
            i18n.gettext("The request's `to` (%(to)s) is not a Tierflow contract.", to=message["to"]),
        )
    if message["value"] != 0:
        raise RelayError(
            "value_not_zero",
            i18n.gettext(
                "The request's `value` must be 0 (the forwarder relays no ether), not %(value)s.",
                value=message["value"],
            ),
        )
    if not 0 < message["gas"] <= 5_000_000:
        raise RelayError(
            "gas_out_of_range",
            i18n.gettext("The request's `gas` must be 1 to 5,000,000, not %(gas)s.", gas=message["gas"]),
        )
    if message["deadline"] >= 2**48:
        raise RelayError(
            "deadline_out_of_range",
            i18n.gettext(
                "The request's `deadline` is a uint48 (below 2**48), not %(deadline)s.",
                deadline=message["deadline"],
            ),
        )
    if caller.status != "active":
        raise Forbidden(
            i18n.gettext("%(name)s is suspended; contact the operator.", name=caller.legal_name),
            code="participant_suspended",
        )
    policy.may_write(caller)
    try:
        function, params = gateway.contracts[target].decode_function_input(message["data"])
    except ValueError:
        pass  # not a function of the target: the chain refuses it
    else:
        # A self-signed request must not skip the checker: a covered call goes through the approvals.
        policy.refuse_covered(session, caller, Call(target, function.fn_name, tuple(params.values())))
        if target in ("Receivables", "Bills") and function.fn_name == "issue":
            # ... nor the platform's invoice keys: it proposes only keys derived from its own uploads.
            documents.check_relayed_issue(session=session, caller=caller, contract=target, args=dict(params))
    # Standard wallets give v = 0/1 or the EIP-2098 compact form; the forwarder takes r‖s‖v with v = 27/28
    # only, so anything else would be sent, revert on chain and cost the relayer gas.
    signature = gateway.normalise_signature(body.signature)
    signer = gateway.recover(message, signature)
    session.close()
    if signer != caller.address:
        raise RelayError(
            "invalid_signature",
            i18n.gettext(
                "The request is signed by %(signer)s, not by you (%(name)s, %(address)s): sign it with your "
                "own key.",
                signer=signer,
                name=caller.legal_name,
                address=caller.address,
            ),
        )
    outcome = gateway.relay(message, signature)
    return finish(ctx=ctx, outcome=outcome, session=session)


def look_up(*, ctx: ServiceContext, session: Session, tx_hash: str) -> TxResult | None:
    """The result of a transaction sent earlier whose receipt did not arrive in time; never sends.

    None while it is not mined. A mined transaction is described exactly as `finish` describes a
    first answer (after the indexer has its block); a reverted one raises a 409: its decoded custom
    error when a replay finds it, else `transaction_reverted`.
    """
    gateway = ctx.gateway()
    decoded = DECODED.get()
    outcome = gateway.transaction_outcome(tx_hash, decoded)
    if outcome is None:
        return None
    if outcome.succeeded:
        try:
            return finish(ctx=ctx, outcome=outcome, session=session)
        except TransactionOutcomeUnknown:
            if decoded is not None:  # the receipt's block was dropped: the run's retry reads it afresh
                decoded.forget(tx_hash)
            raise
    where = i18n.gettext(
        "transaction %(tx)s was mined in block %(block)s but reverted",
        tx=outcome.tx_hash,
        block=outcome.block_number,
    )
    # one request of a batch failed inside it (its own error); a whole transaction is replayed for why
    reason = outcome.failure or gateway.revert_reason(outcome.tx_hash, outcome.block_number)
    if reason is None:
        raise Conflict(
            i18n.gettext(
                "%(where)s; nothing was changed: read the object's state before sending a new request",
                where=where,
            ),
            code="transaction_reverted",
            details={"tx_hash": outcome.tx_hash},
        )
    raise Conflict(
        i18n.gettext(
            "%(reason)s (%(where)s)",
            reason=i18n.revert_message(
                reason, names=names.of_revert(ctx.engine, reason).get, with_error_name=True
            ),
            where=where,
        ),
        code=reason.name,
        details={
            "tx_hash": outcome.tx_hash,
            "error": reason.name,
            "args": {key: jsonable(value) for key, value in reason.args_by_name.items()},
        },
    )
