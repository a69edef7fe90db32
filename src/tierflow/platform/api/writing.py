"""The router side of every transaction-sending POST: idempotency, status 200/202, stored replies."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlmodel import Session

from tierflow.chain.node import recording_sends
from tierflow.errors import TransactionOutcomeUnknown
from tierflow.platform.api.errors import api_error_response, outcome_unknown
from tierflow.platform.api.schemas import ErrorResponse
from tierflow.platform.services import audit_trail, idempotency, writes
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.group_commit import Alike, execute_all
from tierflow.platform.services.participants import Caller
from tierflow.platform.services.policy import ApprovalRequired
from tierflow.platform.services.schemas.certificates import SignatureRequired, TxResult
from tierflow.platform.services.schemas.staff import ApprovalPublic
from tierflow.platform.services.sqltext import JsonTexts

WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "model": SignatureRequired,
        "description": "self custody: sign the forward request, POST it to /v1/relay",
    },
    401: {"model": ErrorResponse, "description": "missing or invalid API key"},
    403: {"model": ErrorResponse, "description": "wrong role, or not a party to the object"},
    404: {"model": ErrorResponse, "description": "unknown object"},
    409: {
        "model": ErrorResponse,
        "description": "an on-chain rule forbids it (decoded custom error), or a retry's earlier "
        "transaction is not mined yet (transaction_outcome_unknown)",
    },
    422: {
        "model": ErrorResponse,
        "description": "invalid request, or an Idempotency-Key reused with other parameters",
    },
    503: {
        "model": ErrorResponse,
        "description": "chain or database unavailable, nothing was changed; or the transaction was "
        "sent but its receipt timed out (transaction_outcome_unknown, details.tx_hash)",
    },
}
READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    **{code: WRITE_RESPONSES[code] for code in (401, 403, 404, 422)},
    503: {"model": ErrorResponse, "description": "chain or database unavailable; retry shortly"},
}


def _response(result: BaseModel) -> JSONResponse:
    status = 202 if isinstance(result, SignatureRequired) else 200
    return JSONResponse(status_code=status, content=result.model_dump(mode="json"))


def _answer(action: Callable[[], BaseModel]) -> JSONResponse:
    """The action's response; a write waiting for a checker answers 202 with its pending approval."""
    try:
        return _response(action())
    except ApprovalRequired as pending:
        body = ApprovalPublic.of(pending.approval).model_dump(mode="json")
        return JSONResponse(status_code=202, content={"status": "approval_required", "approval": body})


def _audit(request: Request, ctx: ServiceContext, response: JSONResponse, also: list[Alike]) -> None:
    """One audit line per write attempt: who, what, the outcome (status and code), the transaction.

    `also` (the write's stored answer, its idempotency completion) commits with the line: one
    transaction shared with the lines of concurrent writes (audit_trail's group commit), not one of its
    own each. Until it commits the key stays claimed, as when the process stops before answering: a
    retry never resends."""
    caller = getattr(request.state, "caller_obj", None)
    if not isinstance(caller, Caller):
        _store(ctx, also)
        return
    try:
        body = json.loads(bytes(response.body))
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    outcome = str(body.get("status") or response.status_code) if error is None else str(error.get("code"))
    try:
        audit_trail.record(
            ctx.engine,
            actor=caller.actor,
            action=f"write {request.method} {request.url.path}",
            outcome=f"{response.status_code} {outcome}",
            origin=caller.origin,
            tx_hash=body.get("tx_hash") if isinstance(body, dict) else None,
            also=also,
        )
    except Exception:
        # The audit line failed (with its group): the answer is stored on its own still, so a retry
        # replays it instead of finding the key claimed for ever; then the error.
        _store(ctx, also)
        raise


def _store(ctx: ServiceContext, also: list[Alike]) -> None:
    if also:
        with ctx.engine.begin() as conn:
            execute_all(conn, also)


def run_write(
    request: Request,
    ctx: ServiceContext,
    address: str,
    key: str | None,
    body: BaseModel | dict[str, Any] | None,
    action: Callable[[], BaseModel],
    *,
    after: Callable[[TxResult], BaseModel | None] | None = None,
    undo: Callable[[], None] | None = None,
) -> JSONResponse:
    """Run `action` at most once per (caller, Idempotency-Key); replay its first response on retries.

    `undo` removes what `action` kept off chain for a transaction whose outcome was unknown (onboarding's
    pending entry), when a retry finds that the node never had it: the retry then runs `action` anew.

    `after` is what `action` does off chain once its transaction is mined (it gets the TxResult): a
    retry that finds the transaction of an earlier, timed-out attempt mined runs it in its place, and
    answers with what it returns (onboarding's ParticipantCreated), or the TxResult if None.
    """
    also: list[Alike] = []  # the answer to store with the audit line
    response = _run_write(request, ctx, address, key, body, action, after, undo, also)
    _audit(request, ctx, response, also)
    return response


def _run_write(
    request: Request,
    ctx: ServiceContext,
    address: str,
    key: str | None,
    body: BaseModel | dict[str, Any] | None,
    action: Callable[[], BaseModel],
    after: Callable[[TxResult], BaseModel | None] | None,
    undo: Callable[[], None] | None = None,
    also: list[Alike] | None = None,
) -> JSONResponse:
    """The write's response; its answer to store under `key` goes into `also` when given (the caller
    commits it with the audit line), else it is stored here."""
    if key is None:
        try:
            return _answer(action)
        except Exception as error:
            return api_error_response(request, error)
    payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    print_ = idempotency.fingerprint(request.method, request.url.path, payload)
    replay = idempotency.begin(engine=ctx.engine, address=address, key=key, print_=print_)
    if isinstance(replay, idempotency.Replay):
        return _replayed(replay)
    if isinstance(replay, idempotency.Sent):
        looked_up = _look_up(request, ctx, address, key, replay.tx_hash, after)
        if looked_up is not None:
            return looked_up
        # The node never had that transaction: nothing happened, so this retry runs the request.
        if undo is not None:
            undo()
        idempotency.abandon(engine=ctx.engine, address=address, key=key)
        return _run_write(request, ctx, address, key, body, action, after, undo, also)
    with recording_sends() as sent:
        try:
            response = _answer(action)
        except TransactionOutcomeUnknown as error:
            # Sent, receipt missing: it may still be mined, so the key stays claimed by this transaction.
            idempotency.mark_sent(engine=ctx.engine, address=address, key=key, tx_hash=error.tx_hash)
            return outcome_unknown(
                request,
                error.tx_hash,
                f"transaction {error.tx_hash} was sent but its receipt did not arrive in time ({error}); "
                "retry with the same Idempotency-Key to learn its outcome: a retry never sends it again",
            )
        except Exception as error:
            response = api_error_response(request, error)
            if response.status_code >= 500 and sent:
                # A transaction went out (and may be mined) before the failure, e.g. the database
                # failed while waiting for the indexer: releasing the key would let a retry send it
                # again (a split executed twice). Keep it bound to the transaction instead.
                idempotency.mark_sent(engine=ctx.engine, address=address, key=key, tx_hash=sent[-1])
                return outcome_unknown(
                    request,
                    sent[-1],
                    f"transaction {sent[-1]} was sent, then the service failed "
                    f"({response.status_code}: {_json(response)['error']['message']}); retry with the "
                    "same Idempotency-Key to learn its outcome: a retry never sends it again",
                )
            if response.status_code >= 500:
                # Nothing was sent (node or DB down before the transaction): let a retry run it.
                idempotency.abandon(engine=ctx.engine, address=address, key=key)
                return response
    answer = idempotency.completion(
        address=address, key=key, status_code=response.status_code, body=_json(response)
    )
    if also is None:
        _store(ctx, [answer])
    else:
        also.append(answer)
    return response


def _look_up(
    request: Request,
    ctx: ServiceContext,
    address: str,
    key: str,
    tx_hash: str,
    after: Callable[[TxResult], BaseModel | None] | None,
) -> JSONResponse | None:
    """Answer a retry whose first attempt sent `tx_hash` and timed out; nothing is sent again.

    None when the node does not know the transaction at all (neither mined nor pending): it never
    reached the node, or the node dropped it, so it can never be mined and the request may run again.
    """
    try:
        with Session(ctx.engine) as session:
            result = writes.look_up(ctx=ctx, session=session, tx_hash=tx_hash)
            answer = after(result) if result is not None and after is not None else None
            if result is None and not ctx.gateway().transaction_known(tx_hash):
                return None
    except Exception as error:
        response = api_error_response(request, error)
        if response.status_code >= 500:  # chain or DB down: the record still waits for tx_hash
            return response
    else:
        if result is None:
            return outcome_unknown(
                request,
                tx_hash,
                f"transaction {tx_hash} is not mined yet; retry later with the same Idempotency-Key "
                "(nothing was sent again)",
                status=409,
            )
        response = _response(answer or result)
    stored_first = idempotency.resolve(
        engine=ctx.engine, address=address, key=key, status_code=response.status_code, body=_json(response)
    )
    return response if stored_first is None else _replayed(stored_first)


def _replayed(replay: idempotency.Replay) -> JSONResponse:
    return JSONResponse(
        status_code=replay.status_code, content=replay.body, headers={"Idempotent-Replayed": "true"}
    )


def fast_json(payload: Any) -> Response:
    """A JSON response of plain data, skipping FastAPI's response-model pass (the model is still documented).

    List endpoints build their rows from SQL as JSON-ready dicts; serialising them once with the
    standard library is several times cheaper than validating them into models and back.
    """
    return Response(content=json_bytes(payload), media_type="application/json")


def json_bytes(payload: Any) -> bytes:
    """The body `fast_json` sends, for callers that cache it. A top-level JsonTexts value (rows the
    database rendered as JSON, services.sqltext) is written as the array of its texts."""
    rendered = (
        {k: v for k, v in payload.items() if isinstance(v, JsonTexts)} if isinstance(payload, dict) else {}
    )
    if not rendered:
        return json.dumps(payload, separators=(",", ":")).encode()
    # Each array stands in as a one-off marker string, then the marker's JSON is replaced by the array:
    # a random marker cannot be matched by any value of the payload.
    markers = {key: f"{key}:{secrets.token_hex(16)}" for key in rendered}
    text = json.dumps({k: markers.get(k, v) for k, v in payload.items()}, separators=(",", ":"))
    for key, texts in rendered.items():
        text = text.replace(json.dumps(markers[key]), "[" + ",".join(texts) + "]", 1)
    return text.encode()


def _json(response: JSONResponse) -> Any:
    return json.loads(bytes(response.body))
